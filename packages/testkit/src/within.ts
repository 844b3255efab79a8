import { setTimeout as sleep } from 'node:timers/promises';

export type Within<T> = { settled: true; value: T } | { settled: false };

/**
 * Races `promise` against a timer that is cleared either way, so no timer
 * outlives the race. A rejection of `promise` propagates; after a timeout
 * it is left handled, since the caller already moved on.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<Within<T>> {
  const ac = new AbortController();
  const timer = sleep(Math.max(ms, 0), undefined, { signal: ac.signal }).then(
    () => ({ settled: false }) as const,
    () => ({ settled: false }) as const,
  );
  promise.catch(() => undefined);
  try {
    return await Promise.race([
      promise.then((value) => ({ settled: true, value }) as const),
      timer,
    ]);
  } finally {
    ac.abort();
  }
}
