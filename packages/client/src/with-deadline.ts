/**
 * Settles like `work`, or rejects with `onTimeout()` once `ms` have
 * passed, so no caller waits on Redis without bound (BullMQ waits for a
 * connection to become ready with no timeout of its own). The timer never
 * outlives the race. A `work` that settles after the deadline is left
 * handled: its outcome is whatever Redis did, which the idempotency record
 * left pending lets a retry complete.
 */
export async function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(ms, 0));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
