/**
 * A worker app without the process around it: health server, downstream
 * clients and the subscriber's worker, built from parsed config and started
 * or stopped on request. `runWorkerApp` adds signals and exit codes; tests
 * use this directly.
 */
import { deadLetterQueueNameOf, queueNameOf, type SubscriberName } from '@switchyard/events';
import { startHealthServer, type HealthServer, type Logger } from '@switchyard/observability';
import {
  createPublisher,
  createRedisConnection,
  registerQueueMetrics,
  type Publisher,
  type RedisConnection,
} from '@switchyard/client';
import { createWorker, type SubscriberWorker } from './create-worker.js';
import type { Handler } from './define-handler.js';
import type { Schedule } from './define-schedule.js';
import { WorkerClosingError, WorkerConfigError } from './errors.js';
import { createHttpClient, type HttpClient } from './http-client.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import type { TenantLimits } from './tenant-limiter.js';
import type { WorkerEnv } from './worker-env.js';
import type { MetricsRegistry } from './worker-metrics.js';

/** What a worker app hands its handler factory. */
export interface WorkerAppDeps {
  /**
   * Client for SANDBOX_URL, behind the app's circuit breaker for it: while
   * open a call throws CircuitOpenError and the worker holds the queue.
   */
  sandbox: HttpClient;
  env: WorkerEnv;
}

export interface CreateWorkerAppOptions {
  /** Service name on log lines and metrics, e.g. 'worker-notifications'. */
  name: string;
  /** The subscriber this app consumes; every handler must belong to it. */
  subscriber: SubscriberName;
  /** Builds the handlers from the app's downstream clients, so tests can hand in their own. */
  handlers: (deps: WorkerAppDeps) => readonly Handler[];
  /**
   * Builds the subscriber's schedules (defineSchedule), run by this app's
   * worker; their ctx.publisher publishes straight to REDIS_URL under
   * QUEUE_PREFIX. Default: none.
   */
  schedules?: (deps: WorkerAppDeps) => readonly Schedule[];
  env: WorkerEnv;
  logger: Logger;
  registry: MetricsRegistry;
  /** fetch for the downstream clients. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

export interface WorkerApp {
  /**
   * Starts the health server, then the worker; resolves once the worker is
   * connected. A stop() meanwhile tears down what was built, and start()
   * rejects with WorkerClosingError.
   */
  start(): Promise<void>;
  /**
   * Flips readiness off, closes the worker (in-flight jobs get up to
   * SHUTDOWN_TIMEOUT_MS), then the health server. Idempotent.
   */
  stop(): Promise<void>;
  /** Ready: started, not stopping, worker running on a ready Redis connection. */
  isReady(): boolean;
  /** The health server's origin; '' before start(). */
  readonly healthUrl: string;
}

/** createWorker's `tenantLimits` from TENANT_*: absent (gate off) unless one of them is set. */
function tenantLimitsOf(env: WorkerEnv): { tenantLimits?: TenantLimits } {
  const limits: TenantLimits = {
    ...(env.TENANT_RATE_PER_SECOND === undefined
      ? {}
      : { ratePerSecond: env.TENANT_RATE_PER_SECOND }),
    ...(env.TENANT_BURST === undefined ? {} : { burst: env.TENANT_BURST }),
    ...(env.TENANT_CONCURRENCY === undefined ? {} : { concurrency: env.TENANT_CONCURRENCY }),
  };
  return Object.keys(limits).length === 0 ? {} : { tenantLimits: limits };
}

/** RATE_LIMIT_DURATION_MS when unset. */
export const defaultRateLimitDurationMs = 1_000;

/** The BREAKER_* variables that are set; the breaker's own defaults fill the rest. */
function breakerOptionsOf(env: WorkerEnv) {
  return {
    ...(env.BREAKER_ERROR_PERCENT === undefined
      ? {}
      : { errorThresholdPercent: env.BREAKER_ERROR_PERCENT }),
    ...(env.BREAKER_VOLUME_THRESHOLD === undefined
      ? {}
      : { volumeThreshold: env.BREAKER_VOLUME_THRESHOLD }),
    ...(env.BREAKER_WINDOW_MS === undefined ? {} : { windowMs: env.BREAKER_WINDOW_MS }),
    ...(env.BREAKER_RESET_MS === undefined ? {} : { resetMs: env.BREAKER_RESET_MS }),
  };
}

