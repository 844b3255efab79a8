/**
 * Start-up check: BullMQ keeps jobs, locks and markers in plain keys, and a
 * Redis that evicts keys under memory pressure silently loses jobs. Only
 * `noeviction` is safe. Read from `INFO memory`, which works where CONFIG is
 * disabled (managed Redis services).
 */
import type { Redis } from 'ioredis';
import { EvictionPolicyError } from './errors.js';

/** The server's maxmemory-policy; undefined when INFO does not say. */
export async function readEvictionPolicy(redis: Redis): Promise<string | undefined> {
  const info = await redis.info('memory');
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

/** Throws EvictionPolicyError unless the policy is noeviction or `allow` is set. */
export async function checkEvictionPolicy(
  redis: Redis,
  allow: boolean,
): Promise<string | undefined> {
  const policy = await readEvictionPolicy(redis);
  if (policy === undefined || policy === 'noeviction' || allow) return policy;
  throw new EvictionPolicyError(
    `Redis maxmemory-policy is "${policy}": it may evict queue keys and lose jobs. ` +
      `Set it to "noeviction" (CONFIG SET maxmemory-policy noeviction, or in redis.conf), ` +
      `or override at your own risk with ALLOW_EVICTION_POLICY=true (createWorker option allowEvictionPolicy).`,
  );
}
