/**
 * A circuit breaker (opossum) around one downstream's HttpClient, one per
 * downstream client per process.
 *
 * What counts as a failure: only outage-like answers, the ones that say the
 * downstream is down rather than that the request or its rate is wrong:
 * DownstreamUnavailableError (5xx, 408, network error, unreadable body),
 * DownstreamTimeoutError, and a 503 with Retry-After (a
 * DownstreamRateLimitedError with status 503: "down for maintenance", as
 * the sandbox's outage answers). Not a failure: a 4xx
 * (DownstreamRejectedError), a 429 (the Retry-After path handles it), the
 * caller's own abort for a reason other than time (shutdown's
 * WorkerClosingError, a lost lock's LockLostError, a handler's own cancel).
 * opossum counts those as successes, so a 4xx or 429 answer to a half-open
 * probe closes the breaker: the downstream answered. An abort because the
 * caller's time ran out (the handler's TimeoutError) IS a failure, whatever
 * the error it surfaces as: with a handler timeout shorter than the
 * client's, a downstream that never answers shows up only that way.
 *
 * States: closed; open once, among at least `volumeThreshold` calls in the
 * last `windowMs`, more than `errorThresholdPercent` % failed; after
 * `resetMs` half-open, letting one probe through, which closes it on
 * success and opens it again (for another `resetMs`) on failure. While
 * open (and while a half-open probe is in flight) a call fails at once with
 * CircuitOpenError, carrying the rest of the reset window: the worker holds
 * the subscriber's queue that long and the job waits without spending an
 * attempt. Each state change is one log line (downstream, from, to) and
 * shows in `sy_breaker_state` / `sy_breaker_transitions_total`.
 *
 * The breaker sets no timeout of its own: the client's `timeoutMs` bounds
 * a call and surfaces as DownstreamTimeoutError.
 */
import CircuitBreaker from 'opossum';
import type { Logger } from '@switchyard/observability';
import {
  CircuitOpenError,
  DownstreamRateLimitedError,
  DownstreamUnavailableError,
  TimeoutError,
  WorkerConfigError,
} from './errors.js';
import type { HttpClient, PostOptions } from './http-client.js';
import { createWorkerMetrics, type BreakerState, type MetricsRegistry } from './worker-metrics.js';

export interface CircuitBreakerOptions {
  /** The client every call goes through. */
  client: HttpClient;
  /** Names the downstream in logs, errors and the `downstream` label: a fixed, short name ('sandbox'). */
  downstream: string;
  logger: Logger;
  /** Registry for the breaker series; none when omitted. */
  registry?: MetricsRegistry;
  /** Opens when more than this share (%) of the window's calls failed; 1..100. Default: 50. */
  errorThresholdPercent?: number;
  /** Calls the window must hold before the breaker may open; 0..1000000. Default: 5. */
  volumeThreshold?: number;
  /** The rolling window the failure share is computed over, in ms; 10..2147483647. Default: 10000. */
  windowMs?: number;
  /** How long the breaker stays open before a probe, in ms; 1..2147483647. Default: 10000. */
  resetMs?: number;
  /** Wall clock in epoch ms, for the remaining reset window. Default: `Date.now`. */
  now?: () => number;
}

/** An HttpClient behind a breaker. */
export interface CircuitBreakerClient extends HttpClient {
  readonly downstream: string;
  /** The breaker's state now. */
  state(): BreakerState;
  /** Stops the breaker's timers; later calls fail. Idempotent. */
  close(): void;
}

export const defaultBreakerErrorThresholdPercent = 50;
export const defaultBreakerVolumeThreshold = 5;
export const defaultBreakerWindowMs = 10_000;
export const defaultBreakerResetMs = 10_000;

/** Whether an error says the downstream is down (counted by the breaker). */
export function isOutageError(error: unknown): boolean {
  return (
    error instanceof DownstreamUnavailableError ||
    (error instanceof DownstreamRateLimitedError && error.status === 503)
  );
}

