/**
 * Start-up check: BullMQ keeps jobs, locks and markers in plain keys, and a
 * Redis that evicts keys under memory pressure silently loses jobs. Only
 * `noeviction` is safe. Read from `INFO memory`, which works where CONFIG is
 * disabled (managed Redis services).
 */
import { isRedisCluster, type RedisConnection } from '@switchyard/client';
import { EvictionPolicyError } from './errors.js';

/**
 * The server's maxmemory-policy; undefined when INFO does not say. On a
 * cluster every master is asked and the first policy other than noeviction
 * is returned (each master holds its own slots' jobs).
 */
export async function readEvictionPolicy(redis: RedisConnection): Promise<string | undefined> {
  const servers = isRedisCluster(redis) ? redis.nodes('master') : [redis];
  const policies = await Promise.all(
    servers.map(
      async (server) => /^maxmemory_policy:(\S+)/m.exec(await server.info('memory'))?.[1],
    ),
  );
  return policies.find((policy) => policy !== undefined && policy !== 'noeviction') ?? policies[0];
}

/** Throws EvictionPolicyError unless the policy is noeviction or `allow` is set. */
export async function checkEvictionPolicy(
  redis: RedisConnection,
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
