/**
 * One subscriber's worker: a BullMQ Worker on the subscriber's queue that
 * re-validates each job's envelope, upcasts it to its type's newest version
 * and dispatches it to the handler of its event type, under that handler's
 * policy.
 *
 * Job contract (set by the producer/client, `deliveryJobOptions`): queue
 * `queueNameOf(subscriber)` under `prefix`, job name = event type, jobId =
 * event id (a replay: `<eventId>-r<n>`), job.data = the envelope, attempts =
 * maxHandlerAttempts (a ceiling) and backoff type `switchyard`, which this
 * worker implements (`settings.backoffStrategy`). Retention of finished
 * jobs is the worker's (`deliveryRetention`) unless a job carries its own.
 *
 * Jobs added by other means keep working, with the job's own options
 * authoritative for the attempt ceiling:
 * - backoff of ANY custom type (not only `switchyard`): our capped,
 *   jittered backoffDelay(handler.backoff, n);
 * - no backoff at all: treated as `switchyard` (the worker sets it on the
 *   job in memory before BullMQ's moveToFailed reads it), so a retry waits
 *   the capped delay instead of BullMQ's immediate retry (a hot loop);
 * - BullMQ's built-in types ('fixed', 'exponential') keep BullMQ's meaning:
 *   its delay (uncapped for 'exponential'); the runtime still decides
 *   whether to retry (attempt limit, retry budget judged on our delay).
 *
 * Guarantees:
 * - The runtime owns the attempt limit: min(job.opts.attempts ?? 1,
 *   handler.attempts). A job that fails for good (permanent error, invalid
 *   envelope, unknown type, no handler, last attempt, retry budget spent,
 *   stalled more than maxStalledCount times) gets its dead-letter record
 *   first and is then failed with BullMQ's UnrecoverableError (see
 *   dead-letter-queue.ts for the kill windows). Record attempt numbers are
 *   attemptsMade + 1 (hand-backs and rate-limit bounces are not attempts).
 * - Unexpected errors (a Redis error on the DLQ or attempt-error log, a
 *   handler's isPermanent throwing, ...) do not bypass this: on the last
 *   attempt the job is still dead-lettered (best effort), otherwise retried.
 * - A dead-letter record is written only while this worker holds the job's
 *   lock (extended just before the write); a lock renewal failure aborts the
 *   job's ctx.signal (LockLostError) and writes nothing: BullMQ may already
 *   have handed the job to another worker.
 * - A transient failure is retried after backoffDelay(handler.backoff, n).
 * - A rate-limited failure (a Retry-After, or an open circuit breaker)
 *   holds the whole queue, every replica: the queue's limiter key is set
 *   (only ever lengthened) for max(retryAfter, backoffDelay(handler.backoff,
 *   bounces), 100 ms) — for an open breaker, the rest of its reset window
 *   (min 100 ms) — and the job goes back to wait without counting an
 *   attempt (queue-limits.ts `holdQueue`).
 * - Queue-wide rate limit and global concurrency live in BullMQ's queue
 *   meta (queue-limits.ts), read on every fetch by every replica; start()
 *   writes `rateLimit`/`globalConcurrency` there unless an operator set
 *   them at runtime. Workers carry no `limiter` of their own.
 * - Per-tenant limits (`tenantLimits`, tenant-limiter.ts): right before the
 *   handler runs (after any wait for the handler's local concurrency slot),
 *   a job over its tenant's rate or concurrency is moved to delayed
 *   (DelayedError) without counting an attempt or a start; an admitted
 *   job's slot is returned once the attempt is decided. A job whose lock
 *   was lost by then is left alone (LockLostError, nothing changed); a
 *   Redis error at the gate fails the attempt as an unexpected error
 *   (retried with backoff, dead-lettered on the last attempt).
 * - An attempt lasts at most `timeoutMs`: ctx.signal aborts, and the worker
 *   stops waiting for the handler (it keeps no slot), failing the attempt
 *   with a TimeoutError.
 * - close(): no new jobs; in-flight jobs get the deadline, then are aborted
 *   and handed back (moveToWait + WaitingError) without counting an attempt;
 *   a handler that still finishes successfully while unwinding from that
 *   abort completes its job (its work is not handed back to run again).
 * - Every step logs one line inside withCorrelation, and every finished
 *   attempt is counted in `sy_jobs_total`.
 */