export function createWorkerApp(options: CreateWorkerAppOptions): WorkerApp {
  const { env, logger } = options;
  // One breaker per downstream client per process (circuit-breaker.ts).
  const sandbox = createCircuitBreaker({
    client: createHttpClient({
      baseUrl: env.SANDBOX_URL,
      logger,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }),
    downstream: 'sandbox',
    logger,
    registry: options.registry,
    ...breakerOptionsOf(env),
  });
  let publisher: Publisher | undefined;
  let worker: SubscriberWorker;
  let unregisterQueueMetrics: () => void;
  let metricsConnection: RedisConnection | undefined;
  try {
    const handlers = options.handlers({ sandbox, env });
    const strangers = handlers.filter((handler) => handler.subscriber !== options.subscriber);
    if (strangers.length > 0) {
      throw new WorkerConfigError(
        `${options.name} consumes "${options.subscriber}" but got handlers for ${strangers.map((h) => `"${h.subscriber}"`).join(', ')}`,
      );
    }
    const schedules = options.schedules?.({ sandbox, env }) ?? [];
    // Opened only for schedules; closed after the worker on stop().
    publisher =
      schedules.length > 0
        ? createPublisher({ redis: env.REDIS_URL, prefix: env.QUEUE_PREFIX })
        : undefined;
    worker = createWorker({
      handlers,
      schedules,
      ...(publisher === undefined ? {} : { publisher }),
      connection: env.REDIS_URL,
      prefix: env.QUEUE_PREFIX,
      workerId: env.WORKER_ID,
      logger,
      registry: options.registry,
      concurrency: env.WORKER_CONCURRENCY,
      allowEvictionPolicy: env.ALLOW_EVICTION_POLICY,
      lockDurationMs: env.LOCK_DURATION_MS,
      stalledIntervalMs: env.STALLED_INTERVAL_MS,
      maxStalledCount: env.MAX_STALLED_COUNT,
      startupTimeoutMs: env.STARTUP_TIMEOUT_MS,
      ...(env.RATE_LIMIT_MAX === undefined
        ? {}
        : {
            rateLimit: {
              max: env.RATE_LIMIT_MAX,
              durationMs: env.RATE_LIMIT_DURATION_MS ?? defaultRateLimitDurationMs,
            },
          }),
      ...(env.GLOBAL_CONCURRENCY === undefined
        ? {}
        : { globalConcurrency: env.GLOBAL_CONCURRENCY }),
      ...tenantLimitsOf(env),
    });
    // Its queue's and DLQ's sy_queue_* series on /metrics, read at scrape time
    // (queue-metrics.ts) on one connection kept for it: a URL here would cost a
    // connect (and AUTH, TLS) on every scrape.
    metricsConnection = createRedisConnection({
      url: env.REDIS_URL,
      profile: 'fail-fast',
      connectionName: 'sy-queue-metrics',
    });
    unregisterQueueMetrics = registerQueueMetrics(options.registry, {
      connection: metricsConnection,
      prefix: env.QUEUE_PREFIX,
      queues: [queueNameOf(options.subscriber), deadLetterQueueNameOf(options.subscriber)],
    });
  } catch (error) {
    // A refused configuration (or a throwing factory) leaves no breaker
    // timer and no schedules' publisher connected (and reconnecting
    // forever); the close needs no waiting for.
    sandbox.close();
    metricsConnection?.disconnect();
    void publisher?.close().catch(() => undefined);
    throw error;
  }
  let health: HealthServer | undefined;
  let stopping: Promise<void> | undefined;

  const isReady = () => stopping === undefined && worker.isReady();

  return {
    isReady,
    get healthUrl() {
      return health?.url ?? '';
    },

    async start() {
      if (stopping) throw new WorkerClosingError('worker app stopped before start');
      const server = await startHealthServer({
        host: env.HOST,
        port: env.HEALTH_PORT,
        registry: options.registry,
        isReady,
        logger,
      });
      // stop() may have run while the server started, before it existed:
      // this server is ours to close.
      if (stopping) {
        await server.close();
        throw new WorkerClosingError('worker app stopped during start');
      }
      health = server;
      logger.info({ healthUrl: server.url }, 'health server listening');
      // A stop() during worker.start() closes the worker; start() then rejects.
      await worker.start();
    },

    stop() {
      stopping ??= (async () => {
        try {
          await worker.close(env.SHUTDOWN_TIMEOUT_MS);
        } finally {
          // Whatever the worker's close did, the breaker's timers and the
          // queue-metrics source go.
          sandbox.close();
          unregisterQueueMetrics();
          metricsConnection?.disconnect();
        }
        await publisher?.close();
        await health?.close();
      })();
      return stopping;
    },
  };
}
