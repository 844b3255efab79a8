/**
 * The dead-letter queue on real Redis: what lands there, when, with what
 * record, and that a move is written once.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  SchemaInvalidError,
  deadLetterQueueNameOf,
  deliveryJobOptions,
  queueNameOf,
} from '@switchyard/events';
import {
  DownstreamRejectedError,
  LockLostError,
  PermanentError,
  TransientError,
  createDeadLetterRecord,
  deadLetterJobId,
  defineHandler,
  replayJobId,
  replaysOf,
  type DeadLetterRecord,
} from '../src/index.js';
import { openDeadLetterQueue } from '../src/dead-letter-queue.js';
import { paymentFailed, signedUp, waitFor } from '@switchyard/testkit';
import { useRedisHarness } from './support/redis-harness.js';
import { startWorker } from './support/start-worker.js';

const harness = useRedisHarness();

function countingHandler(
  fail: (attempt: number) => Error | undefined,
  options: { attempts?: number } = {},
) {
  const attempts: number[] = [];
  const handler = defineHandler({
    subscriber: 'notifications',
    event: 'user.signed_up',
    backoff: { baseMs: 10, maxMs: 20 },
    ...options,
    handle: async (_event, ctx) => {
      attempts.push(ctx.attempt);
      await Promise.resolve();
      const error = fail(ctx.attempt);
      if (error) throw error;
    },
  });
  return { attempts, handler };
}

describe('dead-letter queue', () => {
  describe('when the handler throws a permanent error', () => {
    it.each([
      ['PermanentError', () => new PermanentError('no such mailbox')],
      ['DownstreamRejectedError', () => new DownstreamRejectedError('POST /email: 422', 422)],
    ])('moves the job there after exactly one attempt (%s)', async (_name, error) => {
      const { attempts, handler } = countingHandler(error);
      const { publish, settled, queue, dlq, deadLetters, registry } = await startWorker(harness, [
        handler,
      ]);
      const envelope = signedUp();
      const before = Date.now();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('failed');
      expect(attempts).toEqual([1]);
      expect((await queue.getJob(envelope.id))?.attemptsMade).toBe(1);
      const expected = error();
      const [record] = (await deadLetters()) as [DeadLetterRecord];
      expect(record).toMatchObject({
        version: 1,
        subscriber: 'notifications',
        queue: 'notifications',
        jobId: envelope.id,
        jobName: 'user.signed_up',
        event: envelope,
        eventId: envelope.id,
        eventType: 'user.signed_up',
        correlationId: envelope.correlationId,
        idempotencyKey: envelope.idempotencyKey,
        reason: 'permanent',
        attempts: 1,
        workerId: 'worker-test-1',
        replays: 0,
        errors: [
          {
            attempt: 1,
            code: expected.code,
            name: expected.name,
            message: expected.message,
            stack: expect.stringContaining(expected.message) as unknown,
            at: expect.any(String) as unknown,
          },
        ],
      });
      expect(Date.parse(record.failedAt)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(record.enqueuedAt)).toBeLessThanOrEqual(Date.parse(record.failedAt));
      expect((await dlq.getJob(envelope.id))?.name).toBe('user.signed_up');
      expect(await dlq.isPaused()).toBe(true);
      expect(await registry.metrics()).toMatch(
        /sy_dead_letters_total\{subscriber="notifications",reason="permanent",service="test"\} 1/,
      );
    });

    it("treats errors the handler's isPermanent picks as permanent", async () => {
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        isPermanent: (error) => error instanceof Error && error.message === 'gone',
        handle: () => Promise.reject(new Error('gone')),
      });
      const { publish, settled, deadLetters } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('failed');
      expect(await deadLetters()).toEqual([
        expect.objectContaining({ reason: 'permanent', attempts: 1 }),
      ]);
    });
  });

  describe('when the job is not a valid event for this worker', () => {
    it.each([
      {
        name: 'data that fails the schema',
        data: { ...signedUp(), data: { ...signedUp().data, email: 'not-an-email' } },
        reason: 'schema_invalid',
        code: 'SY_ERR_SCHEMA_INVALID',
      },
      {
        name: 'an unknown event type',
        data: { ...signedUp(), type: 'user.deleted' },
        reason: 'unknown_event',
        code: 'SY_ERR_UNKNOWN_EVENT_TYPE',
      },
      {
        name: 'a type this subscriber has no handler for',
        data: paymentFailed(),
        reason: 'no_handler',
        code: 'SY_ERR_NO_HANDLER',
      },
    ])('dead-letters $name after one attempt, handler not run', async ({ data, reason, code }) => {
      const { attempts, handler } = countingHandler(() => undefined);
      const { publish, settled, queue, deadLetters } = await startWorker(harness, [handler]);

      await publish(data);

      expect(await settled(data.id)).toBe('failed');
      expect(attempts).toEqual([]);
      expect((await queue.getJob(data.id))?.attemptsStarted).toBe(1);
      expect(await deadLetters()).toEqual([
        expect.objectContaining({
          reason,
          attempts: 1,
          event: data,
          errors: [expect.objectContaining({ code })],
        }),
      ]);
    });
  });

  describe('when every attempt fails', () => {
    it("dead-letters the job after exactly the handler's attempts, keeping every error", async () => {
      const { attempts, handler } = countingHandler(
        (attempt) => new Error(`down (attempt ${attempt})`),
        { attempts: 3 },
      );
      const { publish, settled, queue, deadLetters } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('failed');
      expect(attempts).toEqual([1, 2, 3]);
      expect((await queue.getJob(envelope.id))?.attemptsMade).toBe(3);
      const [record] = (await deadLetters()) as [DeadLetterRecord];
      expect(record.reason).toBe('attempts_exhausted');
      expect(record.attempts).toBe(3);
      expect(record.errors.map((e) => [e.attempt, e.message])).toEqual([
        [1, 'down (attempt 1)'],
        [2, 'down (attempt 2)'],
        [3, 'down (attempt 3)'],
      ]);
    });

    it("honours a job's own attempts when lower than the handler's", async () => {
      const { attempts, handler } = countingHandler(() => new Error('down'), { attempts: 5 });
      const { publish, settled, deadLetters } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope, { attempts: 2 });

      expect(await settled(envelope.id)).toBe('failed');
      expect(attempts).toEqual([1, 2]);
      expect(await deadLetters()).toEqual([expect.objectContaining({ attempts: 2 })]);
    });

    it('dead-letters early when the next retry would end past the retry budget', async () => {
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        attempts: 10,
        retryBudgetMs: 150,
        backoff: { baseMs: 100, jitter: 0 },
        handle: () => Promise.reject(new Error('down')),
      });
      const { publish, settled, deadLetters } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('failed');
      const [record] = (await deadLetters()) as [DeadLetterRecord];
      expect(record.reason).toBe('retry_budget_exhausted');
      expect(record.attempts).toBeLessThan(10);
    });
  });

  describe('when a handler throws an events EventError', () => {
    it('dead-letters it as schema_invalid after one attempt, never retried', async () => {
      const { attempts, handler } = countingHandler(
        () => new SchemaInvalidError('downstream payload does not match its schema'),
        { attempts: 5 },
      );
      const { publish, settled, deadLetters } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('failed');
      expect(attempts).toEqual([1]);
      expect(await deadLetters()).toEqual([
        expect.objectContaining({
          reason: 'schema_invalid',
          attempts: 1,
          errors: [expect.objectContaining({ code: 'SY_ERR_SCHEMA_INVALID' })],
        }),
      ]);
    });
  });

  describe('when deciding a failure throws unexpectedly', () => {
    it('still dead-letters the job on its last attempt', async () => {
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        attempts: 2,
        backoff: { baseMs: 10, maxMs: 20 },
        handle: () => Promise.reject(new TransientError('down')),
        isPermanent: () => {
          throw new Error('isPermanent has a bug');
        },
      });
      const { publish, settled, deadLetters, lines } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('failed');
      expect(await deadLetters()).toEqual([
        expect.objectContaining({
          reason: 'attempts_exhausted',
          attempts: 2,
          errors: [expect.objectContaining({ attempt: 2, message: 'isPermanent has a bug' })],
        }),
      ]);
      expect(lines.filter((line) => line.msg === 'job failed unexpectedly')).toHaveLength(2);
    });
  });

  describe('when the worker loses the job lock', () => {
    it("aborts the attempt's signal and writes no record", async () => {
      const seen: { signal?: AbortSignal } = {};
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        attempts: 1,
        handle: async (_event, ctx) => {
          seen.signal = ctx.signal;
          await new Promise<void>((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), {
              once: true,
            });
          });
        },
      });
      const { publish, deadLetters, queue, lines } = await startWorker(harness, [handler], {
        lockDurationMs: 400,
      });
      const envelope = signedUp();
      await publish(envelope);
      await waitFor(() => seen.signal !== undefined, { message: 'handler running' });

      // Another worker's stalled check took the job over: this worker's lock is gone.
      await harness.client.del(`${queue.toKey(envelope.id)}:lock`);

      await waitFor(() => seen.signal?.aborted === true, {
        timeoutMs: 3_000,
        message: 'the attempt aborted',
      });
      expect(seen.signal?.reason).toBeInstanceOf(LockLostError);
      await waitFor(() => lines.some((line) => String(line.msg).startsWith('lock lost')), {
        message: 'the lost lock logged',
      });
      expect(await deadLetters()).toEqual([]);
    });

    it('writes no record for a last attempt that fails after the lock was lost', async () => {
      let fail: (() => void) | undefined;
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        handle: () =>
          new Promise<void>((_resolve, reject) => {
            fail = () => reject(new PermanentError('no such mailbox'));
          }),
      });
      const { publish, deadLetters, queue, lines } = await startWorker(harness, [handler]);
      const envelope = signedUp();
      await publish(envelope);
      await waitFor(() => fail !== undefined, { message: 'handler running' });
      await harness.client.del(`${queue.toKey(envelope.id)}:lock`);

      fail!();

      await waitFor(
        () => lines.some((line) => line.msg === 'lock lost; not dead-lettering the job'),
        { message: 'the write skipped' },
      );
      expect(await deadLetters()).toEqual([]);
    });
  });

  describe('when events succeed', () => {
    it('never writes a record, even after failed attempts', async () => {
      const { handler } = countingHandler((attempt) =>
        attempt === 1 ? new Error('once') : undefined,
      );
      const { publish, settled, deadLetters, prefix } = await startWorker(harness, [handler]);
      const envelopes = [signedUp('u_1'), signedUp('u_2'), signedUp('u_3')];

      for (const envelope of envelopes) await publish(envelope);

      for (const envelope of envelopes) expect(await settled(envelope.id)).toBe('completed');
      expect(await deadLetters()).toEqual([]);
      // The per-attempt error log is cleared on success.
      expect(await harness.client.keys(`${prefix}:attempt-errors:*`)).toEqual([]);
    });
  });

  describe('when the same failure is written twice', () => {
    it('keeps one record', async () => {
      const prefix = `sy-test-${randomUUID()}`;
      const deadLetters = openDeadLetterQueue({
        redis: harness.client,
        prefix,
        subscriber: 'notifications',
      });
      const dlq = new Queue<DeadLetterRecord>(deadLetterQueueNameOf('notifications'), {
        connection: harness.client,
        prefix,
      });
      harness.cleanups.push(async () => {
        await dlq.obliterate({ force: true });
        await dlq.close();
        await deadLetters.close();
      });
      const envelope = signedUp();
      const record = createDeadLetterRecord({
        subscriber: 'notifications',
        queue: 'notifications',
        jobId: envelope.id,
        jobName: envelope.type,
        event: envelope,
        reason: 'permanent',
        errors: [],
        attempts: 1,
        enqueuedAt: Date.now(),
        failedAt: new Date(),
        workerId: 'w',
      });

      await deadLetters.write(record);
      await deadLetters.write({ ...record, workerId: 'other' });

      expect(await dlq.count()).toBe(1);
      expect(await dlq.isPaused()).toBe(true);
      expect((await dlq.getJobs()).map((job) => job.data.workerId)).toEqual(['w']);
    });

    it('fails a redelivered job whose record already exists, without running the handler', async () => {
      // A worker "killed" between writing the record and failing the job: the
      // job is active under a lock nobody renews, and its record is there.
      const { attempts, handler } = countingHandler(() => undefined);
      const prefix = `sy-test-${randomUUID()}`;
      const queue = new Queue(queueNameOf('notifications'), {
        connection: harness.client,
        prefix,
      });
      const envelope = signedUp();
      await queue.add(envelope.type, envelope, { ...deliveryJobOptions, jobId: envelope.id });
      const crashed = new Worker(queueNameOf('notifications'), null, {
        connection: harness.client,
        prefix,
        lockDuration: 300,
      });
      const active = await crashed.getNextJob('crashed-token');
      expect(active?.id).toBe(envelope.id);
      await crashed.close();
      await queue.close();
      const deadLetters = openDeadLetterQueue({
        redis: harness.client,
        prefix,
        subscriber: 'notifications',
      });
      await deadLetters.write(
        createDeadLetterRecord({
          subscriber: 'notifications',
          queue: 'notifications',
          jobId: envelope.id,
          jobName: envelope.type,
          event: envelope,
          reason: 'permanent',
          errors: [],
          attempts: 1,
          enqueuedAt: Date.now(),
          failedAt: new Date(),
          workerId: 'crashed',
        }),
      );
      await deadLetters.close();

      const started = await startWorker(harness, [handler], {
        prefix,
        stalledIntervalMs: 200,
        lockDurationMs: 300,
      });

      expect(await started.settled(envelope.id)).toBe('failed');
      expect(attempts).toEqual([]);
      expect((await started.queue.getJob(envelope.id))?.failedReason).toContain(
        'SY_ERR_ALREADY_DEAD_LETTERED',
      );
      expect(await started.deadLetters()).toEqual([
        expect.objectContaining({ workerId: 'crashed' }),
      ]);
    });
  });
});

describe('dead-letter ids', () => {
  it('uses the original job id, so a second write is a no-op', () => {
    expect(deadLetterJobId('0192f0c1-aaaa')).toBe('0192f0c1-aaaa');
  });

  it('numbers replays from the event id', () => {
    expect(replayJobId('evt', 0)).toBe('evt-r1');
    expect(replayJobId('evt-r1', 1)).toBe('evt-r2');
    expect(replaysOf('evt-r2')).toBe(2);
    expect(replaysOf('evt')).toBe(0);
  });

  it('bounds a record: the last 25 errors, messages ≤ 1 KiB, stacks ≤ 4 KiB', () => {
    const record = createDeadLetterRecord({
      subscriber: 'notifications',
      queue: 'notifications',
      jobId: 'evt-r3',
      jobName: 'user.signed_up',
      event: 'garbage',
      reason: 'attempts_exhausted',
      errors: Array.from({ length: 30 }, (_, i) => ({
        attempt: i + 1,
        code: 'SY_ERR_X',
        name: 'Error',
        message: 'm'.repeat(5_000),
        stack: 's'.repeat(10_000),
        at: new Date().toISOString(),
      })),
      attempts: 30,
      enqueuedAt: 0,
      failedAt: new Date(),
      workerId: 'w',
    });
    expect(record.errors).toHaveLength(25);
    expect(record.errors[0]!.attempt).toBe(6);
    expect(record.errors[0]!.message.length).toBeLessThanOrEqual(1024);
    expect(record.errors[0]!.stack!.length).toBeLessThanOrEqual(4096);
    expect(record.replays).toBe(3);
    expect(record.eventId).toBeUndefined();
  });
});
