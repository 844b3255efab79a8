export { createWorker, type CreateWorkerOptions, type SubscriberWorker } from './create-worker.js';
export {
  createWorkerApp,
  type CreateWorkerAppOptions,
  type WorkerApp,
  type WorkerAppDeps,
} from './create-worker-app.js';
export {
  defaultHandlerConcurrency,
  defineHandler,
  type EventsOf,
  type Handler,
  type HandlerContext,
  type HandlerDefinition,
} from './define-handler.js';
export {
  DownstreamError,
  DownstreamRateLimitedError,
  DownstreamRejectedError,
  DownstreamTimeoutError,
  DownstreamUnavailableError,
  NoHandlerError,
  RuntimeError,
  WorkerClosingError,
  WorkerConfigError,
  errorCode,
  isPermanentFailure,
} from './errors.js';
export {
  createHttpClient,
  defaultHttpTimeoutMs,
  parseRetryAfter,
  type HttpClient,
  type HttpClientOptions,
  type PostOptions,
} from './http-client.js';
export { runWorkerApp, type RunWorkerAppOptions } from './run-worker-app.js';
export { workerEnvSchema, type WorkerEnv } from './worker-env.js';
export { handlerDurationBuckets, type JobOutcome, type MetricsRegistry } from './worker-metrics.js';
