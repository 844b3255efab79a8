/**
 * The whole process of a worker app, so each app's main.ts is a few lines:
 * config from the environment (a bad value prints the variable and exits 1),
 * logger, metrics, health server, worker, and signal handling.
 *
 * Exit codes: 0 after a clean shutdown on SIGTERM/SIGINT; 1 on bad config, a
 * failed start (an evicting Redis, unreachable Redis, taken port) or a
 * shutdown that hangs past SHUTDOWN_TIMEOUT_MS + shutdownHangGraceMs; 128 +
 * signal number when a second signal cuts a shutdown short.
 *
 * Shutdown order: readiness flips to 503 at once, the worker takes no new
 * jobs, in-flight jobs get SHUTDOWN_TIMEOUT_MS (default 10 s, well under
 * Kubernetes' 30 s grace), then are aborted and handed back to the queue
 * without counting an attempt, connections close (QUIT, dropped when it does
 * not answer), the health server closes, exit 0.
 */
import { constants } from 'node:os';
import { useRedisTlsCa } from '@switchyard/client';
import type { SubscriberName } from '@switchyard/events';
import {
  createLogger,
  createMetricsRegistry,
  exitAfterFlush,
  loadEnvOrExit,
  startTracing,
} from '@switchyard/observability';
import { createWorkerApp, type WorkerApp, type WorkerAppDeps } from './create-worker-app.js';
import type { Handler } from './define-handler.js';
import type { Schedule } from './define-schedule.js';
import { workerEnvSchema } from './worker-env.js';

export interface RunWorkerAppOptions {
  /** Service name, e.g. 'worker-notifications': logs, metrics, default WORKER_ID. */
  name: string;
  subscriber: SubscriberName;
  handlers: (deps: WorkerAppDeps) => readonly Handler[];
  /** Builds the subscriber's schedules (see createWorkerApp). Default: none. */
  schedules?: (deps: WorkerAppDeps) => readonly Schedule[];
  /** The environment to read config from. Default: `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Time a shutdown may take beyond SHUTDOWN_TIMEOUT_MS (hand-back, closing
 * connections and the health server) before the process gives up and exits 1.
 */
export const shutdownHangGraceMs = 5_000;

export async function runWorkerApp(options: RunWorkerAppOptions): Promise<WorkerApp> {
  const env = loadEnvOrExit(workerEnvSchema(options.name), options.env ?? process.env);
  // Before any connection: every rediss:// one of this process trusts it.
  useRedisTlsCa(env.REDIS_TLS_CA_FILE);
  const logger = createLogger({ name: options.name, level: env.LOG_LEVEL });
  // Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; on, it must run before the worker is built.
  const stopTracing = await startTracing({
    serviceName: options.name,
    env: options.env ?? process.env,
    logger,
  });
  const registry = createMetricsRegistry({ service: options.name });
  const app = createWorkerApp({
    name: options.name,
    subscriber: options.subscriber,
    handlers: options.handlers,
    ...(options.schedules === undefined ? {} : { schedules: options.schedules }),
    env,
    logger,
    registry,
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting without waiting');
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    stopping = true;
    logger.info({ signal, timeoutMs: env.SHUTDOWN_TIMEOUT_MS }, 'shutting down');
    // Unref'd: it never keeps a finished process alive, only ends a hung one.
    setTimeout(() => {
      logger.fatal(
        { timeoutMs: env.SHUTDOWN_TIMEOUT_MS + shutdownHangGraceMs },
        'shutdown hung past its deadline; exiting',
      );
      process.exit(1);
    }, env.SHUTDOWN_TIMEOUT_MS + shutdownHangGraceMs).unref();
    // stopTracing exports the spans still buffered (bounded: 2 s, within shutdownHangGraceMs).
    app
      .stop()
      .then(stopTracing)
      .then(
        () => {
          logger.info('stopped');
          exitAfterFlush(logger, 0);
        },
        (error: unknown) => {
          logger.fatal({ err: error }, 'shutdown failed');
          exitAfterFlush(logger, 1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await app.start();
  } catch (error) {
    // A signal during start closes the worker under it; that shutdown owns the exit.
    if (stopping) return app;
    logger.fatal({ err: error }, 'start failed');
    process.exit(1);
  }
  logger.info({ subscriber: options.subscriber, workerId: env.WORKER_ID }, 'ready');
  return app;
}
