export { backoffDelay, defaultBackoff, type BackoffOptions } from './backoff.js';
export { createWorker, type CreateWorkerOptions, type SubscriberWorker } from './create-worker.js';
export {
  createWorkerApp,
  type CreateWorkerAppOptions,
  type WorkerApp,
  type WorkerAppDeps,
} from './create-worker-app.js';
export {
  baseJobId,
  createDeadLetterRecord,
  deadLetterEventFields,
  deadLetterJobId,
  deadLetterJobOptions,
  deadLetterReasons,
  maxDeadLetterErrors,
  maxDeadLetterMessageLength,
  maxDeadLetterStackLength,
  replayJobId,
  replaysOf,
  type DeadLetterAttemptError,
  type DeadLetterReason,
  type DeadLetterRecord,
  type DeadLetterRecordInput,
} from './dead-letter-record.js';
export {
  defaultHandlerAttempts,
  defaultHandlerConcurrency,
  defaultHandlerTimeoutMs,
  defaultRetryBudgetMs,
  defineHandler,
  type DefinedHandler,
  type EventsOf,
  type Handler,
  type HandlerContext,
  type HandlerDefinition,
  type HandlerOptions,
} from './define-handler.js';
export { defaultEffectTtlMs, maxEffectResultLength } from './effect-once.js';
export {
  AlreadyDeadLetteredError,
  DeadLetterRecordInvalidError,
  DeadLetterUsageError,
  DownstreamError,
  DownstreamRateLimitedError,
  DownstreamRejectedError,
  DownstreamTimeoutError,
  DownstreamUnavailableError,
  EvictionPolicyError,
  NoHandlerError,
  PermanentError,
  RateLimitedError,
  RuntimeError,
  StalledJobError,
  TimeoutError,
  TransientError,
  WorkerClosingError,
  WorkerConfigError,
  classifyFailure,
  errorCode,
  isPermanentFailure,
  type FailureKind,
} from './errors.js';
export { checkEvictionPolicy, readEvictionPolicy } from './eviction-policy.js';
export {
  createHttpClient,
  defaultHttpTimeoutMs,
  maxResponseBytes,
  parseRetryAfter,
  type HttpClient,
  type HttpClientOptions,
  type PostOptions,
} from './http-client.js';
export { runWorkerApp, shutdownHangGraceMs, type RunWorkerAppOptions } from './run-worker-app.js';
export { workerEnvSchema, type WorkerEnv } from './worker-env.js';
export { handlerDurationBuckets, type JobOutcome, type MetricsRegistry } from './worker-metrics.js';
export {
  createDeadLetters,
  deadLetterRecordProblem,
  defaultDeadLetterListLimit,
  defaultDeadLetterPageSize,
  defaultReplayRatePerSecond,
  maxDeadLetterListLimit,
  maxReplayRatePerSecond,
  replayClaimTtlMs,
  type CreateDeadLettersOptions,
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterPage,
  type DeadLetters,
  type DeadLetterSelection,
  type FailedReplay,
  type ListDeadLettersOptions,
  type PurgeDeadLettersOptions,
  type PurgeResult,
  type ReplayDeadLettersOptions,
  type ReplayResult,
} from './dead-letter-replay.js';
