export { currentCorrelation, withCorrelation, type CorrelationFields } from './correlation.js';
export {
  createLogger,
  exitAfterFlush,
  exitFlushTimeoutMs,
  logLevels,
  redactPaths,
  scrubLogLine,
  type CreateLoggerOptions,
  type Logger,
} from './create-logger.js';
export { startHealthServer, type HealthServer, type HealthServerOptions } from './health-server.js';
export { createMetricsRegistry, type MetricsRegistryOptions } from './metrics-registry.js';
export { ConfigError, envFields, loadEnvOrExit, parseEnv } from './parse-env.js';
export {
  activeTraceIds,
  isTracingEnabled,
  startClientSpan,
  startServerSpan,
  startTracing,
  tracesEndpointOf,
  tracingEnvSchema,
  type ClientSpan,
  type ServerRequestInfo,
  type ServerSpan,
  type StartTracingOptions,
  type StopTracing,
  type TraceIds,
} from './tracing.js';
export { onShutdownSignals, type ShutdownSignalsOptions } from './shutdown-signals.js';
