/**
 * Errors the publisher raises besides the events package's validation errors
 * (SchemaInvalidError, UnknownEventTypeError, UnknownEventVersionError, which
 * pass through unchanged). Each has a stable `code`; a transport derives its
 * answer from the class (the producer: conflict 409, the others 503, a
 * corrupt ledger record 500), never from the message.
 */

export abstract class PublishError extends Error {
  abstract readonly code: string;
  /** JSON-safe context for the caller (never payload values). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
  }
}

/**
 * The idempotency key was already used, within the window, for a different
 * payload (type, version, tenant or data differ). Nothing was enqueued.
 */
export class IdempotencyConflictError extends PublishError {
  readonly code = 'SY_ERR_IDEMPOTENCY_CONFLICT';
}

/**
 * Redis could not be reached or refused a command: the connection is not
 * ready, a command failed or timed out, or the fan-out did not complete.
 * The publish may be retried with the same idempotency key: a retry either
 * finds nothing and starts afresh, or finds the pending record this attempt
 * left and completes it with the same event id.
 */
export class RedisUnavailableError extends PublishError {
  readonly code = 'SY_ERR_REDIS_UNAVAILABLE';
}

/** `publish` or `publishBatch` was called after `close()`. */
export class PublisherClosedError extends PublishError {
  readonly code = 'SY_ERR_PUBLISHER_CLOSED';
}

/**
 * The value stored under an idempotency key is not a record this publisher
 * wrote (another writer, or a key-prefix collision). Left untouched.
 */
export class IdempotencyRecordInvalidError extends PublishError {
  readonly code = 'SY_ERR_IDEMPOTENCY_RECORD_INVALID';
}

/**
 * Backpressure: a subscriber queue's backlog (waiting + prioritized + delayed
 * jobs already due) has reached its limit. Nothing was enqueued and the
 * idempotency key was not claimed, so the same publish may be retried after
 * `retryAfterSeconds` (the producer answers 429 with that `Retry-After`).
 */
export class BacklogFullError extends PublishError {
  readonly code = 'SY_ERR_BACKLOG_FULL';
  /** How long the caller should wait before retrying, in whole seconds (at least 1). */
  readonly retryAfterSeconds: number;
  declare readonly details: {
    queue: string;
    backlog: number;
    limit: number;
    retryAfterSeconds: number;
  };

  constructor(
    message: string,
    details: { queue: string; backlog: number; limit: number; retryAfterSeconds: number },
  ) {
    super(message, { details });
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/**
 * HTTP transport: the producer could not be reached or kept failing (network
 * error, timeout, 5xx other than a Redis outage, draining) after the bounded
 * retries. Whether the last attempt was applied is unknown: publishing again
 * with the same idempotency key is safe.
 */
export class ProducerUnavailableError extends PublishError {
  readonly code = 'SY_ERR_PRODUCER_UNAVAILABLE';
}

/**
 * HTTP transport: the producer refused the request for a reason that is not
 * an event error (401 bad API key, 413 too large, ...). `code` and `status`
 * are the producer's; never retried.
 */
export class ProducerRequestError extends PublishError {
  readonly code: string;
  readonly status: number;

  constructor(
    message: string,
    options: { code: string; status: number; details?: Record<string, unknown> },
  ) {
    super(message, options.details === undefined ? {} : { details: options.details });
    this.code = options.code;
    this.status = options.status;
  }
}

/** A publisher option is out of range (NaN, a fraction, negative, too large); raised when the publisher is built. */
export class PublisherOptionError extends Error {
  readonly code = 'SY_ERR_PUBLISHER_OPTION';
}
