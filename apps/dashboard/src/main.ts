/**
 * Starts the dashboard: config, logger, Redis, server; then listens.
 *
 * Refuses to start (exit 1, naming the variables) without a user:
 * DASHBOARD_PASSWORD or DASHBOARD_USERS. SIGTERM / SIGINT: readiness turns
 * 503, `app.close()` waits for in-flight requests and closes the board's
 * queues, Redis closes, exit 0; bounded by SHUTDOWN_TIMEOUT_MS (then exit 1).
 * A second signal exits 1 at once.
 */
import { createLogger, loadEnvOrExit, onShutdownSignals } from '@switchyard/observability';
import { createRedisConnection, useRedisTlsCa } from '@switchyard/client';
import { buildServer } from './build-server.js';
import { dashboardEnvSchema } from './env.js';

const config = loadEnvOrExit(dashboardEnvSchema);
// Before any connection: every rediss:// one of this process trusts it.
useRedisTlsCa(config.REDIS_TLS_CA_FILE);
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

onShutdownSignals({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, shutdown });

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
