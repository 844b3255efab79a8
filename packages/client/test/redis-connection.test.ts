/**
 * createRedisConnection and the REDIS_URL forms it reads: parsing (plain,
 * cluster, Sentinel), redaction, the hash-tag rule; then real servers: a
 * local 3-master Redis Cluster (publish, fan-out, duplicate, search and
 * queue figures under a hash-tagged prefix, and the refusal Redis gives an
 * un-tagged one) and a local Sentinel.
 */
import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  randomPrefix,
  signedUpRequest,
  startRedisCluster,
  startRedisSentinel,
  unlinkPrefix,
  waitReady,
  type RedisClusterHandle,
  type RedisSentinelHandle,
} from '@switchyard/testkit';
import {
  RedisUrlError,
  createRedisConnection,
  createRedisPublisher,
  findJobs,
  hashTagOf,
  isRedisReachable,
  parseRedisUrl,
  queuePrefixClusterProblem,
  readQueueFigures,
  redactRedisUrl,
  redisTopologyOf,
  type RedisConnection,
} from '../src/index.js';

describe('parseRedisUrl', () => {
  it('reads a plain URL as one server', () => {
    expect(parseRedisUrl('redis://u:p%40ss@cache.internal:6380/2')).toEqual({
      topology: 'standalone',
      tls: false,
      nodes: [{ host: 'cache.internal', port: 6380 }],
      username: 'u',
      password: 'p@ss',
      db: 2,
    });
    expect(parseRedisUrl('rediss://cache').tls).toBe(true);
  });

  it('reads a cluster URL as seed nodes with credentials', () => {
    expect(
      parseRedisUrl('rediss+cluster://app:s%3Acret@10.0.0.1:7000,10.0.0.2,[::1]:7002'),
    ).toEqual({
      topology: 'cluster',
      tls: true,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      username: 'app',
      password: 's:cret',
    });
  });

  it('reads a Sentinel URL as sentinels, master name, db and Sentinel credentials', () => {
    expect(
      parseRedisUrl(
        'redis+sentinel://:pw@s1:26379,s2/mymaster/3?sentinelPassword=spw&sentinelUsername=su',
      ),
    ).toEqual({
      topology: 'sentinel',
      tls: false,
      nodes: [
        { host: 's1', port: 26_379 },
        { host: 's2', port: 26_379 },
      ],
      password: 'pw',
      masterName: 'mymaster',
      db: 3,
      sentinelUsername: 'su',
      sentinelPassword: 'spw',
    });
  });

  it.each([
    ['http://host:6379', /must start with one of/],
    ['redis+cluster://', /at least one host:port/],
    ['redis+cluster://h:1/0', /no path/],
    ['redis+cluster://h:99999', /not host:port/],
    ['redis+sentinel://h:26379', /masterName/],
    ['redis+sentinel://h:26379/m/x', /masterName/],
  ])('refuses %s', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(RedisUrlError);
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  it('never puts the password in its errors', () => {
    expect(() => parseRedisUrl('redis+cluster://u:topsecret@h:notaport')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('topsecret') as string }),
    );
  });

  it('names the topology from the scheme', () => {
    expect(redisTopologyOf('redis://h')).toBe('standalone');
    expect(redisTopologyOf('REDISS+CLUSTER://h:1')).toBe('cluster');
    expect(redisTopologyOf('redis+sentinel://h/m')).toBe('sentinel');
    expect(redisTopologyOf('memcached://h')).toBeUndefined();
  });
});

describe('redactRedisUrl', () => {
  it.each([
    ['redis://:hunter2@h:6379', 'redis://:***@h:6379'],
    ['redis+cluster://app:hunter2@a:1,b:2', 'redis+cluster://app:***@a:1,b:2'],
    [
      'redis+sentinel://s:1/m?sentinelPassword=hunter2',
      'redis+sentinel://s:1/m?sentinelPassword=***',
    ],
    ['redis://h:6379', 'redis://h:6379'],
  ])('%s -> %s', (url, redacted) => {
    expect(redactRedisUrl(url)).toBe(redacted);
  });
});

