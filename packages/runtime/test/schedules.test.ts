import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Publisher } from '@switchyard/client';
import { queueNameOf } from '@switchyard/events';
import { createMetricsRegistry, parseEnv } from '@switchyard/observability';
import { waitFor } from '@switchyard/testkit';
import {
  WorkerConfigError,
  createWorker,
  createWorkerApp,
  defineHandler,
  defineSchedule,
  scheduleLastRunsKey,
  scheduleQueueNameOf,
  type Schedule,
  type ScheduleContext,
  type SubscriberWorker,
  workerEnvSchema,
} from '../src/index.js';
import { captureLogs } from './support/capture-logs.js';
import { useRedisHarness } from './support/redis-harness.js';

const harness = useRedisHarness();

const billingHandler = defineHandler({
  subscriber: 'billing',
  event: 'payment.failed',
  handle: () => Promise.resolve(),
});

/** Schedules in this file publish nothing; a publisher that would throw if they did. */
const publisher = {
  transport: 'redis',
  publish: () => Promise.reject(new Error('not in this test')),
  publishBatch: () => Promise.reject(new Error('not in this test')),
  close: () => Promise.resolve(),
} as unknown as Publisher;

/** A prefix of its own, its schedule queue (obliterated after the test) and a replica factory. */
function useSchedulePrefix() {
  const prefix = `sy-test-${randomUUID()}`;
  const queue = new Queue(scheduleQueueNameOf('billing'), { connection: harness.client, prefix });
  const registry = createMetricsRegistry({ service: 'test', processMetrics: false });
  const workers: SubscriberWorker[] = [];
  harness.cleanups.push(async () => {
    await Promise.all(workers.map((worker) => worker.close(1_000)));
    await queue.obliterate({ force: true });
    await harness.client.del(scheduleLastRunsKey(prefix, 'billing'));
    await queue.close();
  });
  /** A replica: its own connection (a URL), logs and worker id. */
  const replica = (schedules: Schedule[], n = workers.length + 1) => {
    const { logger, lines } = captureLogs();
    const worker = createWorker({
      handlers: [billingHandler],
      schedules,
      publisher,
      connection: harness.redisUrl,
      prefix,
      workerId: `replica-${n}`,
      logger,
      registry,
    });
    workers.push(worker);
    return { worker, lines };
  };
  const runsOf = async (outcome: string) => {
    const metric = registry.getSingleMetric('sy_schedule_runs_total') as Counter | undefined;
    const values = (await metric?.get())?.values ?? [];
    return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  };
  return { prefix, queue, registry, replica, runsOf };
}

