/**
 * Dead-letter replay, list and purge on a real Redis. DLQ entries are written
 * here the way the runtime writes them (a paused `<subscriber>.dlq` queue, one
 * job per record, jobId = original job id), so these tests do not depend on
 * the worker; the end-to-end case runs a plain BullMQ Worker.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  deadLetterQueueNameOf,
  deliveryJobOptions,
  queueNameOf,
  type StoredEnvelope,
  type SubscriberName,
} from '@switchyard/events';
import { numberedEnvelope as envelopeOf, waitFor } from '@switchyard/testkit';
import {
  createDeadLetterRecord,
  deadLetterJobId,
  deadLetterJobOptions,
  type DeadLetterReason,
  type DeadLetterRecord,
} from '../src/dead-letter-record.js';
import { DeadLetterRecordInvalidError, DeadLetterUsageError } from '../src/errors.js';
import {
  createDeadLetters,
  maxReplayIdBumps,
  type CreateDeadLettersOptions,
  type DeadLetterFilter,
} from '../src/dead-letter-replay.js';
import { captureLogs } from './support/capture-logs.js';
import { useRedisHarness } from './support/redis-harness.js';

const harness = useRedisHarness();

/** A clock that only moves when the pacer sleeps; every sleep is recorded. */
function fakeClock() {
  let nowMs = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => nowMs,
    sleep: (ms: number) => {
      sleeps.push(ms);
      nowMs += ms;
      return Promise.resolve();
    },
  };
}

type EventKind = 'user.signed_up' | 'payment.failed';

interface DeadLetterSpec {
  reason?: DeadLetterReason;
  type?: EventKind;
  tenantId?: string;
  failedAt?: string;
  /** Original job id; default the eventId. */
  jobId?: (event: StoredEnvelope) => string;
}

const day = (d: number) => `2030-01-${String(d).padStart(2, '0')}T12:00:00.000Z`;

/**
 * A subscriber's DLQ and queue under a random prefix, and the API on them
 * with a fake clock and 4-job pages (so every scan spans several pages).
 */
async function openFixture(
  options: Partial<CreateDeadLettersOptions> = {},
  subscriber: SubscriberName = 'notifications',
) {
  const prefix = `sy-test-${randomUUID()}`;
  const dlq = new Queue(deadLetterQueueNameOf(subscriber), { connection: harness.client, prefix });
  await dlq.pause();
  const queue = new Queue(queueNameOf(subscriber), { connection: harness.client, prefix });
  const clock = fakeClock();
  const { logger, lines } = captureLogs();
  const deadLetters = createDeadLetters({
    connection: harness.client,
    prefix,
    logger,
    now: clock.now,
    sleep: clock.sleep,
    pageSize: 4,
    ...options,
  });
  harness.cleanups.push(async () => {
    await deadLetters.close();
    for (const q of [dlq, queue]) {
      await q.obliterate({ force: true });
      await q.close();
    }
  });

  let n = 0;
  /** Writes one DLQ entry the way the runtime does; returns its record. */
  async function deadLetter(spec: DeadLetterSpec = {}): Promise<DeadLetterRecord> {
    n += 1;
    const event = envelopeOf(spec.type ?? 'user.signed_up', n, spec.tenantId);
    const failedAt = new Date(spec.failedAt ?? day(10));
    const record = createDeadLetterRecord({
      subscriber,
      queue: queueNameOf(subscriber),
      jobId: spec.jobId?.(event) ?? event.id,
      jobName: event.type,
      event,
      reason: spec.reason ?? 'attempts_exhausted',
      errors: [{ attempt: 1, code: 'SY_ERR_TEST', name: 'Error', message: 'boom', at: day(1) }],
      attempts: 1,
      enqueuedAt: failedAt.getTime() - 1_000,
      failedAt,
      workerId: 'worker-test-1',
    });
    await dlq.add(record.jobName, record, {
      ...deadLetterJobOptions,
      jobId: deadLetterJobId(record.jobId),
    });
    return record;
  }

  const dlqIds = async () => (await dlq.getJobs(['waiting'], 0, -1, true)).map((job) => job.id);
  const queuedJobs = async () => queue.getJobs(['waiting', 'active', 'completed', 'delayed']);

  return {
    prefix,
    subscriber,
    dlq,
    queue,
    clock,
    lines,
    deadLetters,
    deadLetter,
    dlqIds,
    queuedJobs,
  };
}