describe('the hash-tag rule', () => {
  it('finds a non-empty tag', () => {
    expect(hashTagOf('{sy}')).toBe('sy');
    expect(hashTagOf('prod:{sy}')).toBe('sy');
    expect(hashTagOf('{}sy')).toBeUndefined();
    expect(hashTagOf('sy')).toBeUndefined();
  });

  it('refuses an un-tagged prefix on a cluster only, naming both variables and the fix', () => {
    expect(queuePrefixClusterProblem('redis://h', 'sy')).toBeUndefined();
    expect(queuePrefixClusterProblem('redis+sentinel://h/m', 'sy')).toBeUndefined();
    expect(queuePrefixClusterProblem('redis+cluster://h:1', '{sy}')).toBeUndefined();
    const problem = queuePrefixClusterProblem('redis+cluster://h:1', 'sy');
    expect(problem).toMatch(/QUEUE_PREFIX/);
    expect(problem).toMatch(/REDIS_URL/);
    expect(problem).toMatch(/QUEUE_PREFIX=\{sy\}/);
  });
});

describe('on a local 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let connection: RedisConnection;
  let admin: RedisConnection;
  const prefixes: string[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    connection = createRedisConnection({
      url: cluster.url,
      profile: 'fail-fast',
      commandTimeoutMs: 2_000,
    });
    admin = createRedisConnection({ url: cluster.url, profile: 'blocking' });
    await Promise.all([waitReady(connection), waitReady(admin)]);
  }, 60_000);
  afterAll(async () => {
    for (const prefix of prefixes) await unlinkPrefix(admin, prefix);
    connection?.disconnect();
    admin?.disconnect();
    await cluster?.stop();
  });

  it('opens a Cluster client with the profile asked for', () => {
    expect(connection).toBeInstanceOf(Cluster);
    const cluster = connection as Cluster;
    expect(cluster.options.enableOfflineQueue).toBe(false);
    expect(cluster.options.redisOptions?.maxRetriesPerRequest).toBe(1);
    expect(cluster.options.redisOptions?.commandTimeout).toBe(2_000);
    expect((admin as Cluster).options.redisOptions?.maxRetriesPerRequest).toBeNull();
  });

  it('answers the readiness probe', async () => {
    expect(await isRedisReachable(connection, 1_000)).toBe(true);
  });

  it('publishes, fans out, refuses a duplicate, and finds the event under a hash-tagged prefix', async () => {
    const prefix = `{${randomPrefix()}}`;
    prefixes.push(prefix);
    const publisher = createRedisPublisher({ connection, prefix });
    const request = signedUpRequest('u_cluster', { idempotencyKey: 'k-cluster-1' });
    const receipt = await publisher.publish(request);
    expect(receipt.status).toBe('accepted');
    expect([...receipt.queues].sort()).toEqual(['notifications', 'provisioning']);
    for (const name of receipt.queues) {
      const queue = new Queue(name, { connection: admin, prefix });
      expect(await queue.getJobCounts('wait')).toEqual({ wait: 1 });
      await queue.close();
    }
    expect((await publisher.publish(request)).status).toBe('duplicate');

    const found = await findJobs(connection, { prefix, id: receipt.eventId });
    expect(found.map((job) => `${job.queue}:${job.state}`).sort()).toEqual([
      'notifications:waiting',
      'provisioning:waiting',
    ]);
    const figures = await readQueueFigures(connection, prefix, ['notifications'], Date.now());
    expect(figures[0]?.backlog).toBe(1);
    expect(figures[0]?.oldestWaitingAgeSeconds).toBeGreaterThanOrEqual(0);
    await publisher.close();
  });

  it('cannot publish under an un-tagged prefix (why the apps refuse one)', async () => {
    // Negative control: without the tag the fan-out's keys land in several
    // slots, and the cluster refuses the transaction.
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const publisher = createRedisPublisher({ connection, prefix });
    await expect(publisher.publish(signedUpRequest('u_untagged'))).rejects.toThrow(/same slot/);
    await publisher.close();
  });
});

describe('through a local Sentinel', () => {
  let sentinel: RedisSentinelHandle;

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  }, 30_000);
  afterAll(async () => {
    await sentinel?.stop();
  });

  it('connects to the master Sentinel names', async () => {
    const connection = createRedisConnection({ url: sentinel.url, profile: 'fail-fast' });
    const master = new Redis(sentinel.masterUrl, { maxRetriesPerRequest: 1 });
    try {
      expect(connection).toBeInstanceOf(Redis);
      await waitReady(connection);
      await connection.set('sy-sentinel-probe', 'through-sentinel');
      expect(await master.get('sy-sentinel-probe')).toBe('through-sentinel');
    } finally {
      connection.disconnect();
      master.disconnect();
    }
  });
});
