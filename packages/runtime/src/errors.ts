/**
 * Errors the runtime raises and handlers throw. Each has a stable `code`; the
 * worker derives its retry decision from the class (`classifyFailure`), never
 * from a message. How each maps onto BullMQ:
 *
 * | error                                   | failure      | BullMQ mechanism                                  |
 * |-----------------------------------------|--------------|---------------------------------------------------|
 * | PermanentError, DownstreamRejectedError | permanent    | DLQ record, then UnrecoverableError (1 attempt)   |
 * | BullMQ UnrecoverableError, isPermanent  | permanent    | same                                              |
 * | events' SchemaInvalid/UnknownEvent*     | invalid      | same, reason schema_invalid / unknown_event       |
 * | an events EventError thrown by a handler | permanent   | same, reason schema_invalid (never retried)       |
 * | RateLimitedError, DownstreamRateLimited | rate_limited | the queue's limiter key held for retryAfterMs + Worker.RateLimitError: the job waits, no attempt counted |
 * | CircuitOpenError (open breaker)         | rate_limited | same, for the rest of the breaker's reset window (cause `breaker`) |
 * | TransientError, TimeoutError, Downstream{Unavailable,Timeout}, anything else | transient | thrown as is: BullMQ retries after the `switchyard` backoff; DLQ after the last attempt |
 * | WorkerClosingError (shutdown abort)     | handed back  | job.moveToWait + WaitingError: no attempt counted |
 * | LockLostError (lock renewal failed)     | abandoned    | thrown as is, no DLQ record: the job belongs to whoever holds its lock now |
 *
 * Envelope errors (SY_ERR_SCHEMA_INVALID, SY_ERR_UNKNOWN_EVENT_TYPE,
 * SY_ERR_UNKNOWN_EVENT_VERSION) come from @switchyard/events and are not
 * repeated here.
 */
import { UnrecoverableError } from 'bullmq';
import { EventError } from '@switchyard/events';

export abstract class RuntimeError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A handler, a handler list or a worker option is wrong: a programming error, raised at start. */
export class WorkerConfigError extends RuntimeError {
  readonly code = 'SY_ERR_WORKER_CONFIG';
}

/** A job's event type is valid but this worker has no handler for it. */
export class NoHandlerError extends RuntimeError {
  readonly code = 'SY_ERR_NO_HANDLER';
}

/**
 * The reason ctx.signal carries when close()'s deadline passed with the
 * handler still running. The job is handed back to the queue (moveToWait)
 * without counting an attempt.
 */
export class WorkerClosingError extends RuntimeError {
  readonly code = 'SY_ERR_WORKER_CLOSING';
}

