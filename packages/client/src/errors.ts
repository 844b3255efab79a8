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
