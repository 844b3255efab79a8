import { setTimeout as sleep } from 'node:timers/promises';
import { type JobsOptions } from 'bullmq';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type Envelope, type SubscriberName } from '@switchyard/events';
import { createMetricsRegistry } from '@switchyard/observability';
import { Redis } from 'ioredis';
import { freePort, paymentFailed, signedUp, waitFor } from '@switchyard/testkit';
import {
  DownstreamRejectedError,
  WorkerClosingError,
  WorkerConfigError,
  WorkerStartTimeoutError,
  createWorker,
  defineHandler,
  type CreateWorkerOptions,
  type Handler,
  type HandlerContext,
} from '../src/index.js';
import { captureLogs, type LogLine } from './support/capture-logs.js';
import { useRedisHarness } from './support/redis-harness.js';
import { startWorker as startHarnessWorker } from './support/start-worker.js';

const harness = useRedisHarness();

/**
 * support/start-worker's worker, with `add`: jobs get 3 attempts and a 1 ms
 * fixed backoff unless a test says otherwise.
 */
async function startWorker(
  handlers: Handler[],
  options: Partial<CreateWorkerOptions> = {},
  subscriber: SubscriberName = 'notifications',
) {
  const started = await startHarnessWorker(harness, handlers, options, subscriber);
  const add = (data: unknown, name: string, jobOptions: JobsOptions = {}) =>
    started.queue.add(name, data, {
      attempts: 3,
      backoff: { type: 'fixed', delay: 1 },
      ...jobOptions,
    });
  return { ...started, add };
}

function recordingHandler() {
  const calls: { event: Envelope<'user.signed_up'>; ctx: HandlerContext }[] = [];
  const handler = defineHandler({
    subscriber: 'notifications',
    event: 'user.signed_up',
    handle: async (event, ctx) => {
      expectTypeOf(event.data).toEqualTypeOf<{
        userId: string;
        email: string;
        tier: 'free' | 'pro' | 'enterprise';
        locale: string;
      }>();
      calls.push({ event, ctx });
      await Promise.resolve();
    },
  });
  return { calls, handler };
}

const linesWith = (lines: LogLine[], msg: string) => lines.filter((line) => line.msg === msg);

