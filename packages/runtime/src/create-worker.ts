/**
 * One subscriber's worker: a BullMQ Worker on the subscriber's queue that
 * re-validates each job's envelope and dispatches it to the handler of its
 * event type.
 *
 * Job contract (set by the producer/client): queue `queueNameOf(subscriber)`
 * under `prefix`, job name = event type, jobId = event id, job.data = the
 * envelope, attempts and backoff in the job's options.
 *
 * Guarantees:
 * - A job whose data is not a valid envelope, whose type or version is not in
 *   the catalogue, or whose type has no handler here fails at once with
 *   BullMQ's UnrecoverableError: no attempt is retried, no handler runs.
 * - A handler's permanent error (isPermanentFailure) fails the job at once;
 *   any other error fails the attempt, and BullMQ retries while attempts
 *   remain.
 * - Every step logs one line inside withCorrelation, and every finished
 *   attempt is counted in `sy_jobs_total`.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import {
  EventError,
  parseEnvelope,
  queueNameOf,
  subscribers,
  type Envelope,
  type EventType,
  type SubscriberName,
} from '@switchyard/events';
import { withCorrelation, type CorrelationFields, type Logger } from '@switchyard/observability';
import { createConcurrencyLimit, type ConcurrencyLimit } from './concurrency-limit.js';
import type { Handler, HandlerContext } from './define-handler.js';
import {
  NoHandlerError,
  WorkerClosingError,
  WorkerConfigError,
  errorCode,
  isPermanentFailure,
} from './errors.js';
import { createWorkerMetrics, type MetricsRegistry } from './worker-metrics.js';

export interface CreateWorkerOptions {
  /** Every handler of ONE subscriber, at most one per event type. */
  handlers: readonly Handler[];
  /**
   * Redis: a `redis://` URL or ioredis options, from which the worker opens
   * (and on close, closes) its own connection; or an ioredis instance the
   * caller owns and closes, created with `maxRetriesPerRequest: null` as
   * BullMQ workers require.
   */
  connection: string | RedisOptions | Redis;
  /** BullMQ key prefix; must match the producer's. Default: 'sy'. */
  prefix?: string;
  /** Names this process on jobs it processes (BullMQ `processedBy`) and in logs. */
  workerId: string;
  /** Parent logger; pass one from createLogger so lines carry the correlation fields. */
  logger: Logger;
  /** Registry the worker's series are registered on. */
  registry: MetricsRegistry;
  /**
   * Jobs this process runs at once across all its handlers (BullMQ
   * concurrency); a handler's own `concurrency` may cap its type lower.
   * Default: the largest handler concurrency.
   */
  concurrency?: number;
  /** Monotonic clock in ms, to time handlers. Default: `performance.now`. */
  clock?: () => number;
}

export interface SubscriberWorker {
  /** Connects and starts taking jobs; resolves once the worker's Redis connections are ready. */
  start(): Promise<void>;
  /**
   * Stops taking jobs and waits up to `deadlineMs` for in-flight handlers.
   * Past the deadline it aborts their ctx.signal and gives them
   * `abortGraceMs` (1 s) to unwind; an aborted handler's attempt fails like
   * any other and is retried. Handlers still running after that are left
   * behind: the connections are dropped, and BullMQ's stalled check
   * redelivers their jobs once the locks expire. Idempotent; resolves, never
   * rejects.
   */
  close(deadlineMs: number): Promise<void>;
  /** True while started, not closing, and its Redis connection is ready. */
  isReady(): boolean;
}

/**
 * Completed jobs kept for inspection (seconds / count). Failed jobs are kept:
 * they are the only record of a failure until the dead-letter queue exists.
 */
const keepCompleted = { age: 24 * 3600, count: 10_000 };

/** How long close() waits for aborted handlers to unwind before it drops the connections. */
const abortGraceMs = 1_000;

