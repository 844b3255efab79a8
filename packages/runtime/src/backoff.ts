/**
 * The runtime's retry delay: exponential, capped, with downward jitter.
 *
 *   delay(n) = min(maxMs, baseMs · 2^(n−1)) · (1 − jitter · random())
 *
 * for the n-th failed attempt (n ≥ 1). Every delay lies in [d·(1−jitter), d]
 * with d = min(maxMs, baseMs·2^(n−1)), so it never exceeds maxMs; jitter only
 * shortens, which spreads retries of a burst without breaking the cap.
 * BullMQ's own exponential backoff is uncapped, hence this custom strategy
 * (registered on the Worker as `settings.backoffStrategy` for the backoff
 * type `backoffStrategyName`).
 */
export interface BackoffOptions {
  /** Delay after the first failed attempt, in ms (0..2147483647). Default: 1000. */
  baseMs: number;
  /** Largest delay, in ms (baseMs..2147483647). Default: 300000 (5 min). */
  maxMs: number;
  /** Share (0..1) a delay may be shortened by at random. Default: 0.2. */
  jitter: number;
}

export const defaultBackoff: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 1_000,
  maxMs: 300_000,
  jitter: 0.2,
});

/** The delay before retrying after failed attempt `attempt` (1-based), in whole ms. */
export function backoffDelay(
  options: BackoffOptions,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^exponent overflows to Infinity long before it matters; min() keeps the cap.
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  // ceil keeps the result inside [d·(1−jitter), d] for a whole-ms d.
  return Math.ceil(ceiling * (1 - options.jitter * random()));
}
