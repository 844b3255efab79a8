import { setTimeout as sleep } from 'node:timers/promises';
import { WaitForTimeoutError } from './errors.js';
import { within } from './within.js';

export interface WaitForOptions {
  /** Give up after this long. Default 5_000 ms. */
  timeoutMs?: number;
  /** Pause between attempts. Default 50 ms. */
  intervalMs?: number;
  /** What was awaited, for the timeout error. Default 'condition'. */
  message?: string;
}

type NotYet = undefined | null | false;

/**
 * Calls `fn` until it returns something other than `undefined`, `null` or
 * `false`, and resolves with that value. A throw counts as "not yet" (the
 * last one becomes the timeout error's cause), so `fn` may probe things that
 * are still starting. One attempt that hangs is cut off at the deadline.
 */
export async function waitFor<T>(
  fn: () => Promise<T | NotYet> | T | NotYet,
  opts: WaitForOptions = {},
): Promise<Exclude<T, NotYet>> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;

  for (;;) {
    attempts += 1;
    const remaining = deadline - Date.now();
    try {
      const attempt = await within(Promise.resolve().then(fn), remaining);
      if (
        attempt.settled &&
        attempt.value !== undefined &&
        attempt.value !== null &&
        attempt.value !== false
      ) {
        return attempt.value as Exclude<T, NotYet>;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() + intervalMs > deadline) break;
    await sleep(intervalMs);
  }

  const why =
    lastError === undefined
      ? ''
      : `; last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
  throw new WaitForTimeoutError(
    `${opts.message ?? 'condition'} not met within ${timeoutMs} ms (${attempts} attempts)${why}`,
    { cause: lastError },
  );
}
