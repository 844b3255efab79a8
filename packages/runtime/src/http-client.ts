/**
 * A small JSON-over-HTTP client for the downstream services handlers call.
 * It turns every way a call can go wrong into one of the typed downstream
 * errors, so the worker decides retry or not from the class alone:
 *
 * | answer                                   | error                         |
 * |------------------------------------------|-------------------------------|
 * | 2xx                                      | none: the parsed JSON body    |
 * | 429; 503 with a usable Retry-After       | DownstreamRateLimitedError    |
 * | other 5xx, 408, network error            | DownstreamUnavailableError    |
 * | no answer within `timeoutMs`             | DownstreamTimeoutError        |
 * | other 4xx (and 1xx/3xx that reach us)    | DownstreamRejectedError       |
 * | 2xx with a body over 1 MiB               | DownstreamUnavailableError    |
 *
 * Bodies are read up to `maxResponseBytes` (1 MiB) and no further, so a
 * misbehaving downstream cannot make a worker buffer without bound; an
 * error answer's body is cut there, a success's body fails the call.
 *
 * The caller's abort is not a downstream failure: it rejects with the
 * signal's own reason, unwrapped, so cancellation is never mistaken for an
 * outage.
 *
 * With tracing on, each call is a client span (child of the job's span) and
 * carries its W3C `traceparent` header to the downstream. With a `logger`,
 * each call writes one line (`downstream call`: method, path, status,
 * durationMs, or the error code), inside the job's correlation context;
 * bodies are never logged.
 */
import { startClientSpan, type Logger } from '@switchyard/observability';
import {
  DownstreamRateLimitedError,
  DownstreamRejectedError,
  DownstreamTimeoutError,
  DownstreamUnavailableError,
} from './errors.js';

export interface HttpClientOptions {
  /** Origin (and optional path prefix) every call's path is appended to, e.g. `http://127.0.0.1:3002`. */
  baseUrl: string;
  /** The fetch to call; tests and proxies inject theirs. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Bound on one call, from sending the request to the end of the body, in ms. Default: 10_000. */
  timeoutMs?: number;
  /** Current time in epoch ms, to turn an HTTP-date Retry-After into a delay. Default: `Date.now`. */
  now?: () => number;
  /** Where each call's one line goes (level info; failures warn). Default: no lines. */
  logger?: Logger;
}

export interface PostOptions {
  /** Sent as the `Idempotency-Key` header, so a retried call is applied once downstream. */
  idempotencyKey: string;
  /** The caller's cancellation (a handler passes ctx.signal); combined with the client's timeout. */
  signal?: AbortSignal;
}

export interface HttpClient {
  /** POSTs `body` as JSON; resolves with the parsed JSON answer (undefined for an empty body). */
  post(path: string, body: unknown, options: PostOptions): Promise<unknown>;
}

export const defaultHttpTimeoutMs = 10_000;

/** Most bytes of a response body read. */
export const maxResponseBytes = 1024 * 1024;

/** Characters of an error answer's body kept on the error message, for the log line. */
const errorBodyLimit = 300;

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? defaultHttpTimeoutMs;
  const now = options.now ?? Date.now;
  const base = options.baseUrl.replace(/\/+$/, '');
  const logger = options.logger;

  return {
    async post(path, body, { idempotencyKey, signal }) {
      const url = `${base}${path.startsWith('/') ? path : `/${path}`}`;
      const what = `POST ${path}`;
      const timeout = new AbortController();
      const timer = setTimeout(
        () =>
          timeout.abort(
            new DownstreamTimeoutError(`${what}: no answer within ${timeoutMs} ms`, undefined),
          ),
        timeoutMs,
      );
      const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
      const span = startClientSpan({ method: 'POST', url, name: what });
      const startedAt = performance.now();
      const durationMs = () => Math.round(performance.now() - startedAt);
      let response: Response;
      let answer: { text: string; truncated: boolean };
      try {
        response = await fetchFn(url, {
          method: 'POST',
          headers: {
            ...span?.headers,
            'content-type': 'application/json',
            accept: 'application/json',
            'idempotency-key': idempotencyKey,
          },
          body: JSON.stringify(body),
          signal: combined,
        });
        answer = await readCapped(response, maxResponseBytes);
      } catch (caught) {
        const error: unknown = signal?.aborted
          ? signal.reason
          : timeout.signal.aborted
            ? timeout.signal.reason
            : new DownstreamUnavailableError(`${what}: ${describe(caught)}`, undefined, {
                cause: caught,
              });
        span?.fail(error);
        logger?.warn(
          { method: 'POST', path, durationMs: durationMs(), code: codeOf(error) },
          'downstream call failed',
        );
        throw error;
      } finally {
        clearTimeout(timer);
      }
      span?.end(response.status);
      logger?.info(
        { method: 'POST', path, status: response.status, durationMs: durationMs() },
        'downstream call',
      );
      if (response.ok) {
        if (answer.truncated) {
          throw new DownstreamUnavailableError(
            `${what}: ${response.status} with a body over ${maxResponseBytes} bytes`,
            response.status,
          );
        }
        return parseJsonBody(answer.text, what, response.status);
      }
      throw statusError(
        response.status,
        response.headers.get('retry-after'),
        answer.text,
        what,
        now(),
      );
    },
  };
}

/** Reads at most `limit` bytes of the body; the rest is cancelled unread. */
async function readCapped(
  response: Response,
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: '', truncated: false };
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      chunks.push(value.subarray(0, limit - size));
      await reader.cancel();
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

function parseJsonBody(text: string, what: string, status: number): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // The call may have taken effect; a retry with the same Idempotency-Key gets the stored answer.
    throw new DownstreamUnavailableError(
      `${what}: ${status} with a body that is not JSON`,
      status,
      {
        cause: error,
      },
    );
  }
}

function statusError(
  status: number,
  retryAfter: string | null,
  body: string,
  what: string,
  nowMs: number,
): Error {
  const message = `${what}: ${status}${body === '' ? '' : ` ${body.slice(0, errorBodyLimit)}`}`;
  const retryAfterMs = parseRetryAfter(retryAfter, nowMs);
  if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
    return new DownstreamRateLimitedError(message, status, retryAfterMs);
  }
  if (status >= 500 || status === 408) return new DownstreamUnavailableError(message, status);
  return new DownstreamRejectedError(message, status);
}

/**
 * Retry-After is either delay-seconds (`120`) or an HTTP-date; a date in the
 * past means 0. Anything else is treated as absent.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at) || !/[a-z]/i.test(trimmed)) return undefined;
  return Math.max(0, at - nowMs);
}

function codeOf(error: unknown): string {
  const code: unknown = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown';
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
