import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@switchyard/testkit';
import { pingRedis } from '../src/ping-redis.js';
import { fakeApp, FakeRepo } from './helpers/fake-repo.js';
import { freePorts, StackRun } from './helpers/run-stack.js';
import { isAlive } from './helpers/temp-dir.js';

// `pnpm start` as a process, against a fake repository whose apps are tiny
// HTTP servers. REDIS_URL points nowhere in particular unless a test is about
// Redis: the apps here never connect, and the stack does not probe it.

describe('pnpm start (apps/stack main)', () => {
  let repo: FakeRepo;
  let run: StackRun | undefined;
  let env: Record<string, string>;

  beforeEach(async () => {
    repo = new FakeRepo().app('sandbox').app('producer').app('worker-mail');
    const base = await freePorts(5);
    env = {
      STACK_ROOT: repo.path,
      REDIS_URL: 'redis://127.0.0.1:1',
      PRODUCER_PORT: String(base),
      SANDBOX_PORT: String(base + 1),
      WORKER_HEALTH_PORT_BASE: String(base + 2),
      WORKER_REPLICAS: '2',
      STACK_READY_TIMEOUT_MS: '5000',
      STACK_RESTART_DELAY_MS: '50',
    };
  });

  afterEach(async () => {
    await run?.kill();
    run = undefined;
    repo.remove();
  });

  const start = (extra: Record<string, string> = {}): StackRun => {
    run = new StackRun({ ...env, ...extra });
    return run;
  };
  const summaryPrinted = (stack: StackRun) => stack.stdout.waitFor(/Switchyard is running/, 15_000);
  const childEnv = (stack: StackRun, name: string): Record<string, string> => {
    const line =
      stack.stdout.lines().find((l) => l.startsWith(`[${name}]`) && l.includes('"listening"')) ??
      '';
    return (JSON.parse(line.slice(line.indexOf('{'))) as { env: Record<string, string> }).env;
  };

  describe('when every app is built', () => {
    it('starts each child with its environment, then prints the URLs, a generated key and a curl to paste', async () => {
      const stack = start();
      await summaryPrinted(stack);
      expect([...stack.childPids().keys()]).toEqual([
        'sandbox',
        'producer',
        'worker-mail-1',
        'worker-mail-2',
      ]);

      const key = /API key:\s+(sy_[A-Za-z0-9_-]{43})\b/.exec(stack.stdout.text)?.[1];
      expect(key, stack.output).toBeDefined();
      expect(childEnv(stack, 'producer')).toMatchObject({
        API_KEYS: key,
        REDIS_URL: 'redis://127.0.0.1:1',
        PRODUCER_PORT: env.PRODUCER_PORT,
      });
      expect(childEnv(stack, 'worker-mail-2')).toMatchObject({
        REDIS_URL: 'redis://127.0.0.1:1',
        SANDBOX_URL: `http://127.0.0.1:${env.SANDBOX_PORT}`,
        HEALTH_PORT: String(Number(env.WORKER_HEALTH_PORT_BASE) + 1),
        WORKER_ID: 'worker-mail-2',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      });
      expect(stack.stdout.text).toContain(
        `curl -sS -X POST http://127.0.0.1:${env.PRODUCER_PORT}/v1/events -H "Authorization: Bearer $KEY"`,
      );
      expect(stack.stdout.text).toMatch(/redis\s+redis:\/\/127\.0\.0\.1:1\s+from REDIS_URL/);
    });

    it('on SIGTERM stops every child with SIGTERM and exits 0', async () => {
      const stack = start();
      await summaryPrinted(stack);
      const pids = [...stack.childPids().values()];
      stack.signal('SIGTERM');
      expect(await stack.exited, stack.output).toBe(0);
      expect(stack.stdout.text.match(/"msg":"draining"/g)).toHaveLength(4);
      expect(stack.stdout.text).toMatch(/\[stack\]\s+stopped/);
      expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
    });

    it("passes the user's own variables on to the apps, under the stack's", async () => {
      const stack = start({
        BODY_LIMIT_BYTES: '4096',
        WORKER_CONCURRENCY: '3',
        QUEUE_PREFIX: 'mine',
        SHUTDOWN_TIMEOUT_MS: '2500',
        HEALTH_PORT: '1',
        HOST: '0.0.0.0',
      });
      await summaryPrinted(stack);
      const mine = {
        BODY_LIMIT_BYTES: '4096',
        WORKER_CONCURRENCY: '3',
        QUEUE_PREFIX: 'mine',
        SHUTDOWN_TIMEOUT_MS: '2500',
      };
      expect(childEnv(stack, 'producer')).toMatchObject({ ...mine, HOST: '127.0.0.1' });
      expect(childEnv(stack, 'worker-mail-1')).toMatchObject({
        ...mine,
        HOST: '127.0.0.1',
        HEALTH_PORT: env.WORKER_HEALTH_PORT_BASE,
      });
    });

    it('counts one Ctrl-C delivered twice at once (terminal and npm) as one request', async () => {
      repo.app('worker-mail', fakeApp({ drainMs: 300 }));
      const stack = start();
      await summaryPrinted(stack);
      stack.signal('SIGINT');
      stack.signal('SIGINT');
      expect(await stack.exited, stack.output).toBe(0);
      expect(stack.stdout.text.match(/"msg":"draining"/g)).toHaveLength(4);
    });
  });

  describe('when a second signal comes while children are still stopping', () => {
    it('kills everything at once and exits 1', async () => {
      repo.app('worker-mail', fakeApp({ ignoreSigterm: true }));
      const stack = start({ STACK_SHUTDOWN_TIMEOUT_MS: '60000' });
      await summaryPrinted(stack);
      const pids = [...stack.childPids().values()];
      stack.signal('SIGTERM');
      await stack.stdout.waitFor(/\[worker-mail-2\]\s+\{"msg":"draining"/);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const started = Date.now();
      stack.signal('SIGTERM');
      expect(await stack.exited, stack.output).toBe(1);
      // Far below the 60 s SIGTERM deadline; loose for a loaded machine.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(stack.stderr.text).toContain('SIGTERM received again: killing everything now');
      await waitFor(() => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
    });
  });

  describe('when the stack itself is SIGKILLed', () => {
    it('takes its children and the Redis it started with it', async () => {
      const redisPort = await freePorts(1);
      const { REDIS_URL: _unset, ...noRedis } = env;
      run = new StackRun({
        ...noRedis,
        STACK_REDIS_PORT: String(redisPort),
        STACK_SHUTDOWN_TIMEOUT_MS: '2000',
      });
      const stack = run;
      await summaryPrinted(stack);
      const pids = [...stack.childPids().entries()];
      expect(pids.map(([name]) => name).sort()).toEqual([
        'producer',
        'redis',
        'sandbox',
        'worker-mail-1',
        'worker-mail-2',
      ]);

      stack.signal('SIGKILL');
      await stack.exited;

      await waitFor(() => pids.every(([, pid]) => !isAlive(pid)), {
        timeoutMs: 10_000,
        message: `children of the killed stack to exit (${pids.map(([name, pid]) => `${name} ${pid}`).join(', ')})`,
      });
      expect(await pingRedis('127.0.0.1', redisPort, 300)).toBe('no-answer');
    });
  });

  describe('when a child crashes', () => {
    it('restarts it and says so', async () => {
      repo.app('worker-mail', "console.log('booting'); setTimeout(() => process.exit(3), 50);");
      const stack = start({ WORKER_REPLICAS: '1', STACK_READY_TIMEOUT_MS: '500' });
      await stack.stderr.waitFor(
        /\[stack\]\s+worker-mail-1 exited with code 3; restarting in 100ms \(restart #2\)/,
        10_000,
      );
      stack.signal('SIGTERM');
      expect(await stack.exited, stack.output).toBe(0);
    });
  });

  describe('when REDIS_URL is unset and nothing answers on STACK_REDIS_PORT', () => {
    it('starts redis-server with its data in .data/redis and stops it after the apps', async () => {
      const [redisPort] = [await freePorts(1)];
      const { REDIS_URL: _unset, ...noRedis } = env;
      run = new StackRun({ ...noRedis, STACK_REDIS_PORT: String(redisPort) });
      const stack = run;
      await summaryPrinted(stack);
      expect(stack.stdout.text).toMatch(
        new RegExp(`redis://127\\.0\\.0\\.1:${redisPort}\\s+started by the stack`),
      );
      expect(childEnv(stack, 'producer').REDIS_URL).toBe(`redis://127.0.0.1:${redisPort}`);
      expect(await pingRedis('127.0.0.1', redisPort ?? 0)).toBe('pong');

      stack.signal('SIGINT');
      expect(await stack.exited, stack.output).toBe(0);
      const text = stack.stdout.text;
      expect(text.indexOf('Received SIGTERM')).toBeGreaterThan(
        text.lastIndexOf('"msg":"draining"'),
      );
      expect(await pingRedis('127.0.0.1', redisPort ?? 0, 300)).toBe('no-answer');
      expect(
        readdirSync(join(repo.path, '.data', 'redis', 'appendonlydir')).length,
      ).toBeGreaterThan(0);
    });
  });

  describe('when it cannot start', () => {
    it('exits 1 naming an app that is not built, before starting anything', async () => {
      repo.app('producer', '', false);
      const stack = start();
      expect(await stack.exited).toBe(1);
      expect(stack.stderr.text).toContain('apps/producer is not built');
      expect(stack.stderr.text).toContain('pnpm turbo run build');
      expect(stack.childPids().size).toBe(0);
    });

    it('exits 1 naming a variable with a bad value', async () => {
      const stack = start({ WORKER_REPLICAS: '0' });
      expect(await stack.exited).toBe(1);
      expect(stack.stderr.text).toMatch(/WORKER_REPLICAS: /);
    });

    it('exits 1 naming API_KEYS when a key is one the producer would refuse, starting nothing', async () => {
      const stack = start({ API_KEYS: 'sy_a-long-enough-key-0123,too-short' });
      expect(await stack.exited, stack.output).toBe(1);
      expect(stack.stderr.text).toMatch(
        /API_KEYS(\.\d+)?: every key must be at least 16 characters/,
      );
      expect(stack.output).not.toContain('too-short');
      expect(stack.childPids().size).toBe(0);
    });

    it('exits 1 naming the variable of a port that is taken', async () => {
      const squatter = createServer();
      await new Promise<void>((resolve) =>
        squatter.listen(Number(env.PRODUCER_PORT), '127.0.0.1', resolve),
      );
      try {
        const stack = start();
        expect(await stack.exited).toBe(1);
        expect(stack.stderr.text).toContain(`port ${env.PRODUCER_PORT} (PRODUCER_PORT)`);
        expect(existsSync(join(repo.path, '.data'))).toBe(false);
      } finally {
        squatter.close();
      }
    });
  });
});
