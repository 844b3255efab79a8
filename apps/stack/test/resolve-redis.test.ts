import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, startRedis, type RedisHandle } from '@switchyard/testkit';
import { pingRedis } from '../src/ping-redis.js';
import { resolveRedis, type ResolvedRedis } from '../src/resolve-redis.js';
import { TaggedOutput } from '../src/tagged-output.js';
import { CapturedStream } from './helpers/captured-stream.js';
import { TempDir } from './helpers/temp-dir.js';

// Every test names its own port: the Redis this machine may run on 6379 is
// never probed, started over, flushed or stopped here.

describe('resolveRedis', () => {
  let dir: TempDir;
  let stdout: CapturedStream;
  let output: TaggedOutput;
  let resolved: ResolvedRedis | undefined;
  let server: RedisHandle | undefined;
  let client: Redis | undefined;

  beforeEach(() => {
    dir = new TempDir();
    stdout = new CapturedStream();
    output = new TaggedOutput({ stdout, stderr: stdout, names: ['stack', 'redis'] });
  });

  afterEach(async () => {
    client?.disconnect();
    client = undefined;
    await resolved?.stop();
    resolved = undefined;
    await server?.stop();
    server = undefined;
    dir.remove();
  });

  const connect = (url: string): Redis => {
    client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    return client;
  };

  describe('when REDIS_URL is set', () => {
    it('uses it as given, without probing or starting anything', async () => {
      const port = await freePort();
      resolved = await resolveRedis({
        redisUrl: 'redis://:secret@redis.internal:6380/2',
        port,
        dataDir: join(dir.path, 'data'),
        redisServerBin: join(dir.path, 'no-such-redis-server'),
        output,
      });
      expect(resolved).toMatchObject({
        url: 'redis://:secret@redis.internal:6380/2',
        source: 'REDIS_URL',
      });
      expect(existsSync(join(dir.path, 'data'))).toBe(false);
      expect(await pingRedis('127.0.0.1', port, 200)).toBe('no-answer');
    });
  });

  describe('when a Redis already answers on the port', () => {
    it('uses that one and leaves it running on stop()', async () => {
      server = await startRedis({ forceProcess: true });
      resolved = await resolveRedis({
        port: server.port,
        dataDir: join(dir.path, 'data'),
        redisServerBin: join(dir.path, 'no-such-redis-server'),
        output,
      });
      expect(resolved).toMatchObject({
        url: `redis://127.0.0.1:${server.port}`,
        source: 'existing',
      });
      await resolved.stop();
      expect(await pingRedis('127.0.0.1', server.port)).toBe('pong');
    });

    it('refuses one that wants a password, saying to put it in REDIS_URL', async () => {
      server = await startRedis({ forceProcess: true });
      await connect(server.url).config('SET', 'requirepass', 'hunter2');
      await expect(
        resolveRedis({ port: server.port, dataDir: join(dir.path, 'data'), output }),
      ).rejects.toMatchObject({
        code: 'SY_ERR_REDIS_AUTH_REQUIRED',
        message: expect.stringContaining('REDIS_URL=redis://:PASSWORD@') as unknown,
      });
    });
  });

  describe('when nothing answers on the port', () => {
    it('starts redis-server with AOF and noeviction in the data folder, and tags its output', async () => {
      const port = await freePort();
      const dataDir = join(dir.path, 'data');
      resolved = await resolveRedis({ port, dataDir, output });
      expect(resolved).toMatchObject({ url: `redis://127.0.0.1:${port}`, source: 'started' });
      const redis = connect(resolved.url);
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await redis.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual([
        'maxmemory-policy',
        'noeviction',
      ]);
      expect(await redis.config('GET', 'dir')).toEqual(['dir', dataDir]);
      expect(stdout.text).toMatch(/^\[redis\] .*Ready to accept connections/m);
    });

    it('applies infra/redis/redis.conf when given', async () => {
      const port = await freePort();
      resolved = await resolveRedis({
        port,
        dataDir: join(dir.path, 'data'),
        configFile: new URL('../../../infra/redis/redis.conf', import.meta.url).pathname,
        output,
      });
      expect(await connect(resolved.url).config('GET', 'protected-mode')).toEqual([
        'protected-mode',
        'yes',
      ]);
    });

    it('stops it with SIGTERM so what was written is there after a restart', async () => {
      const port = await freePort();
      const dataDir = join(dir.path, 'data');
      resolved = await resolveRedis({ port, dataDir, output });
      await connect(resolved.url).set('sy:stack-test', 'kept');
      client?.disconnect();
      await resolved.stop();
      expect(stdout.text).toMatch(/Received SIGTERM/);
      expect(await pingRedis('127.0.0.1', port, 200)).toBe('no-answer');
      expect(
        readdirSync(join(dataDir, 'appendonlydir')).some((file) => file.endsWith('.aof')),
      ).toBe(true);

      resolved = await resolveRedis({ port, dataDir, output });
      expect(await connect(resolved.url).get('sy:stack-test')).toBe('kept');
    });

    it('fails fast, naming the port, when redis-server cannot bind it', async () => {
      const port = await freePort();
      const squatter: Server = createServer((socket) => socket.on('error', () => undefined));
      await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
      try {
        const started = Date.now();
        await expect(
          resolveRedis({ port, dataDir: join(dir.path, 'data'), output, probeTimeoutMs: 200 }),
        ).rejects.toMatchObject({
          code: 'SY_ERR_REDIS_START_FAILED',
          message: expect.stringContaining(`port ${port}`) as unknown,
        });
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(stdout.text).not.toContain('restarting');
      } finally {
        squatter.close();
      }
    });
  });

  describe('when there is no redis-server to start', () => {
    it('says exactly how to get one', async () => {
      const port = await freePort();
      const error: unknown = await resolveRedis({
        port,
        dataDir: join(dir.path, 'data'),
        redisServerBin: join(dir.path, 'no-such-redis-server'),
        output,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SY_ERR_REDIS_SERVER_MISSING' });
      const { message } = error as Error;
      expect(message).toContain('REDIS_URL=');
      expect(message).toContain('apt-get install -y redis-server');
      expect(message).toContain('brew install redis');
    });
  });
});

describe('pingRedis', () => {
  describe('when nothing listens', () => {
    it('answers no-answer', async () => {
      expect(await pingRedis('127.0.0.1', await freePort(), 500)).toBe('no-answer');
    });
  });

  describe('when something that is not Redis listens', () => {
    it('answers no-answer within its timeout', async () => {
      const port = await freePort();
      const silent = createServer((socket) => socket.on('error', () => undefined));
      await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
      try {
        const started = Date.now();
        expect(await pingRedis('127.0.0.1', port, 200)).toBe('no-answer');
        expect(Date.now() - started).toBeLessThan(1_000);
      } finally {
        silent.close();
      }
    });
  });

  describe('when the machine runs a Redis on 6379', () => {
    it('only PINGs it, and answers within its timeout whatever is there', async () => {
      const started = Date.now();
      expect(['pong', 'auth-required', 'no-answer']).toContain(
        await pingRedis('127.0.0.1', 6379, 500),
      );
      expect(Date.now() - started).toBeLessThan(1_000);
    });
  });
});