export function createWorker(options: CreateWorkerOptions): SubscriberWorker {
  const subscriber = checkHandlers(options.handlers);
  const handlers = new Map<string, Handler>(
    options.handlers.map((handler) => [handler.event, handler]),
  );
  const concurrency =
    options.concurrency ?? Math.max(...options.handlers.map((handler) => handler.concurrency));
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new WorkerConfigError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  // A handler needs its own limit only when it may run fewer jobs than the worker does.
  const limits = new Map<string, ConcurrencyLimit>();
  for (const handler of options.handlers) {
    if (handler.concurrency < concurrency)
      limits.set(handler.event, createConcurrencyLimit(handler.concurrency));
  }
  const clock = options.clock ?? (() => performance.now());
  const logger = options.logger.child({ workerId: options.workerId });
  const metrics = createWorkerMetrics(options.registry);
  const shutdown = new AbortController();

  let connection: Redis | undefined;
  let ownsConnection = false;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  const processJob = async (job: Job, _token?: string, jobSignal?: AbortSignal): Promise<void> => {
    const attempt = job.attemptsMade + 1;
    await withCorrelation(correlationOf(job, subscriber, attempt), async () => {
      logger.info({ jobId: job.id, jobName: job.name }, 'job received');
      const envelope = parseOrReject(job);
      const handler = handlers.get(envelope.type);
      if (!handler) {
        throw reject(
          new NoHandlerError(`subscriber "${subscriber}" has no handler for "${envelope.type}"`),
        );
      }
      const ctx: HandlerContext = {
        logger,
        signal: jobSignal ? AbortSignal.any([shutdown.signal, jobSignal]) : shutdown.signal,
        idempotencyKey: envelope.idempotencyKey,
        attempt,
        eventId: envelope.id,
        subscriber,
        workerId: options.workerId,
      };
      const run = () => dispatch(handler, envelope, ctx);
      const limit = limits.get(handler.event);
      const started = clock();
      try {
        await (limit ? limit.run(run) : run());
      } catch (error) {
        metrics.observeHandlerDuration(subscriber, (clock() - started) / 1000);
        const permanent = isPermanentFailure(error);
        const attempts = job.opts.attempts ?? 1;
        const willRetry = !permanent && attempt < attempts;
        metrics.countJob(subscriber, permanent ? 'unrecoverable' : 'failed');
        logger[willRetry ? 'warn' : 'error'](
          { err: error, reason: errorCode(error), permanent, willRetry, attempts },
          'job failed',
        );
        if (permanent && !(error instanceof UnrecoverableError)) throw unrecoverable(error);
        throw error;
      }
      const durationMs = clock() - started;
      metrics.observeHandlerDuration(subscriber, durationMs / 1000);
      metrics.countJob(subscriber, 'succeeded');
      logger.info({ durationMs: Math.round(durationMs) }, 'job succeeded');
    });
  };

  /** Logs, counts and returns the UnrecoverableError that ends a job the handler must not see. */
  const reject = (error: Error): UnrecoverableError => {
    const code = errorCode(error);
    const details = error instanceof EventError ? error.details : undefined;
    metrics.countJob(subscriber, 'invalid');
    logger.error({ reason: code, details, message: error.message }, 'job rejected');
    return unrecoverable(error);
  };

  const parseOrReject = (job: Job): Envelope => {
    try {
      return parseEnvelope(job.data);
    } catch (error) {
      if (error instanceof EventError) throw reject(error);
      throw error;
    }
  };

  /** Closes the connection if the worker opened it; `force` drops it without waiting for replies. */
  const closeConnection = async (force = false): Promise<void> => {
    if (!connection || !ownsConnection) return;
    if (force) {
      connection.disconnect();
      return;
    }
    try {
      await connection.quit();
    } catch {
      // Already closed or unreachable: drop it without waiting.
      connection.disconnect();
    }
  };

  return {
    async start() {
      if (worker) throw new WorkerConfigError('start() was already called');
      ({ connection, ownsConnection } = openConnection(options.connection));
      let outage = false;
      connection.on('error', (error: Error) => {
        // One line per outage, not one per reconnect attempt.
        if (outage) return;
        outage = true;
        logger.warn({ err: error }, 'redis connection error; reconnecting');
      });
      connection.on('ready', () => {
        if (outage) logger.info('redis connection ready again');
        outage = false;
      });
      const unhandled = subscribers[subscriber].events.filter((type) => !handlers.has(type));
      if (unhandled.length > 0) {
        logger.warn({ unhandled }, 'routed event types without a handler will be rejected');
      }
      worker = new Worker(queueNameOf(subscriber), processJob, {
        connection,
        prefix: options.prefix ?? 'sy',
        concurrency,
        name: options.workerId,
        autorun: false,
        removeOnComplete: keepCompleted,
      });
      worker.on('error', (error) => {
        logger.error({ err: error }, 'worker error');
      });
      running = worker.run().catch((error: unknown) => {
        logger.error({ err: error }, 'worker stopped with an error');
      });
      await worker.waitUntilReady();
      logger.info(
        { queue: queueNameOf(subscriber), concurrency, prefix: options.prefix ?? 'sy' },
        'worker started',
      );
    },

    close(deadlineMs) {
      closing ??= (async () => {
        if (!worker) {
          await closeConnection();
          return;
        }
        const current = worker;
        logger.info({ deadlineMs }, 'worker closing');
        const graceful = current.close().then(
          () => true,
          (error: unknown) => {
            logger.error({ err: error }, 'worker close failed');
            return true;
          },
        );
        let closed = await settlesWithin(graceful, deadlineMs);
        if (!closed) {
          logger.warn({ deadlineMs }, 'in-flight jobs outlived the close deadline; aborting them');
          shutdown.abort(
            new WorkerClosingError(`worker closing: ${deadlineMs} ms deadline passed`),
          );
          closed = await settlesWithin(graceful, abortGraceMs);
        }
        if (closed) {
          await running;
        } else {
          // Handlers that ignore ctx.signal: drop the connections and stop
          // waiting for them. BullMQ's own close finishes whenever they do.
          logger.error({ abortGraceMs }, 'handlers ignored the abort; force-closing');
          await current
            .getBackend()
            .disconnectBlocking(false)
            .catch((error: unknown) => {
              logger.warn({ err: error }, 'blocking connection disconnect failed');
            });
        }
        await closeConnection(!closed);
        logger.info({ forced: !closed }, 'worker closed');
      })();
      return closing;
    },

    isReady() {
      return (
        worker !== undefined &&
        closing === undefined &&
        worker.isRunning() &&
        connection?.status === 'ready'
      );
    },
  };
}

