/**
 * Starts the dashboard: config, logger, Redis, server; then listens.
 *
 * Refuses to start (exit 1, naming the variables) without a user:
 * DASHBOARD_PASSWORD or DASHBOARD_USERS. SIGTERM / SIGINT: readiness turns
 * 503, `app.close()` waits for in-flight requests and closes the board's
 * queues, Redis closes, exit 0; bounded by SHUTDOWN_TIMEOUT_MS (then exit 1).
 * A second signal exits 1 at once.
 */
import { createLogger, exitAfterFlush, loadEnvOrExit } from '@switchyard/observability';
import { createRedisConnection } from '@switchyard/client';
import { buildServer } from './build-server.js';
import { dashboardEnvSchema } from './env.js';

const config = loadEnvOrExit(dashboardEnvSchema);
const logger = createLogger({ name: 'dashboard', level: config.LOG_LEVEL });
const redis = createRedisConnection({
  url: config.REDIS_URL,
  profile: 'fail-fast',
  commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
  connectionName: 'sy-dashboard',
  logger,
});
let draining = false;
const app = buildServer({ config, redis, logger, draining: () => draining });

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  draining = true;
  logger.info({ signal }, 'shutting down: draining requests');
  await app.close();
  // quit() needs a live connection; a dead one is simply dropped.
  await redis.quit().catch(() => redis.disconnect());
  logger.info('stopped');
}

let stopping = false;
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting without draining');
    process.exit(1);
  }
  stopping = true;
  setTimeout(() => {
    logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown did not finish in time');
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS).unref();
  shutdown(signal).then(
    () => exitAfterFlush(logger, 0),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      exitAfterFlush(logger, 1);
    },
  );
}
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

try {
  const url = await app.listen({ host: config.HOST, port: config.DASHBOARD_PORT });
  const users = config.DASHBOARD_USERS.map((user) => `${user.name} (${user.role})`);
  if (config.DASHBOARD_PASSWORD !== undefined) users.push(`${config.DASHBOARD_USER} (admin)`);
  logger.info({ url, queuePrefix: config.QUEUE_PREFIX, users }, 'dashboard listening');
} catch (error) {
  logger.fatal({ err: error }, 'could not start listening');
  redis.disconnect();
  process.exit(1);
}