describe('createWorker', () => {
  describe('when a valid envelope arrives', () => {
    it('hands the handler the typed event and its context, then completes the job', async () => {
      const { calls, handler } = recordingHandler();
      const { add, settled, lines, registry } = await startWorker([handler]);
      const envelope = signedUp('u_42');

      await add(envelope, envelope.type, { jobId: envelope.id });

      expect(await settled(envelope.id)).toBe('completed');
      expect(calls).toHaveLength(1);
      const [{ event, ctx }] = calls as [(typeof calls)[number]];
      expect(event).toEqual(envelope);
      expect(event.data.email).toBe('u_42@example.com');
      expect(ctx).toMatchObject({
        attempt: 1,
        idempotencyKey: envelope.idempotencyKey,
        eventId: envelope.id,
        subscriber: 'notifications',
        workerId: 'worker-test-1',
      });
      expect(ctx.signal.aborted).toBe(false);

      const correlation = {
        eventId: envelope.id,
        eventType: 'user.signed_up',
        correlationId: envelope.correlationId,
        subscriber: 'notifications',
        attempt: 1,
        workerId: 'worker-test-1',
      };
      // One info line per job (its outcome); the receipt is at debug.
      expect(linesWith(lines, 'job received')).toEqual([
        expect.objectContaining({ ...correlation, level: 20 }),
      ]);
      expect(linesWith(lines, 'job succeeded')).toEqual([
        expect.objectContaining({ ...correlation, level: 30, jobId: envelope.id }),
      ]);
      expect(JSON.stringify(lines)).not.toContain('u_42@example.com');

      const metrics = await registry.metrics();
      expect(metrics).toMatch(
        /sy_jobs_total\{subscriber="notifications",outcome="succeeded",service="test"\} 1/,
      );
      expect(metrics).toMatch(
        /sy_handler_duration_seconds_count\{[^}]*subscriber="notifications"[^}]*\} 1\n/,
      );
    });

    it('logs through ctx.logger with the correlation fields, each key once', async () => {
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        handle: async (_event, ctx) => {
          await Promise.resolve();
          ctx.logger.info('from the handler');
        },
      });
      const { add, settled, lines } = await startWorker([handler]);
      const envelope = signedUp();

      await add(envelope, envelope.type, { jobId: envelope.id });
      await settled(envelope.id);

      expect(linesWith(lines, 'from the handler')).toEqual([
        expect.objectContaining({ eventId: envelope.id, subscriber: 'notifications', attempt: 1 }),
      ]);
    });
  });

  describe('when the job does not carry a valid envelope for this worker', () => {
    const cases: { name: string; data: unknown; jobName: string; reason: string }[] = [
      {
        name: 'data that fails the schema',
        data: { ...signedUp(), data: { ...signedUp().data, email: 'not-an-email' } },
        jobName: 'user.signed_up',
        reason: 'SY_ERR_SCHEMA_INVALID',
      },
      {
        name: 'something that is not an envelope',
        data: 'garbage',
        jobName: 'user.signed_up',
        reason: 'SY_ERR_SCHEMA_INVALID',
      },
      {
        name: 'an unknown event type',
        data: { ...signedUp(), type: 'user.deleted' },
        jobName: 'user.deleted',
        reason: 'SY_ERR_UNKNOWN_EVENT_TYPE',
      },
      {
        name: 'an unknown version',
        data: { ...signedUp(), version: 99 },
        jobName: 'user.signed_up',
        reason: 'SY_ERR_UNKNOWN_EVENT_VERSION',
      },
      {
        name: 'a type this subscriber has no handler for',
        data: paymentFailed(),
        jobName: 'payment.failed',
        reason: 'SY_ERR_NO_HANDLER',
      },
    ];

    it.each(cases)(
      'fails $name after exactly one attempt, without calling the handler',
      async ({ data, jobName, reason }) => {
        const { calls, handler } = recordingHandler();
        const { add, settled, queue, lines, registry } = await startWorker([handler]);

        const job = await add(data, jobName, { attempts: 3 });

        expect(await settled(job.id!)).toBe('failed');
        const failed = await queue.getJob(job.id!);
        expect(failed?.attemptsStarted).toBe(1);
        expect(failed?.failedReason).toContain(reason);
        expect(calls).toHaveLength(0);
        expect(linesWith(lines, 'job rejected')).toEqual([
          expect.objectContaining({ reason, level: 50 }),
        ]);
        expect(await registry.metrics()).toMatch(
          /sy_jobs_total\{subscriber="notifications",outcome="invalid",service="test"\} 1/,
        );
      },
    );
  });

  describe('when the handler throws', () => {
    it('retries the job, and the attempt number increases', async () => {
      const attempts: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        handle: async (_event, ctx) => {
          await Promise.resolve();
          attempts.push(ctx.attempt);
          if (ctx.attempt === 1) throw new Error('downstream hiccup');
        },
      });
      const { add, settled, lines } = await startWorker([handler]);
      const envelope = signedUp();

      await add(envelope, envelope.type, { jobId: envelope.id, attempts: 2 });

      expect(await settled(envelope.id)).toBe('completed');
      expect(attempts).toEqual([1, 2]);
      expect(linesWith(lines, 'job failed')).toEqual([
        expect.objectContaining({
          attempt: 1,
          willRetry: true,
          level: 40,
          err: expect.objectContaining({ message: 'downstream hiccup' }) as unknown,
        }),
      ]);
      expect(linesWith(lines, 'job succeeded')).toEqual([expect.objectContaining({ attempt: 2 })]);
    });

    it('fails the job once its attempts are spent', async () => {
      const attempts: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        handle: async (_event, ctx) => {
          await Promise.resolve();
          attempts.push(ctx.attempt);
          throw new Error('still down');
        },
      });
      const { add, settled, queue, registry } = await startWorker([handler]);
      const envelope = signedUp();

      await add(envelope, envelope.type, { jobId: envelope.id, attempts: 2 });

      expect(await settled(envelope.id)).toBe('failed');
      expect(attempts).toEqual([1, 2]);
      expect((await queue.getJob(envelope.id))?.failedReason).toBe('SY_ERR_UNEXPECTED: still down');
      expect(await registry.metrics()).toMatch(
        /sy_jobs_total\{subscriber="notifications",outcome="failed",service="test"\} 2/,
      );
    });
  });

  describe('when the handler throws a permanent error', () => {
    it('fails the job at once, keeping the error code', async () => {
      const attempts: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        handle: async (_event, ctx) => {
          await Promise.resolve();
          attempts.push(ctx.attempt);
          throw new DownstreamRejectedError('POST /email: 422', 422);
        },
      });
      const { add, settled, queue } = await startWorker([handler]);
      const envelope = signedUp();

      await add(envelope, envelope.type, { jobId: envelope.id, attempts: 3 });

      expect(await settled(envelope.id)).toBe('failed');
      expect(attempts).toEqual([1]);
      expect((await queue.getJob(envelope.id))?.failedReason).toBe(
        'SY_ERR_DOWNSTREAM_REJECTED: POST /email: 422',
      );
    });
  });

  describe('when a handler has a lower concurrency than its worker', () => {
    it('runs no more of its jobs at once than its own concurrency', async () => {
      let inFlight = 0;
      let most = 0;
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        concurrency: 1,
        handle: async () => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          await sleep(30);
          inFlight -= 1;
        },
      });
      const { add, settled } = await startWorker([handler], { concurrency: 5 });
      const envelopes = [signedUp('u_1'), signedUp('u_2'), signedUp('u_3')];

      await Promise.all(envelopes.map((e) => add(e, e.type, { jobId: e.id })));
      for (const e of envelopes) expect(await settled(e.id)).toBe('completed');

      expect(most).toBe(1);
    });
  });

  describe('close', () => {
    describe('when a job is in flight', () => {
      it('stops being ready, waits for the job, then resolves', async () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const seen: { signal?: AbortSignal } = {};
        const handler = defineHandler({
          subscriber: 'notifications',
          event: 'user.signed_up',
          handle: async (_event, ctx) => {
            seen.signal = ctx.signal;
            await gate;
          },
        });
        const { add, queue, worker } = await startWorker([handler]);
        expect(worker.isReady()).toBe(true);
        const envelope = signedUp();
        await add(envelope, envelope.type, { jobId: envelope.id });
        await waitFor(() => seen.signal !== undefined, { message: 'job started' });

        let closed = false;
        const closing = worker.close(5_000).then(() => (closed = true));
        expect(worker.isReady()).toBe(false);
        await sleep(200);
        expect(closed).toBe(false);

        release();
        await closing;
        expect(await queue.getJobState(envelope.id)).toBe('completed');
        expect(seen.signal?.aborted).toBe(false);
      });
    });

    describe('when the job outlives the deadline', () => {
      it('aborts ctx.signal, lets the handler unwind, and resolves', async () => {
        const seen: { signal?: AbortSignal } = {};
        const handler = defineHandler({
          subscriber: 'notifications',
          event: 'user.signed_up',
          handle: async (_event, ctx) => {
            seen.signal = ctx.signal;
            await new Promise<void>((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), {
                once: true,
              });
            });
          },
        });
        const { add, worker, queue } = await startWorker([handler]);
        const envelope = signedUp();
        await add(envelope, envelope.type, { jobId: envelope.id });
        await waitFor(() => seen.signal !== undefined, { message: 'job started' });

        const started = Date.now();
        await worker.close(150);

        expect(Date.now() - started).toBeLessThan(2_000);
        expect(seen.signal?.reason).toBeInstanceOf(WorkerClosingError);
        // The aborted job is handed back without counting an attempt.
        expect(await queue.getJobState(envelope.id)).toBe('waiting');
        expect((await queue.getJob(envelope.id))?.attemptsMade).toBe(0);
      });
    });
    describe('when the handler finishes successfully while unwinding from the abort', () => {
      it('completes the job instead of handing it back', async () => {
        const handler = defineHandler({
          subscriber: 'notifications',
          event: 'user.signed_up',
          handle: async (_event, ctx) => {
            await new Promise<void>((resolve) => {
              ctx.signal.addEventListener('abort', () => resolve(), { once: true });
            });
            // The work was done by the time it noticed: it resolves.
            await sleep(50);
          },
        });
        const { add, worker, queue, lines } = await startWorker([handler]);
        const envelope = signedUp();
        await add(envelope, envelope.type, { jobId: envelope.id });
        await waitFor(async () => (await queue.getActiveCount()) === 1, { message: 'job started' });

        await worker.close(100);

        expect(await queue.getJobState(envelope.id)).toBe('completed');
        expect(linesWith(lines, 'job handed back to the queue by shutdown')).toEqual([]);
      });
    });

    describe('when a handler ignores the abort', () => {
      it('still resolves, shortly after the deadline', async () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let started = false;
        const handler = defineHandler({
          subscriber: 'notifications',
          event: 'user.signed_up',
          handle: async () => {
            started = true;
            await gate;
          },
        });
        const { add, worker } = await startWorker([handler]);
        const envelope = signedUp();
        await add(envelope, envelope.type, { jobId: envelope.id });
        await waitFor(() => started, { message: 'job started' });

        const closeStarted = Date.now();
        await worker.close(150);

        expect(Date.now() - closeStarted).toBeLessThan(3_000);
        release();
      });
    });
  });

  describe('when Redis is unreachable', () => {
    it('rejects start() after startupTimeoutMs instead of hanging', async () => {
      const { handler } = recordingHandler();
      const { logger } = captureLogs();
      const worker = createWorker({
        handlers: [handler],
        connection: `redis://127.0.0.1:${await freePort()}`,
        workerId: 'worker-test-1',
        logger,
        registry: createMetricsRegistry({ service: 'test', processMetrics: false }),
        startupTimeoutMs: 300,
      });
      const started = Date.now();

      await expect(worker.start()).rejects.toBeInstanceOf(WorkerStartTimeoutError);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(worker.isReady()).toBe(false);
    });
  });

  describe('when the caller owns the Redis connection', () => {
    it('takes the listeners it added off the connection on close', async () => {
      const { handler } = recordingHandler();
      const { logger } = captureLogs();
      const connection = new Redis(harness.redisUrl, { maxRetriesPerRequest: null });
      harness.cleanups.push(() => connection.quit());
      const before = {
        error: connection.listenerCount('error'),
        ready: connection.listenerCount('ready'),
      };
      const worker = createWorker({
        handlers: [handler],
        connection,
        prefix: `sy-test-${crypto.randomUUID()}`,
        workerId: 'worker-test-1',
        logger,
        registry: createMetricsRegistry({ service: 'test', processMetrics: false }),
      });
      await worker.start();
      await worker.close(1_000);

      expect({
        error: connection.listenerCount('error'),
        ready: connection.listenerCount('ready'),
      }).toEqual(before);
      expect(connection.status).toBe('ready');
    });
  });

  describe("when the handler list is not one subscriber's", () => {
    const { handler: notifications } = recordingHandler();
    const billing = defineHandler({
      subscriber: 'billing',
      event: 'payment.failed',
      handle: () => Promise.resolve(),
    });
    const base = {
      connection: 'redis://127.0.0.1:1',
      workerId: 'w',
      logger: captureLogs().logger,
      registry: createMetricsRegistry({ service: 'test', processMetrics: false }),
    };

    it('refuses handlers of two subscribers', () => {
      expect(() => createWorker({ ...base, handlers: [notifications, billing] })).toThrow(
        WorkerConfigError,
      );
    });

    it('refuses two handlers for one event type', () => {
      expect(() => createWorker({ ...base, handlers: [notifications, notifications] })).toThrow(
        /two handlers/,
      );
    });

    it('refuses an empty list', () => {
      expect(() => createWorker({ ...base, handlers: [] })).toThrow(/at least one handler/);
    });
  });
});