import { DelayedError, Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  EventError,
  UnknownEventTypeError,
  UnknownEventVersionError,
  backoffStrategyName,
  deadLetterQueueNameOf,
  deliveryRetention,
  maxHandlerAttempts,
  parseEnvelope,
  queueNameOf,
  subscribers,
  type Envelope,
  type EventType,
  type SubscriberName,
} from '@switchyard/events';
import {
  isTracingEnabled,
  withCorrelation,
  type CorrelationFields,
  type Logger,
} from '@switchyard/observability';
import { BullMQOtel } from 'bullmq-otel';
import { attemptErrorOf, createAttemptErrorLog } from './attempt-error-log.js';
import { backoffDelay, defaultBackoff } from './backoff.js';
import { createConcurrencyLimit, type ConcurrencyLimit } from './concurrency-limit.js';
import { openDeadLetterQueue, type DeadLetterQueue } from './dead-letter-queue.js';
import { createDeadLetterRecord, type DeadLetterReason } from './dead-letter-record.js';
import { maxTimerMs, type Handler, type HandlerContext } from './define-handler.js';
import { createEffectStore, defaultEffectTtlMs, type EffectStore } from './effect-once.js';
import {
  AlreadyDeadLetteredError,
  LockLostError,
  NoHandlerError,
  StalledJobError,
  TimeoutError,
  TransientError,
  WorkerClosingError,
  WorkerConfigError,
  WorkerStartTimeoutError,
  classifyFailure,
  errorCode,
} from './errors.js';
import { createRedisConnection, type Publisher, type RedisConnection } from '@switchyard/client';
import type { Schedule } from './define-schedule.js';
import { checkEvictionPolicy } from './eviction-policy.js';
import { createScheduleRunner, type ScheduleRunner } from './schedule-runner.js';
import { raceAbort, settlesWithin } from './race-abort.js';
import { createWorkerMetrics, type MetricsRegistry } from './worker-metrics.js';
import {
  applyConfiguredQueueLimits,
  holdQueue,
  maxGlobalConcurrency,
  maxRateLimitMax,
  readQueueLimits,
  unboundedRateLimit,
} from './queue-limits.js';
import {
  checkTenantLimits,
  createTenantLimiter,
  tenantLeaseGraceMs,
  type TenantLimiter,
  type TenantLimits,
  type TenantSlot,
} from './tenant-limiter.js';

export interface CreateWorkerOptions {
  /** Every handler of ONE subscriber, at most one per event type. */
  handlers: readonly Handler[];
  /**
   * Redis: a REDIS_URL (plain, cluster or Sentinel; see createRedisConnection)
   * or ioredis options, from which the worker opens (and on close, closes)
   * its own connection; or an ioredis `Redis` or `Cluster` the caller owns
   * and closes, created with `maxRetriesPerRequest: null` as BullMQ workers
   * require.
   */
  connection: string | RedisOptions | RedisConnection;
  /** BullMQ key prefix; must match the producer's. Default: 'sy'. */
  prefix?: string;
  /** Names this process on jobs it processes (BullMQ `processedBy`), in logs and DLQ records. */
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
  /** Wall clock in epoch ms, for the retry budget and records. Default: `Date.now`. */
  now?: () => number;
  /** Source of backoff jitter in [0, 1). Default: `Math.random`. */
  random?: () => number;
  /**
   * Start even when Redis's maxmemory-policy is not `noeviction` (keys,
   * hence jobs, may be evicted). Default: false (start() refuses).
   */
  allowEvictionPolicy?: boolean;
  /**
   * BullMQ lockDuration: a job whose worker stops renewing its lock for this
   * long is considered stalled. Also the lease of ctx.once. 1..2147483647.
   * Default: 30000.
   */
  lockDurationMs?: number;
  /** BullMQ stalledInterval: how often stalled jobs are looked for; 1..2147483647. Default: 30000. */
  stalledIntervalMs?: number;
  /**
   * Redeliveries after stalls (the job's lock expired: its worker died or
   * hung) a job may have; the worker that takes it after more dead-letters
   * it (reason 'stalled') without running the handler. Enforced by the
   * runtime, so the record is written before the job fails; BullMQ's own
   * maxStalledCount is set out of reach. Default: 1.
   */
  maxStalledCount?: number;
  /**
   * How long ctx.once keeps a done marker (see HandlerContext.once for the
   * sizing). Default: 7 days.
   */
  effectTtlMs?: number;
  /**
   * The queue-wide rate limit of this subscriber: at most `max` jobs start
   * per `durationMs` across all replicas. Written to the queue's meta at
   * start() (queue-limits.ts), unless an operator set the limits at runtime
   * (`sy limits set`), which then win until set back. max 1..999999999,
   * durationMs 1..2147483647. Default: none.
   */
  rateLimit?: { max: number; durationMs: number };
  /**
   * Most jobs of this subscriber active at once across all replicas
   * (BullMQ global concurrency), written like `rateLimit`. 1..1000000.
   * Default: none (only each replica's `concurrency` bounds it).
   */
  globalConcurrency?: number;
  /**
   * How long start() may take (Redis unreachable: ioredis retries forever)
   * before it closes what it built and rejects with WorkerStartTimeoutError.
   * 1..2147483647. Default: 30000.
   */
  startupTimeoutMs?: number;
  /**
   * The subscriber's schedules (defineSchedule), run by this worker on the
   * queue `<subscriber>.schedules`; see schedule-runner.ts. Default: none.
   */
  schedules?: readonly Schedule[];
  /** Publisher handed to schedules as ctx.publisher; required when `schedules` is not empty. */
  publisher?: Publisher;
  /**
   * Per-tenant limits (tenant-limiter.ts): the defaults of every tenant
   * without a runtime override; 0 or absent = no limit of that kind. Any
   * object, even `{}`, turns the gate on (and with it the overrides in
   * Redis); undefined turns it off (no Redis call). Default: undefined.
   */
  tenantLimits?: TenantLimits;
}

