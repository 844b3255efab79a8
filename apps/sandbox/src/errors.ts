/**
 * Every answer the sandbox gives that is not a success is one of these
 * classes. The HTTP status, the stable `code` and any Retry-After come from
 * the class; the error handler never inspects messages.
 */

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export abstract class SandboxError extends Error {
  abstract readonly code: string;
  abstract readonly statusCode: number;
  /** Seconds for a Retry-After header; undefined sends none. */
  readonly retryAfterSeconds: number | undefined = undefined;

  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

/** A service call came without an `Idempotency-Key` header. */
export class IdempotencyKeyMissingError extends SandboxError {
  readonly code = 'SY_ERR_IDEMPOTENCY_KEY_MISSING';
  readonly statusCode = 400;
}

/** The `Idempotency-Key` header is longer than 255 characters (Stripe's limit). */
export class IdempotencyKeyInvalidError extends SandboxError {
  readonly code = 'SY_ERR_IDEMPOTENCY_KEY_INVALID';
  readonly statusCode = 400;
}

/** A body that does not match its schema; `details.issues` holds zod's issues. */
export class SchemaInvalidError extends SandboxError {
  readonly code = 'SY_ERR_SCHEMA_INVALID';
  readonly statusCode = 400;
}

/** The body is not valid JSON (or is empty where JSON is required). */
export class InvalidJsonError extends SandboxError {
  readonly code = 'SY_ERR_INVALID_JSON';
  readonly statusCode = 400;
}

/** Any other malformed request fastify rejects (bad Content-Length, ...). */
export class BadRequestError extends SandboxError {
  readonly code = 'SY_ERR_BAD_REQUEST';
  readonly statusCode = 400;
}

/** No route for that method and path. */
export class NotFoundError extends SandboxError {
  readonly code = 'SY_ERR_NOT_FOUND';
  readonly statusCode = 404;
}

/** The body is over the limit (1 MiB). */
export class BodyTooLargeError extends SandboxError {
  readonly code = 'SY_ERR_BODY_TOO_LARGE';
  readonly statusCode = 413;
}

/** A POST/PUT whose Content-Type is not application/json (or is missing). */
export class UnsupportedMediaTypeError extends SandboxError {
  readonly code = 'SY_ERR_UNSUPPORTED_MEDIA_TYPE';
  readonly statusCode = 415;
}

/** Injected with `status429Rate`: the caller should wait `retryAfterSeconds`. */
export class RateLimitedFault extends SandboxError {
  readonly code = 'SY_ERR_SANDBOX_RATE_LIMITED';
  readonly statusCode = 429;
  override readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super('rate limited by the sandbox (injected with status429Rate)');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Injected with `errorRate`. */
export class InjectedFailureFault extends SandboxError {
  readonly code = 'SY_ERR_SANDBOX_INJECTED_FAILURE';
  readonly statusCode = 500;

  constructor() {
    super('internal error injected by the sandbox (errorRate)');
  }
}

/** Injected with `downForMs`: the whole service is out until the window ends. */
export class ServiceDownFault extends SandboxError {
  readonly code = 'SY_ERR_SANDBOX_DOWN';
  readonly statusCode = 503;
  override readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super('service unavailable (injected with downForMs)');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The server is closing; a call waiting out its latency is cut short. */
export class ShuttingDownError extends SandboxError {
  readonly code = 'SY_ERR_SHUTTING_DOWN';
  readonly statusCode = 503;
}

/** A bug: the only deliberate 5xx answers are the injected faults. */
export class InternalError extends SandboxError {
  readonly code = 'SY_ERR_INTERNAL';
  readonly statusCode = 500;
}

/** Faults the sandbox injects on purpose; anything else at 5xx is a bug. */
export function isInjectedFault(error: SandboxError): boolean {
  return (
    error instanceof RateLimitedFault ||
    error instanceof InjectedFailureFault ||
    error instanceof ServiceDownFault
  );
}