/** Base of every failure of a call to a downstream service. */
export abstract class DownstreamError extends RuntimeError {
  constructor(
    message: string,
    /** HTTP status of the answer; undefined when none arrived (network error, timeout). */
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The downstream is down or broken for now: a 5xx (other than a 503 with
 * Retry-After), 408, a network error or a 2xx whose body is not JSON.
 * Transient: the job is retried with backoff.
 */
export class DownstreamUnavailableError extends DownstreamError {
  readonly code: string = 'SY_ERR_DOWNSTREAM_UNAVAILABLE';
}

/** No complete answer within the client's `timeoutMs`. Transient, like any unavailability. */
export class DownstreamTimeoutError extends DownstreamUnavailableError {
  override readonly code = 'SY_ERR_DOWNSTREAM_TIMEOUT';
}

/**
 * The downstream asked us to slow down: a 429 (with or without Retry-After)
 * or a 503 with Retry-After. The worker treats it as a RateLimitedError: the
 * queue waits `retryAfterMs` instead of spending an attempt.
 */
export class DownstreamRateLimitedError extends DownstreamError {
  readonly code = 'SY_ERR_DOWNSTREAM_RATE_LIMITED';

  constructor(
    message: string,
    status: number,
    /** How long the downstream asked us to wait; undefined when it sent no usable Retry-After. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message, status);
  }
}

/**
 * The downstream refused the request itself (a 4xx other than 408 and 429).
 * Permanent: sending it again cannot succeed, so the job fails unretried.
 */
export class DownstreamRejectedError extends DownstreamError {
  readonly code = 'SY_ERR_DOWNSTREAM_REJECTED';
}

/** A failure retrying cannot fix: the job goes to the DLQ after this one attempt. */
export class PermanentError extends RuntimeError {
  readonly code: string = 'SY_ERR_PERMANENT';
}

/** A failure worth retrying: the attempt fails and the job is retried with backoff. */
export class TransientError extends RuntimeError {
  readonly code: string = 'SY_ERR_TRANSIENT';
}

/**
 * This worker no longer holds the job's lock (a renewal failed, or the lock
 * was gone when a dead-letter record was about to be written): BullMQ may
 * already have redelivered the job to another worker. ctx.signal carries it;
 * the worker writes no dead-letter record and leaves the job to its new
 * holder (or to the stalled checker). Transient.
 */
export class LockLostError extends TransientError {
  override readonly code = 'SY_ERR_LOCK_LOST';
}

/** The handler outlived its `timeoutMs`; ctx.signal carries it. Transient. */
export class TimeoutError extends TransientError {
  override readonly code = 'SY_ERR_TIMEOUT';
}

/**
 * Someone asked us to slow down. The subscriber's queue waits `retryAfterMs`
 * (every worker of it) and the job is tried again without counting an attempt.
 */
export class RateLimitedError extends RuntimeError {
  readonly code = 'SY_ERR_RATE_LIMITED';

  constructor(
    message: string,
    /** How long the queue waits; undefined lets the runtime use the handler's backoff base delay. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A downstream's circuit breaker is open (circuit-breaker.ts): the call was
 * not made. The worker treats it like a Retry-After: the subscriber's queue
 * (every replica) waits `retryAfterMs`, the rest of the reset window, and the
 * job goes back to wait without counting an attempt.
 */
export class CircuitOpenError extends RuntimeError {
  readonly code = 'SY_ERR_CIRCUIT_OPEN';

  constructor(
    message: string,
    /** The downstream whose breaker is open, as named to createCircuitBreaker. */
    readonly downstream: string,
    /** Ms until the breaker lets a probe through; 0 while half-open with a probe in flight. */
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/**
 * A queue limit given to writeQueueLimits (or read back from Redis) is out
 * of range or not an integer; nothing was written.
 */
export class QueueLimitsError extends RuntimeError {
  readonly code = 'SY_ERR_QUEUE_LIMITS';
}

/** A redelivered job whose DLQ record already exists: failed at once, handler not run. */
export class AlreadyDeadLetteredError extends RuntimeError {
  readonly code = 'SY_ERR_ALREADY_DEAD_LETTERED';
}

/**
 * start() did not finish within `startupTimeoutMs` (Redis unreachable or not
 * answering); what it had built is closed.
 */
export class WorkerStartTimeoutError extends RuntimeError {
  readonly code = 'SY_ERR_WORKER_START_TIMEOUT';
}

/** Redis's maxmemory-policy would evict queue keys; the worker refuses to start. */
export class EvictionPolicyError extends WorkerConfigError {}

/**
 * How the worker treats a handler's error:
 * - permanent: DLQ now;
 * - rate_limited: the queue waits `retryAfterMs`, the attempt is not counted;
 *   `cause` says who asked: the downstream or a handler (`retry_after`), or an
 *   open circuit breaker (`breaker`);
 * - transient: retried with backoff while attempts and the retry budget last.
 */
export type FailureKind =
  | { kind: 'permanent' }
  | { kind: 'rate_limited'; retryAfterMs: number | undefined; cause: RateLimitCause }
  | { kind: 'transient' };

/** Why a queue was held: a Retry-After (or a handler's RateLimitedError), or an open breaker. */
export type RateLimitCause = 'retry_after' | 'breaker';

export function classifyFailure(
  error: unknown,
  isPermanent?: (error: unknown) => boolean,
): FailureKind {
  if (error instanceof RateLimitedError || error instanceof DownstreamRateLimitedError) {
    return { kind: 'rate_limited', retryAfterMs: error.retryAfterMs, cause: 'retry_after' };
  }
  if (error instanceof CircuitOpenError) {
    return { kind: 'rate_limited', retryAfterMs: error.retryAfterMs, cause: 'breaker' };
  }
  if (isPermanentFailure(error) || isPermanent?.(error) === true) return { kind: 'permanent' };
  return { kind: 'transient' };
}

/**
 * Whether an error must end the job at once, without the remaining attempts,
 * whatever the handler says. Everything else is transient unless the
 * handler's `isPermanent` says otherwise.
 */
export function isPermanentFailure(error: unknown): boolean {
  return (
    error instanceof PermanentError ||
    error instanceof DownstreamRejectedError ||
    error instanceof UnrecoverableError ||
    (error instanceof Error && error.name === 'UnrecoverableError') ||
    // An envelope/schema error inside a handler (it validated some payload): retrying cannot fix it.
    error instanceof EventError
  );
}

/** The stable code of an error, for log lines and metrics; 'SY_ERR_UNEXPECTED' when it has none. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code;
    if (typeof code === 'string' && code.length > 0 && code.length <= 100) return code;
  }
  return 'SY_ERR_UNEXPECTED';
}

/**
 * A call to the dead-letter API is wrong: an option out of range, no
 * selection, an unknown subscriber, or a call after close(). A programming
 * or typing error of the caller; nothing was changed.
 */
export class DeadLetterUsageError extends RuntimeError {
  readonly code = 'SY_ERR_DEAD_LETTER_USAGE';
}

/** A DLQ job's data is not a version-1 DeadLetterRecord (written by hand, or by another version). */
export class DeadLetterRecordInvalidError extends RuntimeError {
  readonly code = 'SY_ERR_DEAD_LETTER_RECORD_INVALID';
}

/**
 * A job's lock expired (its workers died or hung) more often than the
 * worker's maxStalledCount allows; the worker that takes it next
 * dead-letters it with this error instead of running the handler.
 */
export class StalledJobError extends RuntimeError {
  readonly code = 'SY_ERR_JOB_STALLED';
}