describe('schedules', () => {
  describe('when three replicas declare the same fixed-rate schedule', () => {
    it('runs each tick exactly once and keeps one scheduler, across a restart', async () => {
      const { queue, replica } = useSchedulePrefix();
      const ticks: { at: number; workerId: string }[] = [];
      const every = 300;
      const schedule = defineSchedule({
        subscriber: 'billing',
        name: 'tick',
        every,
        run: (ctx: ScheduleContext) => {
          ticks.push({ at: ctx.scheduledAt.getTime(), workerId: ctx.workerId });
          return Promise.resolve();
        },
      });

      const first = [replica([schedule]), replica([schedule]), replica([schedule])];
      await Promise.all(first.map(({ worker }) => worker.start()));
      const startedAt = Date.now();
      await sleep(2_500);
      await Promise.all(first.map(({ worker }) => worker.close(1_000)));
      const elapsed = Date.now() - startedAt;

      const firstAts = ticks.map((tick) => tick.at);
      expect(new Set(firstAts).size).toBe(firstAts.length);
      expect(Math.abs(firstAts.length - elapsed / every)).toBeLessThanOrEqual(2);
      expect(await queue.getJobSchedulersCount()).toBe(1);

      // Restart of every replica: same scheduler, no tick twice.
      const second = [replica([schedule]), replica([schedule]), replica([schedule])];
      await Promise.all(second.map(({ worker }) => worker.start()));
      await sleep(1_200);
      await Promise.all(second.map(({ worker }) => worker.close(1_000)));

      const allAts = ticks.map((tick) => tick.at);
      // After the first (immediate) tick, every tick is on one grid of `every`
      // ms: the restart's upserts neither reset nor shifted the schedule.
      const sorted = [...allAts].sort((a, b) => a - b);
      for (let i = 2; i < sorted.length; i += 1) {
        expect((sorted[i]! - sorted[1]!) % every).toBe(0);
      }
      expect(allAts.length).toBeGreaterThan(firstAts.length);
      expect(new Set(allAts).size).toBe(allAts.length);
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ key: 'tick', every });
    });
  });

  describe('a cron schedule', () => {
    it('is upserted with its pattern and time zone', async () => {
      const { queue, replica } = useSchedulePrefix();
      const { worker } = replica([
        defineSchedule({
          subscriber: 'billing',
          name: 'nightly',
          cron: '0 3 * * *',
          tz: 'Europe/Berlin',
          run: () => Promise.resolve(),
        }),
      ]);
      await worker.start();
      expect(await queue.getJobScheduler('nightly')).toMatchObject({
        pattern: '0 3 * * *',
        tz: 'Europe/Berlin',
      });
    });

    it('with a pattern BullMQ refuses fails the start with a WorkerConfigError', async () => {
      const { replica, prefix } = useSchedulePrefix();
      const { worker } = replica([
        defineSchedule({
          subscriber: 'billing',
          name: 'broken',
          cron: '99 * * * *',
          run: () => Promise.resolve(),
        }),
      ]);
      await expect(worker.start()).rejects.toThrow(WorkerConfigError);
      // Nothing half-started stays behind to take (and then strand) jobs.
      expect(worker.isReady()).toBe(false);
      const subscriberQueue = new Queue(queueNameOf('billing'), {
        connection: harness.client,
        prefix,
      });
      try {
        expect(await subscriberQueue.getWorkers()).toEqual([]);
      } finally {
        await subscriberQueue.close();
      }
    });
  });

  describe('defineSchedule', () => {
    const run = () => Promise.resolve();
    it.each([
      ['neither every nor cron', {}],
      ['both every and cron', { every: 1000, cron: '* * * * *' }],
      ['a fractional every', { every: 1.5 }],
      ['a cron of 3 fields', { cron: '* * *' }],
      ['tz without cron', { every: 1000, tz: 'UTC' }],
      ['an unknown tz', { cron: '* * * * *', tz: 'Mars/Olympus' }],
    ])('refuses %s', (_label, fields) => {
      expect(() => defineSchedule({ subscriber: 'billing', name: 'x', run, ...fields })).toThrow(
        WorkerConfigError,
      );
    });
  });

  describe('when a run throws', () => {
    it('counts the failure and the next tick still runs', async () => {
      const { replica, runsOf, prefix } = useSchedulePrefix();
      let calls = 0;
      const { worker, lines } = replica([
        defineSchedule({
          subscriber: 'billing',
          name: 'flaky',
          every: 200,
          run: () => {
            calls += 1;
            return calls === 1 ? Promise.reject(new Error('first tick fails')) : Promise.resolve();
          },
        }),
      ]);
      await worker.start();
      await waitFor(async () => (await runsOf('succeeded')) >= 1 || undefined, {
        timeoutMs: 3_000,
        message: 'a run after the failed one',
      });
      expect(await runsOf('failed')).toBe(1);
      expect(
        lines.some((line) => line.msg === 'schedule run failed; the next tick runs as planned'),
      ).toBe(true);
      const lastRun = await harness.client.hget(scheduleLastRunsKey(prefix, 'billing'), 'flaky');
      expect(JSON.parse(lastRun!)).toMatchObject({ outcome: 'succeeded', workerId: 'replica-1' });
    });

    it('times out a run past its timeoutMs through ctx.signal', async () => {
      const { replica, runsOf } = useSchedulePrefix();
      let sawAbort = false;
      const { worker } = replica([
        defineSchedule({
          subscriber: 'billing',
          name: 'slow',
          every: 200,
          timeoutMs: 50,
          run: (ctx) =>
            new Promise<void>((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => {
                sawAbort = true;
                reject(ctx.signal.reason as Error);
              });
            }),
        }),
      ]);
      await worker.start();
      await waitFor(async () => (await runsOf('timed_out')) >= 1 || undefined, {
        timeoutMs: 3_000,
        message: 'a timed-out run',
      });
      expect(sawAbort).toBe(true);
    });
  });

  describe('on shutdown', () => {
    it('closes the schedule worker: no run after close, no worker left on the queue', async () => {
      const { replica, queue } = useSchedulePrefix();
      let calls = 0;
      const { worker } = replica([
        defineSchedule({
          subscriber: 'billing',
          name: 'tick',
          every: 100,
          run: () => {
            calls += 1;
            return Promise.resolve();
          },
        }),
      ]);
      await worker.start();
      await waitFor(() => calls >= 2 || undefined, { timeoutMs: 3_000, message: 'two runs' });
      expect(await queue.getWorkersCount()).toBe(1);
      await worker.close(1_000);
      const after = calls;
      await sleep(400);
      expect(calls).toBe(after);
      expect(await queue.getWorkersCount()).toBe(0);
    });

    it('aborts a run that outlives the deadline', async () => {
      const { replica, runsOf } = useSchedulePrefix();
      let started = false;
      const { worker } = replica([
        defineSchedule({
          subscriber: 'billing',
          name: 'hang',
          every: 100,
          run: (ctx) => {
            started = true;
            return new Promise<void>((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
            });
          },
        }),
      ]);
      await worker.start();
      await waitFor(() => started || undefined, { timeoutMs: 3_000, message: 'a run' });
      await worker.close(100);
      expect(await runsOf('aborted')).toBe(1);
    });
  });

  describe('createWorker', () => {
    it('refuses schedules without a publisher or of another subscriber', () => {
      const { logger } = captureLogs();
      const registry = createMetricsRegistry({ service: 'test', processMetrics: false });
      const base = {
        handlers: [billingHandler],
        connection: harness.redisUrl,
        workerId: 'w',
        logger,
        registry,
      };
      const run = () => Promise.resolve();
      expect(() =>
        createWorker({
          ...base,
          schedules: [defineSchedule({ subscriber: 'billing', name: 'a', every: 1000, run })],
        }),
      ).toThrow(/needs a `publisher`/);
      expect(() =>
        createWorker({
          ...base,
          publisher,
          schedules: [defineSchedule({ subscriber: 'notifications', name: 'a', every: 1000, run })],
        }),
      ).toThrow(/belongs to "notifications"/);
    });
  });

  describe('in a worker app', () => {
    it("publishes through ctx.publisher to the subscriber's queue, and stops cleanly", async () => {
      const prefix = `sy-test-${randomUUID()}`;
      const billing = new Queue(queueNameOf('billing'), { connection: harness.client, prefix });
      const ticks = new Queue(scheduleQueueNameOf('billing'), {
        connection: harness.client,
        prefix,
      });
      harness.cleanups.push(async () => {
        for (const queue of [billing, ticks]) {
          await queue.obliterate({ force: true });
          await queue.close();
        }
      });
      const handled: string[] = [];
      const app = createWorkerApp({
        name: 'worker-test',
        subscriber: 'billing',
        handlers: () => [
          defineHandler({
            subscriber: 'billing',
            event: 'payment.failed',
            handle: (event) => {
              handled.push(event.data.reason);
              return Promise.resolve();
            },
          }),
        ],
        // A new scheduler's first tick runs at once.
        schedules: () => [
          defineSchedule({
            subscriber: 'billing',
            name: 'remind',
            every: 3_600_000,
            run: async (ctx) => {
              await ctx.publisher.publish(
                'payment.failed',
                {
                  userId: 'u_ada',
                  invoiceId: 'inv_1',
                  amountCents: 4_999,
                  currency: 'EUR',
                  reason: 'dunning_reminder',
                },
                { idempotencyKey: `remind:${ctx.scheduledAt.toISOString()}` },
              );
            },
          }),
        ],
        env: parseEnv(workerEnvSchema('worker-test'), {
          REDIS_URL: harness.redisUrl,
          HEALTH_PORT: '0',
          QUEUE_PREFIX: prefix,
          WORKER_ID: 'worker-test-1',
          SHUTDOWN_TIMEOUT_MS: '1000',
        }),
        logger: captureLogs().logger,
        registry: createMetricsRegistry({ service: 'worker-test', processMetrics: false }),
      });
      harness.cleanups.push(() => app.stop());
      await app.start();
      await waitFor(() => handled.length >= 1 || undefined, {
        timeoutMs: 5_000,
        message: 'the published reminder handled',
      });
      expect(handled).toEqual(['dunning_reminder']);
      await app.stop();
      expect(await ticks.getWorkersCount()).toBe(0);
    });
  });
});
