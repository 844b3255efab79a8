import type { Redis } from 'ioredis';

/**
 * Readiness probe: PING answered within `timeoutMs`. A connection that is
 * not ready counts as unreachable without sending anything, so the probe
 * never waits on ioredis' reconnect loop.
 */
export async function isRedisReachable(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      redis.ping().then(
        (reply) => reply === 'PONG',
        () => false,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