describe('defineHandler', () => {
  describe('when the subscriber does not receive the event type', () => {
    it('is a type error and throws', () => {
      expect(() =>
        defineHandler({
          subscriber: 'notifications',
          // @ts-expect-error notifications does not receive payment.failed
          event: 'payment.failed',
          handle: () => Promise.resolve(),
        }),
      ).toThrow(WorkerConfigError);
    });
  });

  describe('when a ms option is longer than a Node timer can wait', () => {
    it('throws rather than letting the timer fire at once', () => {
      expect(() =>
        defineHandler({
          subscriber: 'notifications',
          event: 'user.signed_up',
          timeoutMs: 2_147_483_648,
          handle: () => Promise.resolve(),
        }),
      ).toThrow(WorkerConfigError);
      const { handler } = recordingHandler();
      const base = {
        handlers: [handler],
        connection: harness.redisUrl,
        workerId: 'worker-test-1',
        logger: captureLogs().logger,
        registry: createMetricsRegistry({ service: 'test', processMetrics: false }),
      };
      for (const option of ['lockDurationMs', 'stalledIntervalMs', 'startupTimeoutMs']) {
        expect(() => createWorker({ ...base, [option]: 2_147_483_648 })).toThrow(WorkerConfigError);
      }
      expect(() =>
        createWorker({ ...base, rateLimit: { max: 1, durationMs: 2_147_483_648 } }),
      ).toThrow(WorkerConfigError);
    });
  });

  describe('when concurrency is not a positive integer', () => {
    it('throws', () => {
      expect(() =>
        defineHandler({
          subscriber: 'billing',
          event: 'payment.failed',
          concurrency: 0,
          handle: () => Promise.resolve(),
        }),
      ).toThrow(/concurrency/);
    });
  });
});
