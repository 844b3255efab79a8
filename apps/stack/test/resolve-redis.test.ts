import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import { findOnPath } from '../src/find-on-path.js';
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

  /** An executable script `name` alone in a fresh folder; returns the folder. */
  const wrapper = (name: string, source: string): string => {
    const folder = join(dir.path, `bin-${Math.random().toString(36).slice(2)}`);
    mkdirSync(folder);
    writeFileSync(join(folder, name), source, { mode: 0o755 });
    return folder;
  };

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
          resolveRedis({
            port,
            dataDir: join(dir.path, 'data'),
            output,
            probeTimeoutMs: 200,
            startTimeoutMs: 30_000,
          }),
        ).rejects.toMatchObject({
          code: 'SY_ERR_REDIS_START_FAILED',
          message: expect.stringContaining(`port ${port}`) as unknown,
        });
        // On its exit, not by waiting out the 30 s start timeout.
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(stdout.text).not.toContain('restarting');
      } finally {
        squatter.close();
      }
    });
  });

  describe('when redis-server is on PATH outside /usr/bin:/bin (Homebrew, /usr/local/bin)', () => {
    it('runs the one found on PATH, by its absolute path', async () => {
      // A wrapper that says it ran, then becomes the real server. Spawned by
      // bare name with an empty environment, /usr/bin/redis-server would run
      // instead (or nothing, on a machine without one there).
      const real = findOnPath('redis-server', process.env.PATH) ?? 'redis-server';
      const bin = wrapper(
        'redis-server',
        `#!/bin/sh\necho "redis-server from the stack's PATH"\nexec '${real}' "$@"\n`,
      );
      const port = await freePort();
      resolved = await resolveRedis({
        port,
        dataDir: join(dir.path, 'data'),
        searchPath: bin,
        output,
      });
      expect(resolved.source).toBe('started');
      expect(stdout.text).toMatch(/^\[redis\] redis-server from the stack's PATH$/m);
      expect(await pingRedis('127.0.0.1', port)).toBe('pong');
    });
  });

  describe('when redis-server is found but cannot be spawned', () => {
    it('says it could not run, not that it died or that the port is taken', async () => {
      // Passes the --version check, then is gone when the server is spawned.
      const bin = wrapper(
        'redis-server',
        '#!/bin/sh\nif [ "$1" = --version ]; then rm -f -- "$0"; echo v7; exit 0; fi\nexit 1\n',
      );
      const port = await freePort();
      const error: unknown = await resolveRedis({
        port,
        dataDir: join(dir.path, 'data'),
        searchPath: bin,
        output,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SY_ERR_REDIS_START_FAILED' });
      const { message } = error as Error;
      expect(message).toMatch(/could not run \/\S+\/redis-server: spawn \S+ ENOENT/);
      expect(message).not.toMatch(/killed by|exited with|port .* taken|tagged \[redis\]/);
      expect(stdout.text).not.toContain('restarting');
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

    it('says the same when PATH has none', async () => {
      const port = await freePort();
      await expect(
        resolveRedis({ port, dataDir: join(dir.path, 'data'), searchPath: dir.path, output }),
      ).rejects.toMatchObject({ code: 'SY_ERR_REDIS_SERVER_MISSING' });
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
        // Its own timeout, not the OS's; loose for a loaded machine.
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        silent.close();
      }
    });
  });

  // What the stack does to a Redis it finds (a developer's own, on 6379):
  // one PING and nothing else. Played by a fake server on a free port, so the
  // machine's own Redis is never touched.
  describe('when a Redis-like server answers', () => {
    it.each([
      ['+PONG', 'pong'],
      ['-NOAUTH Authentication required.', 'auth-required'],
      ['-WRONGPASS invalid username-password pair', 'auth-required'],
      ['-ERR unknown command', 'no-answer'],
    ])('sends one PING only, reads "%s" as %s and hangs up', async (reply, expected) => {
      const port = await freePort();
      let received = '';
      let closedByClient = false;
      const fake = createServer((socket) => {
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          received += chunk;
          socket.write(`${reply}\r\n`);
        });
        socket.on('end', () => (closedByClient = true));
        socket.on('error', () => (closedByClient = true));
      });
      await new Promise<void>((resolve) => fake.listen(port, '127.0.0.1', resolve));
      try {
        expect(await pingRedis('127.0.0.1', port, 2_000)).toBe(expected);
        await waitFor(() => closedByClient, { timeoutMs: 5_000 });
        expect(received).toBe('*1\r\n$4\r\nPING\r\n');
      } finally {
        fake.close();
      }
    });
  });
});
