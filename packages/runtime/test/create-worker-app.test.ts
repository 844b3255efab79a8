import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { queueNameOf } from '@switchyard/events';
import { ConfigError, createMetricsRegistry, parseEnv } from '@switchyard/observability';
import { freePort, signedUp, startRedis, waitFor } from '@switchyard/testkit';
import {
  WorkerClosingError,
  WorkerConfigError,
  createWorkerApp,
  defineHandler,
  workerEnvSchema,
  type WorkerAppDeps,
} from '../src/index.js';
import { captureLogs } from './support/capture-logs.js';
import { useRedisHarness } from './support/redis-harness.js';

const harness = useRedisHarness({ downstream: true });

const welcome = ({ sandbox }: WorkerAppDeps) => [
  defineHandler({
    subscriber: 'notifications',
    event: 'user.signed_up',
    handle: async (event, ctx) => {
      await sandbox.post(
        '/email',
        { userId: event.data.userId },
        { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal },
      );
    },
  }),
];

async function startApp() {
  const prefix = `sy-test-${randomUUID()}`;
  const env = parseEnv(workerEnvSchema('worker-test'), {
    REDIS_URL: harness.redisUrl,
    HEALTH_PORT: '0',
    SANDBOX_URL: harness.downstream.url,
    QUEUE_PREFIX: prefix,
    WORKER_ID: 'worker-test-1',
    SHUTDOWN_TIMEOUT_MS: '5000',
  });
  const queue = new Queue(queueNameOf('notifications'), { connection: harness.client, prefix });
  harness.cleanups.push(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });
  const app = createWorkerApp({
    name: 'worker-test',
    subscriber: 'notifications',
    handlers: welcome,
    env,
    logger: captureLogs().logger,
    registry: createMetricsRegistry({ service: 'worker-test', processMetrics: false }),
  });
  harness.cleanups.push(() => app.stop());
  await app.start();
  return { app, queue };
}

const status = async (url: string) => (await fetch(url)).status;

describe('createWorkerApp', () => {
  describe('when started', () => {
    it('is ready, runs jobs through the handlers built with its sandbox client, and serves metrics', async () => {
      const { app, queue } = await startApp();
      expect(await status(`${app.healthUrl}/readyz`)).toBe(200);
      expect(await status(`${app.healthUrl}/healthz`)).toBe(200);
      const envelope = signedUp('u_9');

      await queue.add(envelope.type, envelope, { jobId: envelope.id });
      await waitFor(async () => (await queue.getJobState(envelope.id)) === 'completed', {
        timeoutMs: 10_000,
      });

      expect(harness.downstream.calls).toEqual([
        expect.objectContaining({
          url: '/email',
          body: { userId: 'u_9' },
          headers: expect.objectContaining({
            'idempotency-key': envelope.idempotencyKey,
          }) as unknown,
        }),
      ]);
      const metrics = await (await fetch(`${app.healthUrl}/metrics`)).text();
      expect(metrics).toMatch(
        /sy_jobs_total\{subscriber="notifications",outcome="succeeded",service="worker-test"\} 1/,
      );
    });
  });

  describe('when stopped with a job in flight', () => {
    it('answers /readyz 503 while the job finishes, then closes the health server', async () => {
      const { app, queue } = await startApp();
      harness.downstream.hold();
      const envelope = signedUp();
      await queue.add(envelope.type, envelope, { jobId: envelope.id });
      await waitFor(() => harness.downstream.calls.length === 1, {
        message: 'call reached the downstream',
      });

      const stopping = app.stop();
      expect(app.isReady()).toBe(false);
      expect(await status(`${app.healthUrl}/readyz`)).toBe(503);

      harness.downstream.release();
      await stopping;
      expect(await queue.getJobState(envelope.id)).toBe('completed');
      await expect(fetch(`${app.healthUrl}/healthz`)).rejects.toThrow();
    });
  });

  describe('when Redis goes away and comes back', () => {
    it('answers /readyz 503 during the outage and 200 after it', async () => {
      const own = await startRedis({ forceProcess: true });
      harness.cleanups.push(() => own.stop());
      const env = parseEnv(workerEnvSchema('worker-test'), {
        REDIS_URL: own.url,
        HEALTH_PORT: '0',
        QUEUE_PREFIX: `sy-test-${randomUUID()}`,
      });
      const app = createWorkerApp({
        name: 'worker-test',
        subscriber: 'notifications',
        handlers: welcome,
        env,
        logger: captureLogs().logger,
        registry: createMetricsRegistry({ service: 'worker-test', processMetrics: false }),
      });
      harness.cleanups.push(() => app.stop());
      await app.start();
      expect(await status(`${app.healthUrl}/readyz`)).toBe(200);

      await own.kill();
      await waitFor(async () => (await status(`${app.healthUrl}/readyz`)) === 503, {
        message: '/readyz answers 503',
      });

      await own.restart();
      await waitFor(async () => (await status(`${app.healthUrl}/readyz`)) === 200, {
        timeoutMs: 10_000,
        message: '/readyz answers 200 again',
      });
    });
  });

  describe('when stop() is called while start() is still running', () => {
    it.each([0, 1, 5, 20])(
      'start() rejects and leaves no worker or health server behind (stop after %i ms)',
      async (afterMs) => {
        const prefix = `sy-test-${randomUUID()}`;
        const port = await freePort();
        const env = parseEnv(workerEnvSchema('worker-test'), {
          REDIS_URL: harness.redisUrl,
          HEALTH_PORT: String(port),
          QUEUE_PREFIX: prefix,
        });
        const app = createWorkerApp({
          name: 'worker-test',
          subscriber: 'notifications',
          handlers: welcome,
          env,
          logger: captureLogs().logger,
          registry: createMetricsRegistry({ service: 'worker-test', processMetrics: false }),
        });
        const starting = app.start().then(
          () => 'started',
          (error: unknown) => error,
        );
        await sleep(afterMs);
        await app.stop();
        const outcome = await starting;

        if (outcome !== 'started') expect(outcome).toBeInstanceOf(WorkerClosingError);
        expect(app.isReady()).toBe(false);
        await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
        const queue = new Queue(queueNameOf('notifications'), {
          connection: harness.client,
          prefix,
        });
        harness.cleanups.push(async () => {
          await queue.obliterate({ force: true });
          await queue.close();
        });
        expect(await queue.getWorkersCount()).toBe(0);
      },
    );
  });

  describe('when a handler belongs to another subscriber', () => {
    it('refuses to build', () => {
      const env = parseEnv(workerEnvSchema('worker-test'), {});
      expect(() =>
        createWorkerApp({
          name: 'worker-test',
          subscriber: 'billing',
          handlers: welcome,
          env,
          logger: captureLogs().logger,
          registry: createMetricsRegistry({ service: 'worker-test', processMetrics: false }),
        }),
      ).toThrow(WorkerConfigError);
    });
  });
});