export interface SubscriberWorker {
  /**
   * Checks Redis's eviction policy, pauses the DLQ, connects and starts
   * taking jobs; resolves once the worker's Redis connections are ready.
   * A close() during start() makes it tear down what it built and reject
   * with WorkerClosingError.
   */
  start(): Promise<void>;
  /**
   * Stops taking jobs and waits up to `deadlineMs` for in-flight handlers.
   * Past the deadline it aborts their ctx.signal and hands their jobs back
   * to the queue without counting an attempt; handlers that ignore the
   * signal are not waited for. If BullMQ still has not closed after
   * `abortGraceMs` (1 s), the connections are dropped. Idempotent;
   * resolves, never rejects.
   */
  close(deadlineMs: number): Promise<void>;
  /** True while started, not closing, and its Redis connection is ready. */
  isReady(): boolean;
}

/** How long close() waits for aborted jobs to be handed back before it drops the connections. */
const abortGraceMs = 1_000;
/** How long a QUIT may take before the connection is dropped. */
const quitTimeoutMs = 1_000;
/** The rate limit stored for "none": large enough never to bind (queue-limits.ts). */
export const defaultRateLimit: Readonly<{ max: number; durationMs: number }> = unboundedRateLimit;
/** Default of `startupTimeoutMs`. */
export const defaultStartupTimeoutMs = 30_000;
/** Shortest queue-wide wait after a rate-limited attempt, so a Retry-After of 0 cannot hot-loop. */
export const minRateLimitWaitMs = 100;
/**
 * BullMQ's maxStalledCount: out of reach, so BullMQ never fails a stalled
 * job itself (without our record); the runtime enforces `maxStalledCount`.
 */
