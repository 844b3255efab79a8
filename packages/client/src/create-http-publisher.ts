/**
 * The HTTP transport of createPublisher: POST /v1/events and
 * /v1/events/batch on the producer, with the producer's answers mapped back
 * to the error classes the Redis transport throws (by the stable `code` of
 * `{error: {code, message, details}}`), so callers handle one set.
 *
 * Retries, always with the SAME request body, hence the same idempotency key:
 * - the key is chosen before the first attempt (the caller's, or derived
 *   here exactly as the producer would, with events' createEnvelope), so an
 *   attempt whose answer was lost is recognised by the next as the same
 *   publish: it answers 'duplicate' with the first eventId, never a second
 *   event;
 * - retried: network errors, attempt timeouts (`timeoutMs`), 5xx, and 429;
 *   never any other 4xx;
 * - wait: the answer's Retry-After on 429/503 (if it is over
 *   `maxRetryAfterMs` the publish gives up at once with that answer's error),
 *   else exponential backoff with jitter: `retryDelayMs * 2^n`, capped at
 *   `maxRetryDelayMs`, times a random 0.5..1;
 * - at most `retries` retries; then the last answer's error is thrown
 *   (BacklogFullError, RedisUnavailableError, ...), or ProducerUnavailableError
 *   when the producer never answered.
 *
 * A retry that lands after an attempt the producer did apply answers
 * 'duplicate', not 'accepted': the transport reports what the ledger says.
 */
import { integerOption } from './number-option.js';
import {
  SchemaInvalidError,
  UnknownEventTypeError,
  UnknownEventVersionError,
  createEnvelope,
  parsePublishRequest,
  type EventError,
  type EventIssue,
} from '@switchyard/events';
import type { PublishResult } from './create-redis-publisher.js';
import type { PublishError } from './errors.js';
import {
  BacklogFullError,
  IdempotencyConflictError,
  IdempotencyRecordInvalidError,
  ProducerRequestError,
  ProducerUnavailableError,
  PublisherClosedError,
  RedisUnavailableError,
} from './errors.js';
import {
  batchItemRequest,
  toPublishRequest,
  type PublishBatchItem,
  type PublishBatchResult,
  type PublishEventOptions,
  type PublishRequestBody,
  type TransportPublisher,
} from './publisher.js';

export interface HttpPublisherOptions {
  /** The producer's origin, e.g. `http://producer:3000`. */
  baseUrl: string | URL;
  /** One of the producer's API_KEYS, sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Bound on one attempt (request and answer), in ms. Default 10 000. */
  timeoutMs?: number;
  /** Retries after the first attempt (see the header for which answers). Default 3. */
  retries?: number;
  /** First backoff delay, in ms; doubles per retry. Default 200. */
  retryDelayMs?: number;
  /** Cap of one backoff delay, in ms. Default 5 000. */
  maxRetryDelayMs?: number;
  /** Longest Retry-After waited for, in ms; a longer one gives up at once. Default 30 000. */
  maxRetryAfterMs?: number;
  /**
   * Validate and key events here before sending (SchemaInvalidError without a
   * round trip). `false` sends them as given and lets the producer judge, for
   * a producer whose catalogue is newer than this process's. Default true.
   */
  validate?: boolean;
  /** The fetch to use. Default: Node's global fetch. */
  fetch?: typeof globalThis.fetch;
}

interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/** Event error classes by code; the producer answers them as 400. */
const eventErrors: Record<string, new (message: string, details?: EventIssue[]) => EventError> = {
  SY_ERR_SCHEMA_INVALID: SchemaInvalidError,
  SY_ERR_UNKNOWN_EVENT_TYPE: UnknownEventTypeError,
  SY_ERR_UNKNOWN_EVENT_VERSION: UnknownEventVersionError,
};

/** Publish error classes by code; each takes (message, {details}). */
const publishErrors: Record<
  string,
  new (message: string, options?: { details?: Record<string, unknown> }) => PublishError
> = {
  SY_ERR_IDEMPOTENCY_CONFLICT: IdempotencyConflictError,
  SY_ERR_IDEMPOTENCY_RECORD_INVALID: IdempotencyRecordInvalidError,
  SY_ERR_REDIS_UNAVAILABLE: RedisUnavailableError,
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseErrorBody(value: unknown): ErrorBody | undefined {
  const error = isRecord(value) ? value.error : undefined;
  if (!isRecord(error) || typeof error.code !== 'string' || typeof error.message !== 'string') {
    return undefined;
  }
  return { code: error.code, message: error.message, details: error.details };
}

/** Seconds of a Retry-After header (delta-seconds or HTTP date), or undefined. */
export function retryAfterSecondsOf(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1_000);
}

