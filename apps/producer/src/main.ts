/**
 * Starts the producer: config, logger, Redis, server; then listens.
 *
 * SIGTERM / SIGINT: readiness turns 503 and new /v1 requests are answered
 * 503 (Retry-After: 1) so traffic moves elsewhere; `app.close()` waits for
 * in-flight requests; the publisher and Redis close; exit 0. All of it is
 * bounded by SHUTDOWN_TIMEOUT_MS (then exit 1). A second signal exits 1 at
 * once.
 */
import {
  createLogger,
  createMetricsRegistry,
  loadEnvOrExit,
  onShutdownSignals,
  startTracing,
} from '@switchyard/observability';
import { createRedisConnection, useRedisTlsCa } from '@switchyard/client';
import { buildServer } from './build-server.js';
import { producerEnvSchema } from './env.js';

const config = loadEnvOrExit(producerEnvSchema);
// Before any connection: every rediss:// one of this process trusts it.
useRedisTlsCa(config.REDIS_TLS_CA_FILE);
const logger = createLogger({ name: 'producer', level: config.LOG_LEVEL });
// Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; on, it must run before the server is built.
const stopTracing = await startTracing({ serviceName: 'producer', env: process.env, logger });
const registry = createMetricsRegistry({ service: 'producer' });
const redis = createRedisConnection({
  url: config.REDIS_URL,
  profile: 'fail-fast',
  commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
  connectionName: 'sy-producer',
  logger,
});
let draining = false;
const app = buildServer({ config, redis, logger, registry, draining: () => draining });

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  draining = true;
  logger.info({ signal }, 'shutting down: draining requests');
  // Closes the server's publisher too (an onClose hook).
  await app.close();
  // quit() needs a live connection; a dead one is simply dropped.
  await redis.quit().catch(() => redis.disconnect());
  // Exports the spans still buffered (bounded: 2 s).
  await stopTracing();
  logger.info('stopped');
}

onShutdownSignals({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, shutdown });

try {
  const url = await app.listen({ host: config.HOST, port: config.PRODUCER_PORT });
  logger.info({ url, queuePrefix: config.QUEUE_PREFIX }, 'producer listening');
} catch (error) {
  logger.fatal({ err: error }, 'could not start listening');
  redis.disconnect();
  process.exit(1);
}
