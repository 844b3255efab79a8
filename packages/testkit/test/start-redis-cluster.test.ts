/**
 * startRedisCluster and startRedisSentinel: real redis-server processes on
 * loopback ports (never 6379) that form a working cluster / answer as a
 * Sentinel, and are gone (ports closed, dirs removed) after stop().
 */
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  pingRedis,
  startRedisCluster,
  startRedisSentinel,
  type RedisClusterHandle,
  type RedisSentinelHandle,
} from '../src/index.js';

const handles: (RedisClusterHandle | RedisSentinelHandle)[] = [];

afterEach(async () => {
  await Promise.all(handles.splice(0).map((handle) => handle.stop()));
});

describe('startRedisCluster', () => {
  it('forms a 3-master cluster that serves every slot, and stops every node', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    handles.push(cluster);
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.nodes.every((node) => node.host === '127.0.0.1' && node.port !== 6379)).toBe(
      true,
    );
    expect(cluster.url).toBe(
      `redis+cluster://${cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}`,
    );
    const client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    try {
      // Keys of different slots, so every master is written to.
      const keys = Array.from({ length: 30 }, (_, index) => `probe-${index}`);
      await Promise.all(keys.map((key) => client.set(key, key)));
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys);
      const info = (await client.call('CLUSTER', 'INFO')) as string;
      expect(info).toMatch(/^cluster_state:ok/m);
      expect(info).toMatch(/^cluster_slots_assigned:16384/m);
      expect(client.nodes('master')).toHaveLength(3);
    } finally {
      client.disconnect();
    }

    await cluster.stop();
    for (const node of cluster.nodes)
      expect(await pingRedis(node.host, node.port, 500)).toBe(false);
  }, 60_000);

  it('refuses a master count out of range', async () => {
    await expect(startRedisCluster({ masters: 0 })).rejects.toThrow(/masters must be/);
  });
});

describe('startRedisSentinel', () => {
  it('names a master that serves writes, and stops both servers', async () => {
    const sentinel = await startRedisSentinel({ masterName: 'probe-master' });
    handles.push(sentinel);
    expect(sentinel.url).toMatch(/^redis\+sentinel:\/\/127\.0\.0\.1:\d+\/probe-master$/);
    const client = new Redis({
      sentinels: [{ host: '127.0.0.1', port: Number(/:(\d+)\//.exec(sentinel.url)![1]) }],
      name: 'probe-master',
      maxRetriesPerRequest: 1,
    });
    try {
      await client.set('probe', 'ok');
      expect(await client.get('probe')).toBe('ok');
    } finally {
      client.disconnect();
    }
    await sentinel.stop();
    expect(await pingRedis('127.0.0.1', Number(new URL(sentinel.masterUrl).port), 500)).toBe(false);
  }, 30_000);
});