/**
 * The caller gave up waiting for a reason that says nothing about the
 * downstream: shutdown, a lost lock, or any abort but a timeout.
 */
function isNeutralAbort(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && !isTimeoutAbort(signal);
}

/**
 * The caller gave up because its time ran out (the handler's TimeoutError,
 * or an AbortSignal.timeout): the downstream did not answer in time, which
 * counts as a failure even when the caller's limit is shorter than the client's.
 */
function isTimeoutAbort(signal: AbortSignal | undefined): boolean {
  if (signal?.aborted !== true) return false;
  const reason: unknown = signal.reason;
  return (
    reason instanceof TimeoutError ||
    (reason instanceof Error && reason.name === 'TimeoutError') ||
    (typeof DOMException !== 'undefined' &&
      reason instanceof DOMException &&
      reason.name === 'TimeoutError')
  );
}

export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreakerClient {
  const { client, downstream, logger } = options;
  const integer = (name: string, value: number, min: number, max: number): number => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new WorkerConfigError(
        `breaker ${name} must be an integer in ${min}..${max}, got ${value}`,
      );
    }
    return value;
  };
  const errorThresholdPercent = integer(
    'errorThresholdPercent',
    options.errorThresholdPercent ?? defaultBreakerErrorThresholdPercent,
    1,
    100,
  );
  const volumeThreshold = integer(
    'volumeThreshold',
    options.volumeThreshold ?? defaultBreakerVolumeThreshold,
    0,
    1_000_000,
  );
  const windowMs = integer('windowMs', options.windowMs ?? defaultBreakerWindowMs, 10, 2 ** 31 - 1);
  const resetMs = integer('resetMs', options.resetMs ?? defaultBreakerResetMs, 1, 2 ** 31 - 1);
  const now = options.now ?? Date.now;
  const metrics = options.registry ? createWorkerMetrics(options.registry) : undefined;

  const breaker = new CircuitBreaker<[string, unknown, PostOptions], unknown>(
    (path, body, postOptions) => client.post(path, body, postOptions),
    {
      name: downstream,
      timeout: false,
      resetTimeout: resetMs,
      rollingCountTimeout: windowMs,
      rollingCountBuckets: 10,
      errorThresholdPercentage: errorThresholdPercent,
      volumeThreshold,
      // true = not a failure. opossum passes the call's arguments after the error.
      errorFilter: (error: unknown, ...args: unknown[]) =>
        isNeutralAbort((args[2] as PostOptions | undefined)?.signal) ||
        (!isOutageError(error) && !isTimeoutAbort((args[2] as PostOptions | undefined)?.signal)),
    },
  );

  let state: BreakerState = 'closed';
  let openedAt = 0;
  metrics?.setBreakerState(downstream, state, false);
  const moveTo = (to: BreakerState) => {
    if (to === 'open') openedAt = now();
    if (to === state) return;
    logger.warn({ downstream, from: state, to }, 'circuit breaker state changed');
    state = to;
    metrics?.setBreakerState(downstream, to, true);
  };
  breaker.on('open', () => moveTo('open'));
  breaker.on('halfOpen', () => moveTo('half_open'));
  breaker.on('close', () => moveTo('closed'));

  return {
    downstream,
    state: () => state,
    close() {
      breaker.shutdown();
    },
    async post(path, body, postOptions) {
      try {
        return await breaker.fire(path, body, postOptions);
      } catch (error) {
        if ((error as { code?: unknown } | null)?.code === 'EOPENBREAKER') {
          // Open, or half-open with the probe in flight (nothing left of the window).
          const remainingMs = state === 'open' ? Math.max(0, openedAt + resetMs - now()) : 0;
          throw new CircuitOpenError(
            `${downstream}: circuit breaker open; not calling POST ${path} (${remainingMs} ms to a probe)`,
            downstream,
            remainingMs,
          );
        }
        throw error;
      }
    },
  };
}