type Fixture = Awaited<ReturnType<typeof openFixture>>;

/** The job a replay of `record` must produce, as BullMQ returns it. */
function expectReplayed(job: Job | undefined, record: DeadLetterRecord) {
  expect(job).toBeDefined();
  expect(job!.id).toBe(`${record.eventId}-r${record.replays + 1}`);
  expect(job!.name).toBe(record.jobName);
  expect(job!.data).toEqual(record.event);
  expect(job!.opts).toMatchObject({
    attempts: deliveryJobOptions.attempts,
    backoff: { type: deliveryJobOptions.backoff.type },
  });
}

/** Eight entries that differ in reason, type, tenant and failure day. */
async function mixedDeadLetters(fx: Fixture) {
  const specs: DeadLetterSpec[] = [
    { reason: 'permanent', type: 'user.signed_up', tenantId: 'acme', failedAt: day(1) },
    { reason: 'attempts_exhausted', type: 'user.signed_up', tenantId: 'acme', failedAt: day(2) },
    { reason: 'schema_invalid', type: 'payment.failed', failedAt: day(3) },
    { reason: 'attempts_exhausted', type: 'payment.failed', tenantId: 'globex', failedAt: day(4) },
    { reason: 'permanent', type: 'payment.failed', tenantId: 'acme', failedAt: day(5) },
    { reason: 'no_handler', type: 'user.signed_up', failedAt: day(6) },
    {
      reason: 'retry_budget_exhausted',
      type: 'user.signed_up',
      tenantId: 'globex',
      failedAt: day(7),
    },
    { reason: 'attempts_exhausted', type: 'user.signed_up', failedAt: day(8) },
  ];
  const records: DeadLetterRecord[] = [];
  for (const spec of specs) records.push(await fx.deadLetter(spec));
  return records;
}

