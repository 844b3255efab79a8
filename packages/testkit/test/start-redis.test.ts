import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { pingRedis, startRedis, type RedisHandle } from '../src/index.js';

// Every handle a test starts is stopped after it, pass or fail.
const handles: RedisHandle[] = [];
const clients: Redis[] = [];

async function start(...args: Parameters<typeof startRedis>): Promise<RedisHandle> {
  const handle = await startRedis(...args);
  handles.push(handle);
  return handle;
}

function connect(handle: RedisHandle): Redis {
  // No retries: a dead server must fail the command, not queue it.
  const client = new Redis(handle.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  clients.push(client);
  return client;
}

afterEach(async () => {
  clients.splice(0).forEach((client) => client.disconnect());
  await Promise.all(handles.splice(0).map((handle) => handle.stop()));
});

describe('startRedis', () => {
  describe('when forced to run a redis-server process', () => {
    it('starts a server on 127.0.0.1 that answers PING', async () => {
      const redis = await start({ forceProcess: true });

      expect(redis.kind).toBe('process');
      expect(redis.host).toBe('127.0.0.1');
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(redis.port).not.toBe(6379);
      expect(await connect(redis).ping()).toBe('PONG');
    });

    it('applies the server options it was given', async () => {
      const redis = await start({
        forceProcess: true,
        maxmemory: '64mb',
        maxmemoryPolicy: 'allkeys-lru',
      });
      const client = connect(redis);

      expect(await client.config('GET', 'maxmemory')).toEqual([
        'maxmemory',
        String(64 * 1024 * 1024),
      ]);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual([
        'maxmemory-policy',
        'allkeys-lru',
      ]);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    });

    it('defaults to noeviction, which BullMQ requires', async () => {
      const redis = await start({ forceProcess: true });

      expect(await connect(redis).config('GET', 'maxmemory-policy')).toEqual([
        'maxmemory-policy',
        'noeviction',
      ]);
    });

    it('makes the server unreachable after kill()', async () => {
      const redis = await start({ forceProcess: true });
      expect(await pingRedis(redis.host, redis.port)).toBe(true);

      await redis.kill();

      expect(await pingRedis(redis.host, redis.port)).toBe(false);
    });

    it('brings the server back on the same port after kill() and restart()', async () => {
      const redis = await start({ forceProcess: true });
      const port = redis.port;
      await redis.kill();

      await redis.restart();

      expect(redis.port).toBe(port);
      expect(await pingRedis('127.0.0.1', port)).toBe(true);
    });

    it('removes its data directory on stop(), and a second stop() is a no-op', async () => {
      const redis = await start({ forceProcess: true });
      const [, dir] = (await connect(redis).config('GET', 'dir')) as [string, string];
      expect(existsSync(dir)).toBe(true);

      await redis.stop();
      await redis.stop();

      expect(existsSync(dir)).toBe(false);
      expect(await pingRedis(redis.host, redis.port)).toBe(false);
    });

    it('refuses restart() after stop()', async () => {
      const redis = await start({ forceProcess: true });
      await redis.stop();

      await expect(redis.restart()).rejects.toMatchObject({ code: 'SY_ERR_TESTKIT_STOPPED' });
    });
  });

  describe('when appendonly is on', () => {
    it('keeps acknowledged writes across kill() and restart()', async () => {
      const redis = await start({ forceProcess: true, appendonly: 'always' });
      const writer = connect(redis);
      await writer.set('testkit:aof', 'survives');

      await redis.kill();
      await redis.restart();

      expect(await connect(redis).get('testkit:aof')).toBe('survives');
    });
  });

  describe('when appendonly is off', () => {
    // Negative control for the test above: without the AOF the write is gone,
    // so that test really depends on the data dir being reused.
    it('loses writes across kill() and restart()', async () => {
      const redis = await start({ forceProcess: true });
      await connect(redis).set('testkit:aof', 'lost');

      await redis.kill();
      await redis.restart();

      expect(await connect(redis).get('testkit:aof')).toBeNull();
    });
  });

  describe('when REDIS_URL is set', () => {
    const saved = process.env.REDIS_URL;
    // The machine's shared Redis: these tests only read the URL, never connect.
    const sharedUrl = 'redis://127.0.0.1:6379/5';

    afterEach(() => {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
    });

    it('returns an external handle for that URL', async () => {
      process.env.REDIS_URL = sharedUrl;

      const redis = await start();

      expect(redis).toMatchObject({
        kind: 'external',
        url: sharedUrl,
        host: '127.0.0.1',
        port: 6379,
      });
    });

    it('refuses kill() and restart(), pointing at a server of your own', async () => {
      process.env.REDIS_URL = sharedUrl;
      const redis = await start();

      await expect(redis.kill()).rejects.toMatchObject({
        code: 'SY_ERR_TESTKIT_UNSUPPORTED',
        message: expect.stringContaining('unset REDIS_URL') as unknown,
      });
      await expect(redis.restart()).rejects.toMatchObject({ code: 'SY_ERR_TESTKIT_UNSUPPORTED' });
    });

    it('is ignored when forceProcess is set', async () => {
      process.env.REDIS_URL = sharedUrl;

      const redis = await start({ forceProcess: true });

      expect(redis.kind).toBe('process');
      expect(redis.port).not.toBe(6379);
    });
  });

  describe('when REDIS_URL is unset', () => {
    it('settles on a container or a process quickly, even with a docker CLI and no engine', async () => {
      expect(process.env.REDIS_URL ?? '').toBe('');
      const startedAt = Date.now();

      const redis = await start();

      expect(['container', 'process']).toContain(redis.kind);
      expect(await pingRedis(redis.host, redis.port)).toBe(true);
      // The probe must fail fast where no engine answers; a container start
      // (image present) also fits in this bound.
      expect(Date.now() - startedAt).toBeLessThan(redis.kind === 'process' ? 5_000 : 60_000);
    });
  });

  describe('when no redis-server is on PATH', () => {
    const savedPath = process.env.PATH;

    afterEach(() => {
      process.env.PATH = savedPath;
    });

    it('throws SY_ERR_NO_REDIS saying how to get one', async () => {
      process.env.PATH = '/nonexistent';

      const failure = startRedis({ forceProcess: true });

      await expect(failure).rejects.toMatchObject({ code: 'SY_ERR_NO_REDIS' });
      await expect(failure).rejects.toThrow(
        /REDIS_URL[\s\S]*apt-get install -y redis-server[\s\S]*brew install redis/,
      );
    });
  });
});