/** The subscriber every handler belongs to; throws WorkerConfigError when the list is not one subscriber's. */
function checkHandlers(handlers: readonly Handler[]): SubscriberName {
  const first = handlers[0];
  if (!first) throw new WorkerConfigError('a worker needs at least one handler');
  const seen = new Set<string>();
  for (const handler of handlers) {
    if (handler.subscriber !== first.subscriber) {
      throw new WorkerConfigError(
        `one worker serves one subscriber; got handlers for "${first.subscriber}" and "${handler.subscriber}"`,
      );
    }
    if (seen.has(handler.event)) {
      throw new WorkerConfigError(`two handlers for "${handler.subscriber}"/"${handler.event}"`);
    }
    seen.add(handler.event);
  }
  return first.subscriber;
}

function openConnection(connection: CreateWorkerOptions['connection']): {
  connection: Redis;
  ownsConnection: boolean;
} {
  if (connection instanceof Redis) {
    if (connection.options.maxRetriesPerRequest !== null) {
      throw new WorkerConfigError(
        "a worker's ioredis connection needs `maxRetriesPerRequest: null`",
      );
    }
    return { connection, ownsConnection: false };
  }
  // Commands wait through a Redis outage instead of failing after N retries:
  // BullMQ's blocking and lock-renewal calls must survive a reconnect.
  const own =
    typeof connection === 'string'
      ? new Redis(connection, { maxRetriesPerRequest: null })
      : new Redis({ ...connection, maxRetriesPerRequest: null });
  return { connection: own, ownsConnection: true };
}

/**
 * Correlation fields for a job's log lines, read defensively: job.data has
 * not been validated yet, so only short strings are taken from it.
 */
function correlationOf(job: Job, subscriber: SubscriberName, attempt: number): CorrelationFields {
  const data: unknown = job.data;
  const field = (name: string): string | undefined => {
    if (typeof data !== 'object' || data === null) return undefined;
    const value: unknown = (data as Record<string, unknown>)[name];
    return typeof value === 'string' && value.length <= 200 ? value : undefined;
  };
  const fields: CorrelationFields = { subscriber, attempt };
  const eventId = field('id') ?? job.id;
  const eventType = field('type') ?? job.name;
  const correlationId = field('correlationId');
  const tenantId = field('tenantId');
  if (eventId !== undefined) fields.eventId = eventId;
  if (eventType.length <= 200) fields.eventType = eventType;
  if (correlationId !== undefined) fields.correlationId = correlationId;
  if (tenantId !== undefined) fields.tenantId = tenantId;
  return fields;
}

/** An UnrecoverableError that keeps the original's code in its message and its stack for the job record. */
function unrecoverable(error: unknown): UnrecoverableError {
  const wrapped = new UnrecoverableError(
    error instanceof Error ? `${errorCode(error)}: ${error.message}` : String(error),
  );
  if (error instanceof Error && error.stack) wrapped.stack = error.stack;
  wrapped.cause = error;
  return wrapped;
}

/** Calls the handler; the envelope's type matched the handler's event, so the cast is sound. */
function dispatch(handler: Handler, envelope: Envelope, ctx: HandlerContext): Promise<void> {
  return (handler.handle as (event: Envelope<EventType>, ctx: HandlerContext) => Promise<void>)(
    envelope,
    ctx,
  );
}

/** Whether `promise` settled within `ms`; the timer is cleared either way. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