const bullmqMaxStalledCount = 1_000_000;

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
  const prefix = options.prefix ?? 'sy';
  const clock = options.clock ?? (() => performance.now());
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const integer = (name: string, value: number, min: number, max: number): number => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new WorkerConfigError(`${name} must be an integer in ${min}..${max}, got ${value}`);
    }
    return value;
  };
  const lockDurationMs = integer('lockDurationMs', options.lockDurationMs ?? 30_000, 1, maxTimerMs);
  const stalledIntervalMs = integer(
    'stalledIntervalMs',
    options.stalledIntervalMs ?? 30_000,
    1,
    maxTimerMs,
  );
  const maxStalledCount = integer(
    'maxStalledCount',
    options.maxStalledCount ?? 1,
    0,
    bullmqMaxStalledCount - 1,
  );
  const startupTimeoutMs = integer(
    'startupTimeoutMs',
    options.startupTimeoutMs ?? defaultStartupTimeoutMs,
    1,
    maxTimerMs,
  );
  const rateLimit =
    options.rateLimit === undefined
      ? null
      : {
          max: integer('rateLimit.max', options.rateLimit.max, 1, maxRateLimitMax),
          durationMs: integer('rateLimit.durationMs', options.rateLimit.durationMs, 1, maxTimerMs),
        };
  const globalConcurrency =
    options.globalConcurrency === undefined
      ? null
      : integer('globalConcurrency', options.globalConcurrency, 1, maxGlobalConcurrency);
  const effectTtlMs = integer(
    'effectTtlMs',
    options.effectTtlMs ?? defaultEffectTtlMs,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const logger = options.logger.child({ workerId: options.workerId });
  const metrics = createWorkerMetrics(options.registry);
  // Per-tenant limits: checked now, the limiter is built on start's connection.
  const tenantDefaults =
    options.tenantLimits === undefined ? undefined : checkTenantLimits(options.tenantLimits);
  let tenantLimiter: TenantLimiter | undefined;
  let scheduleRunner: ScheduleRunner | undefined;
  if (options.schedules !== undefined && options.schedules.length > 0) {
    if (options.publisher === undefined) {
      throw new WorkerConfigError('a worker with schedules needs a `publisher`');
    }
    scheduleRunner = createScheduleRunner({
      subscriber,
      schedules: options.schedules,
      prefix,
      workerId: options.workerId,
      logger,
      registry: options.registry,
      publisher: options.publisher,
      lockDurationMs,
      stalledIntervalMs,
      now,
    });
  }
  /** The abort controller of every job in flight, with its job id; close() aborts them past its deadline. */
  const inFlight = new Map<AbortController, string | undefined>();
  /**
   * Errors that carry the runtime's decision for BullMQ (fail for good, hand
   * back, rate-limited, retry, lock lost); anything else reaching the end of
   * processJob is unexpected and decided there.
   */
  const decisions = new WeakSet<object>();
  const decided = <E extends object>(error: E): E => {
    decisions.add(error);
    return error;
  };
  /** The delay the processor chose for a retry, read back by the backoff strategy. */
  const retryDelays = new WeakMap<object, number>();
  const largestRetryBudget = Math.max(...options.handlers.map((h) => h.retryBudgetMs));

  let connection: RedisConnection | undefined;
  let ownsConnection = false;
  let worker: Worker | undefined;
  let queue: Queue | undefined;
  let deadLetters: DeadLetterQueue | undefined;
  let effects: EffectStore | undefined;
  let attemptErrors: ReturnType<typeof createAttemptErrorLog> | undefined;
  let running: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** Listeners start() put on the connection; close() takes them off (it may be the caller's). */
  let connectionListeners: { error: (error: Error) => void; ready: () => void } | undefined;

  /**
   * The backoff of every custom type (`switchyard` or any other; BullMQ
   * calls it for no built-in type): the delay chosen when the attempt
   * failed, else computed afresh.
   */
  const backoffStrategy = (attemptsMade: number, _type?: string, error?: Error, job?: Job) => {
    const chosen = error ? retryDelays.get(error) : undefined;
    if (chosen !== undefined) return chosen;
    const handler = job ? handlers.get(job.name) : undefined;
    return backoffDelay(handler?.backoff ?? defaultBackoff, attemptsMade, random);
  };

  /** Writes the job's dead-letter record (idempotent by job id) and counts and logs it. */
  const writeDeadLetter = async (
    job: Job,
    token: string | undefined,
    reason: DeadLetterReason,
    error: unknown,
    attempt: number,
  ): Promise<void> => {
    // Only while the job is ours: after a lost lock it may be alive on another worker.
    if (token !== undefined && (await job.extendLock(token, lockDurationMs)) === 0) {
      logger.warn({ reason, code: errorCode(error) }, 'lock lost; not dead-lettering the job');
      throw decided(
        new LockLostError(`lost the lock of job ${job.id ?? ''} before dead-lettering it`, {
          cause: error,
        }),
      );
    }
    const failedAt = new Date(now());
    const jobId = job.id ?? '';
    const earlier = await attemptErrors!.read(jobId);
    const record = createDeadLetterRecord({
      subscriber,
      queue: queueNameOf(subscriber),
      jobId,
      jobName: job.name,
      event: job.data as unknown,
      reason,
      errors: [
        ...earlier.filter((e) => e.attempt < attempt),
        attemptErrorOf(error, attempt, failedAt),
      ],
      attempts: attempt,
      enqueuedAt: job.timestamp,
      failedAt,
      workerId: options.workerId,
    });
    await deadLetters!.write(record);
    await clearAttemptErrors(jobId);
    metrics.countDeadLetter(subscriber, reason);
    metrics.observeAttempts(subscriber, 'dead_lettered', attempt);
    logger.error(
      { reason, code: errorCode(error), attempts: attempt, dlqJobId: jobId },
      'job dead-lettered',
    );
  };

  /** Forgets a job's attempt errors, best effort: a Redis hiccup here changes no outcome (the key expires). */
  const clearAttemptErrors = async (jobId: string): Promise<void> => {
    try {
      await attemptErrors!.clear(jobId);
    } catch (error) {
      logger.warn({ err: error, jobId }, 'could not clear the attempt-error log; it expires');
    }
  };

  /** Dead-letters the job and returns the error that makes BullMQ fail it without a retry. */
  const deadLetter = async (
    job: Job,
    token: string | undefined,
    reason: DeadLetterReason,
    error: unknown,
    attempt: number,
  ): Promise<UnrecoverableError> => {
    await writeDeadLetter(job, token, reason, error, attempt);
    return decided(unrecoverable(error));
  };

  /**
   * A job without backoff would be retried by BullMQ at once (a hot loop);
   * BullMQ's moveToFailed reads the in-memory job.opts.backoff, so setting
   * the `switchyard` type there makes it ask our strategy for the delay.
   */
  const ensureBackoff = (job: Job): void => {
    if (!job.opts.backoff) job.opts.backoff = { type: backoffStrategyName };
  };

  /**
   * Decides a job whose processing threw something the runtime did not
   * decide on (Redis errors on the DLQ or attempt-error log, isPermanent
   * throwing, a parse error that is not an EventError, ...): retried while
   * attempts remain; on the last attempt dead-lettered, best effort.
   */
  const onUnexpected = async (
    job: Job,
    token: string | undefined,
    attempt: number,
    error: unknown,
  ): Promise<unknown> => {
    const handler = handlers.get(job.name);
    const attempts = Math.min(job.opts.attempts ?? 1, handler?.attempts ?? maxHandlerAttempts);
    metrics.countJob(subscriber, 'failed');
    if (attempt < attempts) {
      logger.error({ err: error, willRetry: true, attempts }, 'job failed unexpectedly');
      ensureBackoff(job);
      return error;
    }
    logger.error({ err: error, willRetry: false, attempts }, 'job failed unexpectedly');
    try {
      return await deadLetter(job, token, 'attempts_exhausted', error, attempt);
    } catch (writeError) {
      if (decisions.has(writeError as object)) return writeError;
      logger.error(
        { err: writeError },
        'could not dead-letter the job; BullMQ fails it without a record',
      );
      return error;
    }
  };

  const processJob = async (job: Job, token?: string, jobSignal?: AbortSignal): Promise<void> => {
    const attempt = job.attemptsMade + 1;
    await withCorrelation(correlationOf(job, subscriber, attempt), async () => {
      try {
        await processAttempt(job, token, jobSignal, attempt);
      } catch (error) {
        if (typeof error === 'object' && error !== null && decisions.has(error)) throw error;
        throw await onUnexpected(job, token, attempt, error);
      }
    });
  };

  const processAttempt = async (
    job: Job,
    token: string | undefined,
    jobSignal: AbortSignal | undefined,
    attempt: number,
  ): Promise<void> => {
    // At debug: one info line per job (its outcome: succeeded, failed,
    // dead-lettered) is what ops read; a second per-job line cost ~30 µs of a
    // ~100 µs job (docs/performance.md). Redeliveries show in the outcome's
    // `attempt` and in the warn lines of the earlier attempts.
    logger.debug({ jobId: job.id, jobName: job.name }, 'job received');
    // A redelivery may follow a worker killed between the DLQ write and the fail.
    const redelivered = job.attemptsStarted > job.attemptsMade + 1 || job.stalledCounter > 0;
    if (redelivered && job.id !== undefined && (await deadLetters!.has(job.id))) {
      logger.warn({ jobId: job.id }, 'redelivered job is already dead-lettered; failing it');
      throw decided(
        unrecoverable(
          new AlreadyDeadLetteredError(`job ${job.id} already has a dead-letter record`),
        ),
      );
    }
    // Its lock expired more often than allowed (workers died or hung running it).
    if (job.stalledCounter > maxStalledCount) {
      const error = new StalledJobError(
        `job ${job.id ?? ''} stalled ${job.stalledCounter} times (maxStalledCount ${maxStalledCount})`,
      );
      metrics.countJob(subscriber, 'unrecoverable');
      throw await deadLetter(job, token, 'stalled', error, attempt);
    }

    // Validated against its own version, then upcast to the newest: handlers
    // only see that one. job.data stays as stored; the DLQ record keeps it.
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(job.data);
    } catch (error) {
      if (!(error instanceof EventError)) throw error;
      const unknown =
        error instanceof UnknownEventTypeError || error instanceof UnknownEventVersionError;
      reject(error);
      throw await deadLetter(
        job,
        token,
        unknown ? 'unknown_event' : 'schema_invalid',
        error,
        attempt,
      );
    }
    const storedVersion = (job.data as { version?: unknown }).version;
    if (storedVersion !== envelope.version) {
      logger.info({ fromVersion: storedVersion, toVersion: envelope.version }, 'event upcast');
    }
    const handler = handlers.get(envelope.type);
    if (!handler) {
      const error = new NoHandlerError(
        `subscriber "${subscriber}" has no handler for "${envelope.type}"`,
      );
      reject(error);
      throw await deadLetter(job, token, 'no_handler', error, attempt);
    }

    // Per-job controller: aborted by the timeout, by close(), by a lock
    // renewal failure or by BullMQ's job signal, and forgotten when the job
    // settles, so no process-lived signal accumulates listeners.
    const control = new AbortController();
    inFlight.set(control, job.id);
    const onJobAbort = () => control.abort(jobSignal?.reason);
    jobSignal?.addEventListener('abort', onJobAbort, { once: true });
    const ctx: HandlerContext = {
      logger,
      signal: control.signal,
      idempotencyKey: envelope.idempotencyKey,
      attempt,
      eventId: envelope.id,
      subscriber,
      workerId: options.workerId,
      once: (name, fn) =>
        effects!.once({ subscriber, eventId: envelope.id, signal: control.signal }, name, fn),
    };
    let durationMs = 0;
    // --- Per-tenant limits (tenant-limiter.ts), taken inside this process's
    // slot for the handler, right before it runs, so the slot's lease
    // (max(lockDuration, timeout + 1 s)) covers only the run and its decision,
    // never a wait for a local slot. Over its tenant's limit the job is moved
    // to delayed, no attempt counted; the gate's outcome (refusal, lost lock,
    // Redis error) skips onFailure; an admitted job's slot is returned in the
    // finally below, whatever the outcome.
    let tenantSlot: TenantSlot | undefined;
    let gateOutcome: unknown;
    const tenantGate = async (): Promise<void> => {
      if (!tenantLimiter) return;
      let admission: Awaited<ReturnType<TenantLimiter['admit']>>;
      try {
        admission = await tenantLimiter.admit(
          job,
          token,
          envelope.tenantId,
          Math.max(lockDurationMs, handler.timeoutMs + tenantLeaseGraceMs),
          (cause, waitMs) => {
            metrics.countTenantDelay(queueNameOf(subscriber), cause);
            logger.debug({ cause, waitMs }, 'tenant over its limit; job delayed');
          },
        );
      } catch (error) {
        // Redis failed (a move to delayed included): an unexpected failure of this attempt.
        throw (gateOutcome = error);
      }
      if (admission === 'delayed') throw (gateOutcome = decided(new DelayedError()));
      if (admission === 'lock_lost') {
        logger.warn('lock lost before the tenant gate; leaving the job to its new holder');
        throw (gateOutcome = decided(
          new LockLostError(`lost the lock of job ${job.id ?? ''} at the tenant gate`),
        ));
      }
      tenantSlot = admission;
    };
    // --- end of per-tenant limits
    const run = async () => {
      control.signal.throwIfAborted();
      await tenantGate();
      // First start of this job (bounces and tenant delays leave attemptsStarted at 1 only here).
      if (job.attemptsStarted <= 1 && job.attemptsMade === 0) {
        const dueAt = job.timestamp + (job.opts.delay ?? 0);
        metrics.observeTimeInQueue(subscriber, Math.max(0, now() - dueAt) / 1000);
      }
      const started = clock();
      const timer = setTimeout(
        () =>
          control.abort(new TimeoutError(`handler did not finish within ${handler.timeoutMs} ms`)),
        handler.timeoutMs,
      );
      try {
        await raceAbort(dispatch(handler, envelope, ctx), control.signal, logger);
      } finally {
        clearTimeout(timer);
        durationMs = clock() - started;
        metrics.observeHandlerDuration(subscriber, durationMs / 1000);
      }
    };
    const limit = limits.get(handler.event);
    try {
      await (limit ? limit.run(run) : run());
    } catch (caught) {
      if (gateOutcome !== undefined && caught === gateOutcome) throw caught;
      throw await onFailure(job, token, handler, attempt, caught, control.signal);
    } finally {
      inFlight.delete(control);
      jobSignal?.removeEventListener('abort', onJobAbort);
      await tenantSlot?.release(); // per-tenant limits: never rejects
    }
    if (job.attemptsMade > 0 && job.id !== undefined) await clearAttemptErrors(job.id);
    metrics.countJob(subscriber, 'succeeded');
    metrics.observeAttempts(subscriber, 'succeeded', attempt);
    logger.info({ jobId: job.id, durationMs: Math.round(durationMs) }, 'job succeeded');
  };

  /** Decides what a failed attempt becomes; returns the error for BullMQ. */
  const onFailure = async (
    job: Job,
    token: string | undefined,
    handler: Handler,
    attempt: number,
    caught: unknown,
    signal: AbortSignal,
  ): Promise<unknown> => {
    if (signal.aborted && signal.reason instanceof WorkerClosingError) {
      // Shutdown: hand the job back; BullMQ's WaitingError moves nothing and counts nothing.
      metrics.countJob(subscriber, 'handed_back');
      if (token !== undefined) {
        try {
          await job.moveToWait(token);
          logger.warn('job handed back to the queue by shutdown');
        } catch (error) {
          logger.error(
            { err: error },
            'handing the job back failed; it will stall and be redelivered',
          );
        }
      }
      return decided(new WaitingError());
    }
    if (signal.aborted && signal.reason instanceof LockLostError) {
      // Another worker may run it now: no record, no attempt-error entry.
      metrics.countJob(subscriber, 'failed');
      logger.warn({ err: signal.reason }, 'lock lost; leaving the job to its new holder');
      return decided(signal.reason);
    }
    const error = caught instanceof Error ? caught : new TransientError(String(caught));
    const failure = classifyFailure(error, handler.isPermanent);
    if (error instanceof TimeoutError) metrics.countTimeout(subscriber);
    const elapsedMs = now() - job.timestamp;
    if (failure.kind === 'rate_limited') {
      // Bounces so far, this one included: hand-backs and stalls count too, close enough.
      const bounces = Math.max(1, job.attemptsStarted - job.attemptsMade);
      // An open breaker knows when it will probe again: hold until then, not
      // longer. Growing that hold with the bounces (as for a downstream's
      // repeated 429s) kept queues waiting up to 30 s after a 6 s outage.
      const waitMs =
        failure.cause === 'breaker' && failure.retryAfterMs !== undefined
          ? Math.max(minRateLimitWaitMs, failure.retryAfterMs)
          : Math.max(
              minRateLimitWaitMs,
              failure.retryAfterMs ?? 0,
              backoffDelay(handler.backoff, bounces, random),
            );
      if (elapsedMs + waitMs > handler.retryBudgetMs) {
        return deadLetter(job, token, 'retry_budget_exhausted', error, attempt);
      }
      metrics.countJob(subscriber, 'rate_limited');
      metrics.countRateLimitWait(queueNameOf(subscriber), failure.cause, waitMs / 1000);
      logger.warn(
        { err: error, waitMs, bounces, cause: failure.cause },
        'rate limited; the queue waits',
      );
      await holdQueue(connection!, { prefix, queue: queueNameOf(subscriber) }, waitMs);
      return decided(Worker.RateLimitError());
    }
    if (failure.kind === 'permanent') {
      metrics.countJob(subscriber, 'unrecoverable');
      logger.error({ err: error, reason: errorCode(error), permanent: true }, 'job failed');
      // An events EventError inside a handler: some payload failed its schema.
      const reason = error instanceof EventError ? 'schema_invalid' : 'permanent';
      return deadLetter(job, token, reason, error, attempt);
    }
    metrics.countJob(subscriber, 'failed');
    const attempts = Math.min(job.opts.attempts ?? 1, handler.attempts);
    const delayMs = backoffDelay(handler.backoff, attempt, random);
    const willRetry = attempt < attempts && elapsedMs + delayMs <= handler.retryBudgetMs;
    logger[willRetry ? 'warn' : 'error'](
      {
        err: error,
        reason: errorCode(error),
        willRetry,
        attempts,
        ...(willRetry ? { delayMs } : {}),
      },
      'job failed',
    );
    if (willRetry) metrics.countRetry(subscriber);
    if (!willRetry) {
      return deadLetter(
        job,
        token,
        attempt >= attempts ? 'attempts_exhausted' : 'retry_budget_exhausted',
        error,
        attempt,
      );
    }
    await attemptErrors!.append(job.id ?? '', attemptErrorOf(error, attempt, new Date(now())));
    retryDelays.set(error, delayMs);
    ensureBackoff(job);
    return decided(error);
  };

  /** Logs and counts a job the handler must not see. */
  const reject = (error: Error): void => {
    const details = error instanceof EventError ? error.details : undefined;
    metrics.countJob(subscriber, 'invalid');
    logger.error({ reason: errorCode(error), details, message: error.message }, 'job rejected');
  };

  /** Closes the connection if the worker opened it: QUIT, or drop it when QUIT does not answer. */
  const closeConnection = async (force = false): Promise<void> => {
    if (!connection || !ownsConnection) return;
    if (force || connection.status === 'end') {
      connection.disconnect();
      return;
    }
    const quit = connection.quit().then(
      () => true,
      () => false,
    );
    if (!(await settlesWithin(quit, quitTimeoutMs)) || !(await quit)) connection.disconnect();
  };

  /** Throws WorkerClosingError when close() was called while start() awaited. */
  const checkNotClosing = () => {
    if (closing) throw new WorkerClosingError('worker closed during start');
  };

  /** start() without its time bound. */
  const startWorker = async (): Promise<void> => {
    if (connection) throw new WorkerConfigError('start() was already called');
    checkNotClosing();
    ({ connection, ownsConnection } = openConnection(options.connection));
    const redis = connection;
    let outage = false;
    connectionListeners = {
      error: (error: Error) => {
        // One line per outage, not one per reconnect attempt.
        if (outage) return;
        outage = true;
        logger.warn({ err: error }, 'redis connection error; reconnecting');
      },
      ready: () => {
        if (outage) logger.info('redis connection ready again');
        outage = false;
      },
    };
    redis.on('error', connectionListeners.error);
    redis.on('ready', connectionListeners.ready);
    const policy = await checkEvictionPolicy(redis, options.allowEvictionPolicy ?? false);
    if (policy !== undefined && policy !== 'noeviction') {
      logger.warn({ maxmemoryPolicy: policy }, 'starting on an evicting Redis (overridden)');
    }
    checkNotClosing();
    attemptErrors = createAttemptErrorLog({
      redis,
      prefix,
      subscriber,
      ttlMs: largestRetryBudget + 86_400_000,
    });
    effects = createEffectStore({ redis, prefix, ttlMs: effectTtlMs, leaseMs: lockDurationMs });
    const queueError = (name: string) => (error: Error) => {
      logger.warn({ err: error, queue: name }, 'queue error');
    };
    deadLetters = openDeadLetterQueue({
      redis,
      prefix,
      subscriber,
      onError: queueError(deadLetterQueueNameOf(subscriber)),
    });
    queue = new Queue(queueNameOf(subscriber), { connection: redis, prefix });
    queue.on('error', queueError(queueNameOf(subscriber)));
    // Queue-wide limits from config, unless an operator set them at runtime.
    const limitsRef = { prefix, queue: queueNameOf(subscriber) };
    if (
      await applyConfiguredQueueLimits(redis, {
        ...limitsRef,
        rateLimit,
        concurrency: globalConcurrency,
      })
    ) {
      logger.info({ rateLimit, globalConcurrency }, 'queue limits set from config');
    } else {
      const current = await readQueueLimits(redis, limitsRef);
      logger.warn(
        { ...current, configured: { rateLimit, globalConcurrency } },
        'queue limits were set at runtime (cli); config not applied',
      );
    }
    checkNotClosing();
    if (tenantDefaults) {
      const queueName = queueNameOf(subscriber);
      tenantLimiter = createTenantLimiter({
        redis,
        prefix,
        queueName,
        defaults: tenantDefaults,
        random,
        logger,
      });
    }
    await deadLetters.ensurePaused();
    checkNotClosing();
    const unhandled = subscribers[subscriber].events.filter((type) => !handlers.has(type));
    if (unhandled.length > 0) {
      logger.warn({ unhandled }, 'routed event types without a handler will be dead-lettered');
    }
    // Schedules first: a pattern BullMQ refuses fails the start before any
    // job is taken, so a config typo never leaves jobs stalled in a crash loop.
    if (scheduleRunner) {
      await scheduleRunner.start(redis);
      checkNotClosing();
    }
    worker = new Worker(queueNameOf(subscriber), processJob, {
      connection: redis,
      prefix,
      concurrency,
      name: options.workerId,
      autorun: false,
      lockDuration: lockDurationMs,
      stalledInterval: stalledIntervalMs,
      maxStalledCount: bullmqMaxStalledCount,
      // Retention of finished jobs: the worker's, for every job that carries none (deliveryRetention).
      removeOnComplete: deliveryRetention.removeOnComplete,
      removeOnFail: deliveryRetention.removeOnFail,
      // Tracing on: each job's `process` span continues the publisher's trace.
      ...(isTracingEnabled() ? { telemetry: new BullMQOtel({ tracerName: 'bullmq' }) } : {}),
      settings: {
        // BullMQ calls it for every backoff type but the built-in ones.
        backoffStrategy: (attemptsMade, type, error, job) =>
          backoffStrategy(attemptsMade, type, error, job as Job | undefined),
      },
    });
    worker.on('error', (error) => {
      logger.error({ err: error }, 'worker error');
    });
    worker.on('lockRenewalFailed', (jobIds: string[]) => {
      const lost = new Set(jobIds);
      for (const [control, jobId] of inFlight) {
        if (jobId === undefined || !lost.has(jobId)) continue;
        logger.warn({ jobId }, 'job lock lost; aborting its attempt');
        control.abort(new LockLostError(`lost the lock of job ${jobId}`));
      }
    });
    running = worker.run().catch((error: unknown) => {
      logger.error({ err: error }, 'worker stopped with an error');
    });
    await worker.waitUntilReady();
    // close() may have run meanwhile; it closes `worker`, so only report.
    checkNotClosing();
    logger.info({ queue: queueNameOf(subscriber), concurrency, prefix }, 'worker started');
  };

  const api: SubscriberWorker = {
    async start() {
      const starting = startWorker();
      // Settles late (or never) after a timeout; the close below owns the outcome then.
      starting.catch(() => undefined);
      if (await settlesWithin(starting, startupTimeoutMs)) {
        try {
          return await starting;
        } catch (error) {
          // Nothing half-started stays behind: no worker taking jobs, no connection.
          await api.close(0);
          throw error;
        }
      }
      logger.error({ startupTimeoutMs }, 'worker did not start in time; closing');
      await api.close(0);
      throw new WorkerStartTimeoutError(
        `worker did not start within ${startupTimeoutMs} ms: Redis is unreachable or not answering (STARTUP_TIMEOUT_MS)`,
      );
    },

    close(requestedDeadlineMs) {
      // Node fires a larger timer at once.
      const deadlineMs = Math.min(Math.max(0, requestedDeadlineMs), maxTimerMs);
      closing ??= (async () => {
        let forced = false;
        const current = worker;
        // Closed alongside the handler worker, before the shared connection.
        const schedulesClosed = scheduleRunner?.close(deadlineMs);
        if (current) {
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
            logger.warn(
              { deadlineMs, inFlight: inFlight.size },
              'in-flight jobs outlived the close deadline; aborting and handing them back',
            );
            const reason = new WorkerClosingError(
              `worker closing: ${deadlineMs} ms deadline passed`,
            );
            for (const control of inFlight.keys()) control.abort(reason);
            closed = await settlesWithin(graceful, abortGraceMs);
          }
          if (closed) {
            await running;
          } else {
            // BullMQ is still waiting on Redis (an outage): drop the connections.
            forced = true;
            logger.error({ abortGraceMs }, 'worker did not close after the abort; force-closing');
            await current
              .getBackend()
              .disconnectBlocking(false)
              .catch((error: unknown) => {
                logger.warn({ err: error }, 'blocking connection disconnect failed');
              });
          }
        }
        // The queues share `connection`; closing them releases no socket, only their state.
        const queues = Promise.all([queue?.close(), deadLetters?.close()]).catch(
          (error: unknown) => {
            logger.warn({ err: error }, 'closing queues failed');
          },
        );
        await settlesWithin(queues, quitTimeoutMs);
        await schedulesClosed;
        await closeConnection(forced);
        // After the close: an owned connection may still report errors until it ends.
        if (connection && connectionListeners) {
          connection.off('error', connectionListeners.error);
          connection.off('ready', connectionListeners.ready);
        }
        if (current) logger.info({ forced }, 'worker closed');
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
  return api;
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
  connection: RedisConnection;
  ownsConnection: boolean;
} {
  if (connection instanceof Redis || connection instanceof Cluster) {
    const retries =
      connection instanceof Cluster
        ? connection.options.redisOptions?.maxRetriesPerRequest
        : connection.options.maxRetriesPerRequest;
    if (retries !== null) {
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
      ? createRedisConnection({ url: connection, profile: 'blocking' })
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
  if (error instanceof UnrecoverableError) return error;
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
