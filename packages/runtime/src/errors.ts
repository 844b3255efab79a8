/**
 * Errors the runtime raises. Each has a stable `code`; the worker derives its
 * retry decision from the class (`isPermanentFailure`), never from a message.
 *
 * Envelope errors (SY_ERR_SCHEMA_INVALID, SY_ERR_UNKNOWN_EVENT_TYPE,
 * SY_ERR_UNKNOWN_EVENT_VERSION) come from @switchyard/events and are not
 * repeated here.
 */
import { UnrecoverableError } from 'bullmq';

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
 * handler still running. Transient: the job is tried again later.
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
 * or a 503 with Retry-After. Transient. A later issue pauses the queue for
 * `retryAfterMs` instead of spending an attempt.
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

/**
 * Whether a handler's error must end the job at once, without the remaining
 * attempts. Everything else is treated as transient.
 */
export function isPermanentFailure(error: unknown): boolean {
  return (
    error instanceof DownstreamRejectedError ||
    error instanceof UnrecoverableError ||
    (error instanceof Error && error.name === 'UnrecoverableError')
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
