/**
 * Every error the producer answers, and the one place that turns an error
 * into an HTTP answer. Status comes from the error's class, never from its
 * message: the producer's own classes carry it, the classes of the events
 * and client packages are mapped below, and fastify's errors are mapped by
 * their stable code. Anything else is a bug and answers 500.
 */
import {
  BacklogFullError,
  IdempotencyConflictError,
  IdempotencyRecordInvalidError,
  PublisherClosedError,
  RedisUnavailableError,
} from '@switchyard/client';
import { EventError } from '@switchyard/events';

export abstract class ProducerError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  readonly details: unknown;

  constructor(message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }

  /** Headers sent with the answer. */
  headers(): Record<string, string> {
    return {};
  }
}

/** The body is not JSON (syntax, empty, or `__proto__` / `constructor.prototype` keys). */
export class InvalidJsonError extends ProducerError {
  readonly code = 'SY_ERR_INVALID_JSON';
  readonly status = 400;
}

/** The request is malformed in a way fastify detected (bad Content-Length, bad URL, ...). */
export class BadRequestError extends ProducerError {
  readonly code = 'SY_ERR_BAD_REQUEST';
  readonly status = 400;
}

/** A batch with no events. */
export class BatchEmptyError extends ProducerError {
  readonly code = 'SY_ERR_BATCH_EMPTY';
  readonly status = 400;
}

/** No `Authorization: Bearer <key>`, or a key that is not configured. */
export class UnauthorizedError extends ProducerError {
  readonly code = 'SY_ERR_UNAUTHORIZED';
  readonly status = 401;
  override headers(): Record<string, string> {
    return { 'www-authenticate': 'Bearer' };
  }
}

/**
 * A configured key whose id is in API_KEYS_REVOKED. Said apart from an
 * unknown key so that its holder knows to get a new one; the answer shows
 * no more than that (the holder has the key already).
 */
export class ApiKeyRevokedError extends ProducerError {
  readonly code = 'SY_ERR_API_KEY_REVOKED';
  readonly status = 401;
  override headers(): Record<string, string> {
    return { 'www-authenticate': 'Bearer error="invalid_token"' };
  }
}

export class RouteNotFoundError extends ProducerError {
  readonly code = 'SY_ERR_NOT_FOUND';
  readonly status = 404;
}

/** The path exists, not with this method. */
export class MethodNotAllowedError extends ProducerError {
  readonly code = 'SY_ERR_METHOD_NOT_ALLOWED';
  readonly status = 405;
  constructor(
    message: string,
    readonly allowed: readonly string[],
  ) {
    super(message, { allowed });
  }
  override headers(): Record<string, string> {
    return { allow: this.allowed.join(', ') };
  }
}

/** The body is over BODY_LIMIT_BYTES. */
export class BodyTooLargeError extends ProducerError {
  readonly code = 'SY_ERR_BODY_TOO_LARGE';
  readonly status = 413;
}

/** The batch holds more than BATCH_MAX_EVENTS events. */
export class BatchTooLargeError extends ProducerError {
  readonly code = 'SY_ERR_BATCH_TOO_LARGE';
  readonly status = 413;
}

/** The body is not `application/json`. */
export class UnsupportedMediaTypeError extends ProducerError {
  readonly code = 'SY_ERR_UNSUPPORTED_MEDIA_TYPE';
  readonly status = 415;
}

/**
 * The API key made API_KEY_RATE_LIMIT_PER_MINUTE requests (or its
 * API_KEY_RATE_LIMITS entry) in the current window. Nothing was done: retry
 * after Retry-After, the seconds left in the window.
 */
export class RateLimitedError extends ProducerError {
  readonly code = 'SY_ERR_RATE_LIMITED';
  readonly status = 429;
  declare readonly details: { limit: number; windowSeconds: number; retryAfterSeconds: number };

  constructor(
    message: string,
    details: { limit: number; windowSeconds: number; retryAfterSeconds: number },
  ) {
    super(message, details);
  }

  override headers(): Record<string, string> {
    return { 'retry-after': String(this.details.retryAfterSeconds) };
  }
}

/** The server is shutting down; another replica (or a retry) will take the request. */
export class DrainingError extends ProducerError {
  readonly code = 'SY_ERR_DRAINING';
  readonly status = 503;
  override headers(): Record<string, string> {
    return { 'retry-after': '1' };
  }
}

/** A bug: the details are logged, never answered. */
export class InternalError extends ProducerError {
  readonly code = 'SY_ERR_INTERNAL';
  readonly status = 500;
}

/** Errors of other packages, by class; the first match wins. */
const statusOfForeignClass: readonly [abstract new (...args: never[]) => Error, number][] = [
  [EventError, 400],
  [IdempotencyConflictError, 409],
  [BacklogFullError, 429],
  [IdempotencyRecordInvalidError, 500],
  [RedisUnavailableError, 503],
  [PublisherClosedError, 503],
];

/** fastify's errors, by their stable code. */
const fastifyErrors: Record<string, (message: string) => ProducerError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () =>
    new InvalidJsonError(
      'the body is not valid JSON (or carries __proto__ / constructor.prototype keys)',
    ),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new InvalidJsonError('the body is empty'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new BodyTooLargeError('the body is over the size limit'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new UnsupportedMediaTypeError('send the body as application/json'),
};

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string; details?: unknown } };
}

/** The answer for `error`, or undefined when it is not one we know (a bug). */
export function httpAnswerOf(error: unknown): HttpAnswer | undefined {
  const known = asProducerError(error);
  if (known !== undefined)
    return answer(known.status, known.code, known.message, known.details, known.headers());
  for (const [errorClass, status] of statusOfForeignClass) {
    if (error instanceof errorClass) {
      const { code, message, details } = error as Error & { code: string; details?: unknown };
      return answer(status, code, message, details, retryAfterOf(error, status));
    }
  }
  return undefined;
}

/** Retry-After of a foreign error's answer: the backlog's own hint, 1 s for 503s. */
function retryAfterOf(error: Error, status: number): Record<string, string> {
  if (error instanceof BacklogFullError) return { 'retry-after': String(error.retryAfterSeconds) };
  return status === 503 ? { 'retry-after': '1' } : {};
}

function asProducerError(error: unknown): ProducerError | undefined {
  if (error instanceof ProducerError) return error;
  if (!(error instanceof Error)) return undefined;
  const { code, statusCode } = error as Error & { code?: unknown; statusCode?: unknown };
  const mapped =
    typeof code === 'string' && Object.hasOwn(fastifyErrors, code)
      ? fastifyErrors[code]
      : undefined;
  if (mapped !== undefined) return mapped(error.message);
  // Any other error fastify marked as the request's fault (4xx) is the
  // client's, FST_ code or not: the raw-body reader flags an aborted or
  // malformed upload with statusCode 400 and no code.
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return new BadRequestError(error.message, {
      reason: typeof code === 'string' ? code : 'request',
    });
  }
  return undefined;
}

function answer(
  status: number,
  code: string,
  message: string,
  details: unknown,
  headers: Record<string, string>,
): HttpAnswer {
  return {
    status,
    headers,
    body: { error: { code, message, ...(details === undefined ? {} : { details }) } },
  };
}