describe('dead letters', () => {
  describe('replay', () => {
    describe('when a filter selects entries', () => {
      const cases: { name: string; filter: DeadLetterFilter; expected: number[] }[] = [
        { name: 'one reason', filter: { reason: 'permanent' }, expected: [0, 4] },
        {
          name: 'several reasons',
          filter: { reason: ['schema_invalid', 'no_handler'] },
          expected: [2, 5],
        },
        { name: 'an event type', filter: { eventType: 'payment.failed' }, expected: [2, 3, 4] },
        { name: 'a tenant', filter: { tenantId: 'acme' }, expected: [0, 1, 4] },
        {
          name: 'a time range (from inclusive, to exclusive)',
          filter: { from: new Date(day(3)), to: new Date(day(6)) },
          expected: [2, 3, 4],
        },
        {
          name: 'reason, tenant and type together',
          filter: { reason: 'permanent', tenantId: 'acme', eventType: 'payment.failed' },
          expected: [4],
        },
      ];

      it.each(cases)(
        'by $name: re-enqueues exactly the matching entries once, as r1 jobs with the same envelope, and removes only them',
        async ({ filter, expected }) => {
          const fx = await openFixture();
          const records = await mixedDeadLetters(fx);
          const chosen = expected.map((index) => records[index]!);
          const kept = records.filter((_, index) => !expected.includes(index));

          const result = await fx.deadLetters.replay('notifications', { filter });

          expect(result).toEqual({
            matched: chosen.length,
            replayed: chosen.length,
            skipped: 0,
            failed: [],
            missing: [],
            dryRun: false,
            aborted: false,
          });
          const jobs = await fx.queuedJobs();
          expect(jobs.map((job) => job.id).sort()).toEqual(
            chosen.map((record) => `${record.eventId}-r1`).sort(),
          );
          for (const record of chosen) {
            const job = jobs.find((candidate) => candidate.id === `${record.eventId}-r1`);
            expectReplayed(job, record);
            expect((job!.data as StoredEnvelope).idempotencyKey).toBe(record.idempotencyKey);
          }
          expect(await fx.dlqIds()).toEqual(kept.map((record) => record.jobId));
        },
      );

      it('matches a tenant-less entry only when no tenant is asked for', async () => {
        const fx = await openFixture();
        const records = await mixedDeadLetters(fx);
        const result = await fx.deadLetters.replay('notifications', {
          filter: { reason: 'no_handler', tenantId: 'acme' },
        });
        expect(result.matched).toBe(0);
        expect(await fx.dlqIds()).toHaveLength(records.length);
      });

      it('replays at most `limit` entries, oldest first', async () => {
        const fx = await openFixture();
        const records = await mixedDeadLetters(fx);
        const result = await fx.deadLetters.replay('notifications', { filter: {}, limit: 3 });
        expect(result).toMatchObject({ matched: 3, replayed: 3 });
        expect(await fx.dlqIds()).toEqual(records.slice(3).map((record) => record.jobId));
      });
    });

    describe('when one entry is named by id', () => {
      it('replays that entry only and reports ids that are not in the DLQ', async () => {
        const fx = await openFixture();
        const records = await mixedDeadLetters(fx);
        const target = records[3]!;

        const result = await fx.deadLetters.replay('notifications', {
          ids: [target.jobId, 'no-such-entry', target.jobId],
        });

        expect(result).toMatchObject({ matched: 1, replayed: 1, missing: ['no-such-entry'] });
        const jobs = await fx.queuedJobs();
        expect(jobs).toHaveLength(1);
        expectReplayed(jobs[0], target);
        expect(await fx.dlqIds()).toEqual(
          records.filter((record) => record !== target).map((record) => record.jobId),
        );
      });

      it('gives an entry that was itself a replay the next replay id', async () => {
        const fx = await openFixture();
        const record = await fx.deadLetter({ jobId: (event) => `${event.id}-r1` });
        expect(record.replays).toBe(1);

        await fx.deadLetters.replay('notifications', { ids: [record.jobId] });

        const jobs = await fx.queuedJobs();
        expect(jobs.map((job) => job.id)).toEqual([`${record.eventId}-r2`]);
      });
    });

    describe('when the replay job id is already in the queue', () => {
      it('adds no second job (an earlier run stopped between add and remove) and clears the entry', async () => {
        const fx = await openFixture();
        const record = await fx.deadLetter();
        const replayId = `${record.eventId}-r1`;
        await fx.queue.add(record.jobName, { earlier: true }, { jobId: replayId });

        const result = await fx.deadLetters.replay('notifications', { ids: [record.jobId] });

        expect(result).toMatchObject({ matched: 1, replayed: 1, failed: [] });
        const jobs = await fx.queuedJobs();
        expect(jobs.map((job) => job.id)).toEqual([replayId]);
        expect(jobs[0]!.data).toEqual({ earlier: true });
        expect(await fx.dlqIds()).toEqual([]);
      });

      it.each(['completed', 'failed'] as const)(
        'adds it under the next replay id when that job already %s, never dropping the entry',
        async (how) => {
          const fx = await openFixture();
          const record = await fx.deadLetter();
          await finishJob(fx.prefix, `${record.eventId}-r1`, how);

          const result = await fx.deadLetters.replay('notifications', { ids: [record.jobId] });

          expect(result).toMatchObject({ matched: 1, replayed: 1, failed: [] });
          const waiting = await fx.queue.getJobs(['waiting'], 0, -1, true);
          expect(waiting.map((job) => job.id)).toEqual([`${record.eventId}-r2`]);
          expect(waiting[0]!.data).toEqual(record.event);
          expect(await fx.dlqIds()).toEqual([]);
        },
      );

      it(`reports the entry in failed once ${maxReplayIdBumps} replay ids are taken`, async () => {
        const fx = await openFixture();
        const record = await fx.deadLetter();
        for (let n = 1; n <= maxReplayIdBumps; n += 1) {
          await finishJob(fx.prefix, `${record.eventId}-r${n}`, 'completed');
        }

        const result = await fx.deadLetters.replay('notifications', { ids: [record.jobId] });

        expect(result).toMatchObject({
          matched: 1,
          replayed: 0,
          failed: [{ id: record.jobId, code: 'SY_ERR_REPLAY_ID_TAKEN' }],
        });
        expect(await fx.dlqIds()).toEqual([record.jobId]);
      });

      it('creates one job per entry when two replays of the same entries run at once', async () => {
        const fx = await openFixture();
        const records: DeadLetterRecord[] = [];
        for (let i = 0; i < 12; i += 1) records.push(await fx.deadLetter());

        const [first, second] = await Promise.all([
          fx.deadLetters.replay('notifications', { filter: {} }),
          fx.deadLetters.replay('notifications', { filter: {} }),
        ]);

        expect(first.replayed + second.replayed).toBe(records.length);
        expect(first.failed).toEqual([]);
        expect(second.failed).toEqual([]);
        expect(first.replayed + first.skipped).toBe(first.matched);
        expect(second.replayed + second.skipped).toBe(second.matched);
        const jobs = await fx.queuedJobs();
        expect(jobs.map((job) => job.id).sort()).toEqual(
          records.map((record) => `${record.eventId}-r1`).sort(),
        );
        expect(await fx.dlqIds()).toEqual([]);
      });
    });

    describe('on a dry run', () => {
      it('counts the matching entries and changes nothing', async () => {
        const fx = await openFixture();
        const records = await mixedDeadLetters(fx);

        const result = await fx.deadLetters.replay('notifications', {
          filter: { tenantId: 'acme' },
          dryRun: true,
        });
        const byId = await fx.deadLetters.replay('notifications', {
          ids: [records[0]!.jobId, 'no-such-entry'],
          dryRun: true,
        });

        expect(result).toEqual({
          matched: 3,
          replayed: 0,
          skipped: 0,
          failed: [],
          missing: [],
          dryRun: true,
          aborted: false,
        });
        expect(byId).toMatchObject({ matched: 1, replayed: 0, missing: ['no-such-entry'] });
        expect(await fx.dlqIds()).toEqual(records.map((record) => record.jobId));
        expect(await fx.queue.getJobCountByTypes('waiting', 'delayed', 'completed')).toBe(0);
        expect(fx.clock.sleeps).toEqual([]);
      });
    });

    describe('pacing', () => {
      it('spaces re-enqueues 1000/ratePerSecond ms apart: 30 entries at 10/s take 2.9 s of clock time', async () => {
        const fx = await openFixture();
        for (let i = 0; i < 30; i += 1) await fx.deadLetter();
        const progressAt: number[] = [];

        const result = await fx.deadLetters.replay('notifications', {
          filter: {},
          ratePerSecond: 10,
          onProgress: (done, total) => {
            expect(total).toBe(30);
            expect(done).toBe(progressAt.length + 1);
            progressAt.push(fx.clock.now());
          },
        });

        expect(result.replayed).toBe(30);
        expect(fx.clock.sleeps).toHaveLength(29);
        for (const ms of fx.clock.sleeps) expect(ms).toBeCloseTo(100, 6);
        expect(fx.clock.sleeps.reduce((sum, ms) => sum + ms, 0)).toBeCloseTo(2_900, 6);
        for (let i = 1; i < progressAt.length; i += 1) {
          expect(progressAt[i]! - progressAt[i - 1]!).toBeGreaterThanOrEqual(100 - 1e-6);
        }
      });

      it('paces at 50 per second when no rate is given', async () => {
        const fx = await openFixture();
        for (let i = 0; i < 5; i += 1) await fx.deadLetter();
        await fx.deadLetters.replay('notifications', { filter: {} });
        expect(fx.clock.sleeps).toHaveLength(4);
        for (const ms of fx.clock.sleeps) expect(ms).toBeCloseTo(20, 6);
      });
    });

    describe('when the signal aborts', () => {
      it('stops between entries and reports what was done', async () => {
        const fx = await openFixture();
        const records: DeadLetterRecord[] = [];
        for (let i = 0; i < 30; i += 1) records.push(await fx.deadLetter());
        const controller = new AbortController();

        const result = await fx.deadLetters.replay('notifications', {
          filter: {},
          signal: controller.signal,
          onProgress: (done) => {
            if (done === 5) controller.abort();
          },
        });

        expect(result).toMatchObject({ matched: 30, replayed: 5, aborted: true, failed: [] });
        expect(await fx.queuedJobs()).toHaveLength(5);
        expect(await fx.dlqIds()).toEqual(records.slice(5).map((record) => record.jobId));
      });

      it('stops while the pacer waits', async () => {
        const controller = new AbortController();
        const sleeps: number[] = [];
        // Aborts once the pacer waits, and settles only on abort: a pacer that
        // did not pass the signal on would hang the test.
        const sleep = (ms: number, signal?: AbortSignal) =>
          new Promise<void>((_, reject) => {
            sleeps.push(ms);
            signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
            setImmediate(() => controller.abort());
          });
        const fx = await openFixture({ sleep, now: () => 0 });
        for (let i = 0; i < 3; i += 1) await fx.deadLetter();

        const result = await fx.deadLetters.replay('notifications', {
          filter: {},
          ratePerSecond: 1,
          signal: controller.signal,
        });

        expect(sleeps).toEqual([1_000]);
        expect(result).toMatchObject({ matched: 3, replayed: 1, aborted: true });
        expect(await fx.dlqIds()).toHaveLength(2);
      });

      it('does nothing when the signal has already aborted', async () => {
        const fx = await openFixture();
        await fx.deadLetter();
        const result = await fx.deadLetters.replay('notifications', {
          filter: {},
          signal: AbortSignal.abort(),
        });
        expect(result).toMatchObject({ replayed: 0, aborted: true });
        expect(await fx.dlqIds()).toHaveLength(1);
      });
    });

    describe('when an add fails', () => {
      it('leaves that entry in the DLQ, reports and logs it, and replays the others', async () => {
        const fx = await openFixture();
        const records: DeadLetterRecord[] = [];
        for (let i = 0; i < 3; i += 1) records.push(await fx.deadLetter());
        const broken = records[1]!;
        // A string where BullMQ expects the job hash: its add script fails with WRONGTYPE.
        await harness.client.set(
          `${fx.prefix}:${queueNameOf('notifications')}:${broken.eventId}-r1`,
          'not-a-hash',
        );

        const result = await fx.deadLetters.replay('notifications', { filter: {} });

        expect(result).toMatchObject({ matched: 3, replayed: 2, skipped: 0 });
        expect(result.failed).toEqual([
          {
            id: broken.jobId,
            code: expect.any(String) as string,
            error: expect.stringContaining('WRONGTYPE') as string,
          },
        ]);
        expect(await fx.dlqIds()).toEqual([broken.jobId]);
        expect(
          fx.lines.filter(
            (line) => line.msg === 'dead letter not replayed' && line.deadLetterId === broken.jobId,
          ),
        ).toHaveLength(1);
      });
    });

    describe('when an entry is not a dead-letter record', () => {
      it('fails it by id, leaves it in place, and no non-empty filter selects it', async () => {
        const fx = await openFixture();
        await fx.dlq.add('user.signed_up', { hello: 'world' }, { jobId: 'foreign-1' });
        const record = await fx.deadLetter({ reason: 'permanent' });

        const byId = await fx.deadLetters.replay('notifications', { ids: ['foreign-1'] });
        const byReason = await fx.deadLetters.replay('notifications', {
          filter: { reason: 'permanent' },
        });

        expect(byId.failed).toEqual([
          {
            id: 'foreign-1',
            code: 'SY_ERR_DEAD_LETTER_RECORD_INVALID',
            error: expect.stringContaining('version') as string,
          },
        ]);
        expect(byReason).toMatchObject({ matched: 1, replayed: 1 });
        expect(await fx.dlqIds()).toEqual(['foreign-1']);
        expect((await fx.queuedJobs()).map((job) => job.id)).toEqual([`${record.eventId}-r1`]);
      });

      it('refuses a record whose queue is not the subscriber queue', async () => {
        const fx = await openFixture();
        const record = await fx.deadLetter();
        await fx.dlq.add(
          'user.signed_up',
          { ...record, jobId: 'elsewhere-1', queue: 'billing' },
          { jobId: 'elsewhere-1' },
        );
        const result = await fx.deadLetters.replay('notifications', { ids: ['elsewhere-1'] });
        expect(result.failed).toMatchObject([
          { id: 'elsewhere-1', code: 'SY_ERR_DEAD_LETTER_RECORD_INVALID' },
        ]);
        expect(await fx.queuedJobs()).toEqual([]);
      });
    });

    describe('end to end', () => {
      it('a worker on the original queue processes exactly the replayed entries, once each', async () => {
        const fx = await openFixture();
        const records = await mixedDeadLetters(fx);
        const chosen = records.filter(
          (record) => record.reason === 'attempts_exhausted' || record.tenantId === 'globex',
        );
        const seen: { id: string | undefined; data: unknown }[] = [];
        const workerConnection = new Redis(harness.redisUrl, { maxRetriesPerRequest: null });
        const worker = new Worker(
          queueNameOf('notifications'),
          async (job: Job) => {
            seen.push({ id: job.id, data: job.data as unknown });
            await Promise.resolve();
          },
          { connection: workerConnection, prefix: fx.prefix, concurrency: 4 },
        );
        harness.cleanups.push(async () => {
          await worker.close();
          await workerConnection.quit();
        });
        await worker.waitUntilReady();

        const result = await fx.deadLetters.replay('notifications', {
          filter: { reason: ['attempts_exhausted', 'retry_budget_exhausted'] },
          ratePerSecond: 10,
        });

        expect(result).toMatchObject({ matched: chosen.length, replayed: chosen.length });
        await waitFor(
          async () =>
            (await fx.queue.getJobCountByTypes('completed')) === chosen.length &&
            (await fx.queue.getJobCountByTypes('waiting', 'active', 'delayed')) === 0,
          { message: 'replayed jobs completed', timeoutMs: 10_000 },
        );
        expect(seen.map((entry) => entry.id).sort()).toEqual(
          chosen.map((record) => `${record.eventId}-r1`).sort(),
        );
        for (const record of chosen) {
          expect(seen.find((entry) => entry.id === `${record.eventId}-r1`)?.data).toEqual(
            record.event,
          );
        }
        expect(await fx.dlqIds()).toEqual(
          records.filter((record) => !chosen.includes(record)).map((record) => record.jobId),
        );
        expect(fx.clock.sleeps).toHaveLength(chosen.length - 1);
      });
    });
  });

  describe('purge', () => {
    it('removes exactly the entries a filter selects', async () => {
      const fx = await openFixture();
      const records = await mixedDeadLetters(fx);

      const dry = await fx.deadLetters.purge('notifications', {
        filter: { eventType: 'payment.failed' },
        dryRun: true,
      });
      expect(dry).toEqual({
        matched: 3,
        purged: 0,
        skipped: 0,
        missing: [],
        dryRun: true,
        aborted: false,
      });
      expect(await fx.dlqIds()).toHaveLength(records.length);

      const result = await fx.deadLetters.purge('notifications', {
        filter: { eventType: 'payment.failed' },
      });

      expect(result).toEqual({
        matched: 3,
        purged: 3,
        skipped: 0,
        missing: [],
        dryRun: false,
        aborted: false,
      });
      expect(await fx.dlqIds()).toEqual(
        records.filter((record) => record.eventType !== 'payment.failed').map((r) => r.jobId),
      );
      expect(await fx.queuedJobs()).toEqual([]);
    });

    it('removes entries by id and reports the missing ones', async () => {
      const fx = await openFixture();
      const records = await mixedDeadLetters(fx);
      const result = await fx.deadLetters.purge('notifications', {
        ids: [records[0]!.jobId, 'gone'],
      });
      expect(result).toMatchObject({ matched: 1, purged: 1, missing: ['gone'] });
      expect(await fx.dlqIds()).toEqual(records.slice(1).map((record) => record.jobId));
    });

    it('leaves an entry a replay run has claimed', async () => {
      const fx = await openFixture();
      const [claimed, free] = [await fx.deadLetter(), await fx.deadLetter()];
      await harness.client.set(
        fx.dlq.toKey(`replay-claim:${claimed.jobId}`),
        'a-replay-run',
        'PX',
        10_000,
      );

      const result = await fx.deadLetters.purge('notifications', { filter: {} });

      expect(result).toMatchObject({ matched: 2, purged: 1, skipped: 1 });
      expect(await fx.dlqIds()).toEqual([claimed.jobId]);
      expect(await fx.dlqIds()).not.toContain(free.jobId);
    });
  });

  describe('list', () => {
    it('pages oldest first with the total of the whole DLQ', async () => {
      const fx = await openFixture();
      const records: DeadLetterRecord[] = [];
      for (let i = 0; i < 10; i += 1) records.push(await fx.deadLetter());

      const first = await fx.deadLetters.list('notifications', { limit: 4 });
      const last = await fx.deadLetters.list('notifications', { offset: 8, limit: 4 });
      const beyond = await fx.deadLetters.list('notifications', { offset: 10 });

      expect(first.total).toBe(10);
      expect(first.entries).toEqual(
        records.slice(0, 4).map((record) => ({ id: record.jobId, record })),
      );
      expect(last).toEqual({
        total: 10,
        entries: records.slice(8).map((record) => ({ id: record.jobId, record })),
      });
      expect(beyond).toEqual({ total: 10, entries: [] });
    });

    it('pages over the matching entries only, with their total', async () => {
      const fx = await openFixture();
      const records = await mixedDeadLetters(fx);
      const acme = records.filter((record) => record.tenantId === 'acme');

      const first = await fx.deadLetters.list('notifications', {
        filter: { tenantId: 'acme' },
        limit: 2,
      });
      const second = await fx.deadLetters.list('notifications', {
        filter: { tenantId: 'acme' },
        offset: 2,
        limit: 2,
      });

      expect(first.total).toBe(3);
      expect(first.entries.map((entry) => entry.id)).toEqual(acme.slice(0, 2).map((r) => r.jobId));
      expect(second.entries.map((entry) => entry.id)).toEqual([acme[2]!.jobId]);
    });

    it('shows data that is not a record, with why', async () => {
      const fx = await openFixture();
      await fx.dlq.add('x.y', { version: 2 }, { jobId: 'foreign-1' });
      const page = await fx.deadLetters.list('notifications');
      expect(page).toEqual({
        total: 1,
        entries: [{ id: 'foreign-1', record: undefined, invalid: 'version is 2, not 1' }],
      });
    });
  });

  describe('get', () => {
    it('returns an entry by id, undefined for an unknown id, and refuses data that is not a record', async () => {
      const fx = await openFixture();
      const record = await fx.deadLetter();
      await fx.dlq.add('x.y', 'just a string', { jobId: 'foreign-1' });

      expect(await fx.deadLetters.get('notifications', record.jobId)).toEqual(record);
      expect(await fx.deadLetters.get('notifications', 'no-such-entry')).toBeUndefined();
      await expect(fx.deadLetters.get('notifications', 'foreign-1')).rejects.toBeInstanceOf(
        DeadLetterRecordInvalidError,
      );
    });
  });

  describe('usage errors', () => {
    it.each([
      ['no selection', { ids: undefined }],
      ['a rate of 0', { filter: {}, ratePerSecond: 0 }],
      ['a rate above 10 000', { filter: {}, ratePerSecond: 10_001 }],
      ['a limit of 0', { filter: {}, limit: 0 }],
      ['an unknown reason', { filter: { reason: 'tired' as DeadLetterReason } }],
      ['an empty reason list', { filter: { reason: [] } }],
      ['from after to', { filter: { from: new Date(day(5)), to: new Date(day(4)) } }],
      ['an invalid date', { filter: { from: new Date('nope') } }],
    ])('replay refuses %s and changes nothing', async (_name, options) => {
      const fx = await openFixture();
      await fx.deadLetter();
      await expect(fx.deadLetters.replay('notifications', options)).rejects.toBeInstanceOf(
        DeadLetterUsageError,
      );
      expect(await fx.dlqIds()).toHaveLength(1);
    });

    it('refuses a list limit above 1000, an unknown subscriber, and calls after close', async () => {
      const fx = await openFixture();
      await expect(fx.deadLetters.list('notifications', { limit: 1_001 })).rejects.toBeInstanceOf(
        DeadLetterUsageError,
      );
      await expect(fx.deadLetters.list('nobody' as SubscriberName)).rejects.toMatchObject({
        code: 'SY_ERR_DEAD_LETTER_USAGE',
      });
      await fx.deadLetters.close();
      await expect(fx.deadLetters.list('notifications')).rejects.toBeInstanceOf(
        DeadLetterUsageError,
      );
    });
  });

  describe('close', () => {
    const clientCount = async () =>
      String(await harness.client.client('LIST'))
        .split('\n')
        .filter(Boolean).length;

    it('closes the connection it opened from a URL', async () => {
      const before = await clientCount();
      const deadLetters = createDeadLetters({
        connection: harness.redisUrl,
        prefix: `sy-test-${randomUUID()}`,
      });
      expect(await deadLetters.list('billing')).toEqual({ total: 0, entries: [] });
      expect(await clientCount()).toBe(before + 1);

      await deadLetters.close();
      await deadLetters.close();

      await waitFor(async () => (await clientCount()) === before, { message: 'connection closed' });
    });

    it('leaves a connection the caller passed open', async () => {
      const deadLetters = createDeadLetters({
        connection: harness.client,
        prefix: `sy-test-${randomUUID()}`,
      });
      await deadLetters.list('billing');
      await deadLetters.close();
      expect(await harness.client.ping()).toBe('PONG');
    });
  });
});

/** Adds a job with `jobId` to the notifications queue under `prefix` and completes or fails it. */
async function finishJob(prefix: string, jobId: string, how: 'completed' | 'failed') {
  const queue = new Queue(queueNameOf('notifications'), { connection: harness.client, prefix });
  const worker = new Worker(queueNameOf('notifications'), null, {
    connection: harness.client,
    prefix,
    autorun: false,
  });
  try {
    await queue.add('user.signed_up', { earlier: true }, { jobId });
    const token = randomUUID();
    const job = await worker.getNextJob(token);
    if (job?.id !== jobId) throw new Error(`expected to take ${jobId}, took ${job?.id}`);
    if (how === 'completed') await job.moveToCompleted('done', token, false);
    else await job.moveToFailed(new Error('earlier failure'), token, false);
  } finally {
    await worker.close();
    await queue.close();
  }
}
