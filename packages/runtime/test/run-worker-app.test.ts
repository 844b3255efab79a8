/**
 * runWorkerApp as users run it: a process (the fixture app, run with tsx),
 * driven by signals and its environment.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { queueNameOf } from '@switchyard/events';
import { freePort, signedUp, startApp, waitFor, type AppProcess } from '@switchyard/testkit';
import { useRedisHarness } from './support/redis-harness.js';

const entry = fileURLToPath(new URL('./fixtures/worker-app.ts', import.meta.url));

const harness = useRedisHarness({ downstream: true });

async function startWorkerProcess(env: Record<string, string> = {}) {
  const prefix = `sy-test-${randomUUID()}`;
  const port = await freePort();
  const queue = new Queue(queueNameOf('notifications'), { connection: harness.client, prefix });
  harness.cleanups.push(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });
  const app: AppProcess = await startApp({
    entry,
    name: 'fixture-worker',
    env: {
      NODE_OPTIONS: '--import tsx --conditions=@switchyard/source',
      REDIS_URL: harness.redisUrl,
      HEALTH_PORT: String(port),
      SANDBOX_URL: harness.downstream.url,
      QUEUE_PREFIX: prefix,
      ...env,
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: 20_000,
  });
  harness.cleanups.push(() => app.kill());
  return { app, queue, readyz: `http://127.0.0.1:${port}/readyz` };
}

describe('runWorkerApp', () => {
  describe('when SIGTERM arrives with a job in flight', () => {
    it('stops being ready, finishes the job, and exits 0', async () => {
      const { app, queue, readyz } = await startWorkerProcess();
      harness.downstream.hold();
      const envelope = signedUp();
      await queue.add(envelope.type, envelope, { jobId: envelope.id });
      await waitFor(() => harness.downstream.calls.length === 1, {
        timeoutMs: 10_000,
        message: 'call reached the downstream',
      });

      const exit = app.stop('SIGTERM', 15_000);
      await waitFor(async () => (await fetch(readyz)).status === 503, {
        message: '/readyz answers 503',
      });
      harness.downstream.release();

      expect(await exit).toBe(0);
      expect(await queue.getJobState(envelope.id)).toBe('completed');
      expect(app.output()).toMatch(/"msg":"job succeeded"[\s\S]*"msg":"stopped"/);
    });
  });

  describe('when a second signal arrives during shutdown', () => {
    it('exits at once with 128 + the signal number', async () => {
      const { app, queue } = await startWorkerProcess({ SHUTDOWN_TIMEOUT_MS: '60000' });
      harness.downstream.hold();
      const envelope = signedUp();
      await queue.add(envelope.type, envelope, { jobId: envelope.id });
      await waitFor(() => harness.downstream.calls.length === 1, {
        timeoutMs: 10_000,
        message: 'call reached the downstream',
      });

      const first = app.stop('SIGTERM', 60_000);
      await waitFor(() => app.output().includes('"msg":"shutting down"'), {
        message: 'shutdown began',
      });
      const started = Date.now();

      expect(await app.stop('SIGINT', 5_000)).toBe(130);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await first).toBe(130);
    });
  });

  describe('when Redis is unreachable', () => {
    it('exits 1 after STARTUP_TIMEOUT_MS with a clear message', async () => {
      const app = await startApp({
        entry,
        name: 'fixture-worker',
        env: {
          NODE_OPTIONS: '--import tsx --conditions=@switchyard/source',
          REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
          HEALTH_PORT: String(await freePort()),
          STARTUP_TIMEOUT_MS: '500',
        },
      });
      harness.cleanups.push(() => app.kill());

      expect(await app.exited).toBe(1);
      expect(app.output()).toContain('worker did not start within 500 ms');
    });
  });

  describe('when a variable has a bad value', () => {
    it('exits 1 and names the variable', async () => {
      const app = await startApp({
        entry,
        name: 'fixture-worker',
        env: {
          NODE_OPTIONS: '--import tsx --conditions=@switchyard/source',
          REDIS_URL: harness.redisUrl,
          WORKER_CONCURRENCY: '0',
        },
      });
      harness.cleanups.push(() => app.kill());

      expect(await app.exited).toBe(1);
      await waitFor(() => app.output().includes('WORKER_CONCURRENCY'), {
        message: 'the variable named',
      });
    });
  });
});