/** The error class a producer answer stands for; the same codes the Redis transport throws. */
export function errorFromAnswer(
  status: number,
  body: unknown,
  retryAfterSeconds: number | undefined,
): Error {
  const error = parseErrorBody(body);
  if (error === undefined) {
    const message = `the producer answered ${status} without an error body`;
    return status >= 500
      ? new ProducerUnavailableError(message, { details: { status } })
      : new ProducerRequestError(message, { code: 'SY_ERR_HTTP_' + status, status });
  }
  const details = isRecord(error.details) ? error.details : undefined;
  const EventErrorClass = eventErrors[error.code];
  if (EventErrorClass !== undefined) {
    return new EventErrorClass(
      error.message,
      Array.isArray(error.details) ? (error.details as EventIssue[]) : undefined,
    );
  }
  if (error.code === 'SY_ERR_BACKLOG_FULL') {
    const fromDetails = Number(details?.retryAfterSeconds);
    return new BacklogFullError(error.message, {
      queue: typeof details?.queue === 'string' ? details.queue : 'unknown',
      backlog: Number(details?.backlog ?? NaN),
      limit: Number(details?.limit ?? NaN),
      retryAfterSeconds: Math.max(
        1,
        Math.ceil(Number.isFinite(fromDetails) ? fromDetails : (retryAfterSeconds ?? 1)),
      ),
    });
  }
  const PublishErrorClass = publishErrors[error.code];
  if (PublishErrorClass !== undefined) {
    return new PublishErrorClass(error.message, details === undefined ? {} : { details });
  }
  if (status >= 500) {
    return new ProducerUnavailableError(error.message, {
      details: { status, producerCode: error.code },
    });
  }
  return new ProducerRequestError(error.message, {
    code: error.code,
    status,
    ...(details === undefined ? {} : { details }),
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Checks a 202 body's result; a malformed one is the producer's bug, reported as such. */
function asPublishResult(value: unknown): PublishResult {
  if (
    isRecord(value) &&
    typeof value.eventId === 'string' &&
    typeof value.idempotencyKey === 'string' &&
    (value.status === 'accepted' || value.status === 'duplicate') &&
    Array.isArray(value.queues)
  ) {
    return {
      eventId: value.eventId,
      idempotencyKey: value.idempotencyKey,
      status: value.status,
      queues: value.queues.map(String),
    };
  }
  throw new ProducerRequestError('the producer answered 202 with an unexpected body', {
    code: 'SY_ERR_BAD_RESPONSE',
    status: 202,
  });
}

export function createHttpPublisher(options: HttpPublisherOptions): TransportPublisher {
  const base = new URL(options.baseUrl);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = integerOption('timeoutMs', options.timeoutMs, 10_000, 1);
  const retries = integerOption('retries', options.retries, 3, 0, 100);
  const retryDelayMs = integerOption('retryDelayMs', options.retryDelayMs, 200, 0);
  const maxRetryDelayMs = integerOption('maxRetryDelayMs', options.maxRetryDelayMs, 5_000, 0);
  const maxRetryAfterMs = integerOption('maxRetryAfterMs', options.maxRetryAfterMs, 30_000, 0);
  const validate = options.validate ?? true;
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new PublisherClosedError('the publisher is closed');
  }

  /**
   * The body to send: validated (when `validate`) and carrying the
   * idempotency key the producer would derive, so every attempt names it.
   */
  function keyed(request: PublishRequestBody): PublishRequestBody {
    if (request.idempotencyKey !== undefined && !validate) return request;
    let envelope;
    try {
      envelope = createEnvelope(parsePublishRequest(request));
    } catch (error) {
      if (validate) throw error;
      return request; // the producer will say what is wrong with it
    }
    return { ...request, idempotencyKey: envelope.idempotencyKey };
  }

  function backoff(retry: number): number {
    return Math.min(maxRetryDelayMs, retryDelayMs * 2 ** retry) * (0.5 + Math.random() / 2);
  }

  /** One attempt: the answer, or the ProducerUnavailableError of a lost one. */
  async function attempt(
    url: URL,
    payload: string,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; body: unknown; retryAfter: number | undefined } | Error> {
    const attemptSignal =
      signal === undefined
        ? AbortSignal.timeout(timeoutMs)
        : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    try {
      const response = await fetchImpl(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: payload,
        signal: attemptSignal,
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = undefined; // not JSON: answered by status alone
      }
      return {
        status: response.status,
        body,
        retryAfter: retryAfterSecondsOf(response.headers.get('retry-after')),
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason as Error;
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      return new ProducerUnavailableError(
        timedOut
          ? `the producer did not answer within ${timeoutMs} ms`
          : `the producer could not be reached: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { url: url.href } },
      );
    }
  }

  /** POSTs `body` until it gets a 2xx or a final answer (see the header). */
  async function post(path: string, body: unknown, signal: AbortSignal | undefined) {
    const url = new URL(path, base);
    const payload = JSON.stringify(body);
    for (let retry = 0; ; retry += 1) {
      signal?.throwIfAborted();
      const answer = await attempt(url, payload, signal);
      let error: Error;
      let waitMs = backoff(retry);
      if (answer instanceof Error) {
        error = answer;
      } else {
        if (answer.status >= 200 && answer.status < 300) return answer.body;
        error = errorFromAnswer(answer.status, answer.body, answer.retryAfter);
        if (answer.status !== 429 && answer.status < 500) throw error;
        if (answer.retryAfter !== undefined && (answer.status === 429 || answer.status === 503)) {
          waitMs = answer.retryAfter * 1_000;
          // Longer than we are willing to wait: give up now with the answer.
          if (waitMs > maxRetryAfterMs) throw error;
        }
      }
      if (retry >= retries) throw error;
      await sleep(waitMs, signal);
    }
  }

  async function publish(
    type: string,
    data: unknown,
    publishOptions: PublishEventOptions = {},
  ): Promise<PublishResult> {
    assertOpen();
    const { signal, ...eventOptions } = publishOptions;
    signal?.throwIfAborted();
    const body = keyed(toPublishRequest(type, data, eventOptions));
    return asPublishResult(await post('/v1/events', body, signal));
  }

  async function publishBatch(
    items: readonly PublishBatchItem[],
    batchOptions: { signal?: AbortSignal } = {},
  ): Promise<PublishBatchResult[]> {
    assertOpen();
    batchOptions.signal?.throwIfAborted();
    const results = new Array<PublishBatchResult | undefined>(items.length);
    // Positions (in `items`) of the bodies sent, in sending order.
    const sent: number[] = [];
    const bodies: PublishRequestBody[] = [];
    items.forEach((item, index) => {
      try {
        bodies.push(keyed(batchItemRequest(item)));
        sent.push(index);
      } catch (error) {
        if (!(error instanceof SchemaInvalidError) && !isEventError(error)) throw error;
        results[index] = {
          index,
          status: 'rejected',
          error: {
            code: error.code,
            message: error.message,
            ...(error.details === undefined ? {} : { details: error.details }),
          },
        };
      }
    });
    if (bodies.length > 0) {
      const answer = await post('/v1/events/batch', bodies, batchOptions.signal);
      const answered = isRecord(answer) && Array.isArray(answer.results) ? answer.results : [];
      if (answered.length !== bodies.length) {
        throw new ProducerRequestError('the producer answered the batch with the wrong count', {
          code: 'SY_ERR_BAD_RESPONSE',
          status: 202,
        });
      }
      answered.forEach((result: unknown, position) => {
        const index = sent[position]!;
        if (isRecord(result) && result.status === 'rejected') {
          const error = parseErrorBody(result) ?? {
            code: 'SY_ERR_BAD_RESPONSE',
            message: 'rejected without an error',
          };
          results[index] = {
            index,
            status: 'rejected',
            error: {
              code: error.code,
              message: error.message,
              ...(error.details === undefined ? {} : { details: error.details }),
            },
          };
        } else {
          results[index] = { index, ...asPublishResult(result) };
        }
      });
    }
    return results.map((result) => result!);
  }

  return {
    transport: 'http',
    publish,
    publishBatch,
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}

function isEventError(error: unknown): error is EventError {
  return (
    error instanceof UnknownEventTypeError ||
    error instanceof UnknownEventVersionError ||
    error instanceof SchemaInvalidError
  );
}