describe('workerEnvSchema', () => {
  describe('when nothing is set', () => {
    it('applies the documented defaults', () => {
      expect(parseEnv(workerEnvSchema('worker-x'), {})).toEqual({
        REDIS_URL: 'redis://127.0.0.1:6379',
        HOST: '127.0.0.1',
        HEALTH_PORT: 3100,
        SANDBOX_URL: 'http://127.0.0.1:3002',
        WORKER_ID: `worker-x-${process.pid}`,
        WORKER_CONCURRENCY: 10,
        QUEUE_PREFIX: 'sy',
        SHUTDOWN_TIMEOUT_MS: 10_000,
        ALLOW_EVICTION_POLICY: false,
        LOCK_DURATION_MS: 30_000,
        STALLED_INTERVAL_MS: 30_000,
        MAX_STALLED_COUNT: 1,
        STARTUP_TIMEOUT_MS: 30_000,
        LOG_LEVEL: 'info',
      });
    });
  });

  describe('when a value is bad', () => {
    it.each([
      ['WORKER_CONCURRENCY', '0'],
      ['WORKER_CONCURRENCY', '1001'],
      ['WORKER_CONCURRENCY', 'ten'],
      ['SHUTDOWN_TIMEOUT_MS', '-1'],
      ['HEALTH_PORT', '70000'],
      ['SANDBOX_URL', 'ftp://127.0.0.1'],
      ['REDIS_URL', 'http://127.0.0.1:6379'],
      ['QUEUE_PREFIX', 'has space'],
      ['LOG_LEVEL', 'loud'],
      ['ALLOW_EVICTION_POLICY', 'maybe'],
      ['LOCK_DURATION_MS', '0'],
      ['STALLED_INTERVAL_MS', 'soon'],
      ['MAX_STALLED_COUNT', '-1'],
      ['STARTUP_TIMEOUT_MS', '0'],
    ])('names %s (%s)', (variable, value) => {
      let thrown: unknown;
      try {
        parseEnv(workerEnvSchema('worker-x'), { [variable]: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
    });

    it('names QUEUE_PREFIX, REDIS_URL and the fix for a cluster URL with an un-tagged prefix', () => {
      const cluster = 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001';
      expect(() =>
        parseEnv(workerEnvSchema('worker-x'), { REDIS_URL: cluster, QUEUE_PREFIX: 'sy' }),
      ).toThrow(/QUEUE_PREFIX: "sy" has no hash tag, but REDIS_URL .* QUEUE_PREFIX=\{sy\}/);
      // The default prefix is un-tagged too; a tagged one passes.
      expect(() => parseEnv(workerEnvSchema('worker-x'), { REDIS_URL: cluster })).toThrow(
        ConfigError,
      );
      expect(
        parseEnv(workerEnvSchema('worker-x'), { REDIS_URL: cluster, QUEUE_PREFIX: '{sy}' })
          .QUEUE_PREFIX,
      ).toBe('{sy}');
    });
  });
});
