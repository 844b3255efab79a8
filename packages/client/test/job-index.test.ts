import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import {
  findJobs,
  indexJobs,
  jobIndexKey,
  JobIndexUsageError,
  type FoundJob,
  type JobIndexEntry,
} from '../src/index.js';
import {
  openPublisherFixture,
  paymentFailed,
  signedUp,
  type PublisherFixture,
} from './support/publisher-fixture.js';

let server: RedisHandle;
let fx: PublisherFixture;
const warnings: { fields: Record<string, unknown>; message: string }[] = [];
const logger = {
  info: () => undefined,
  warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }),
};

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  warnings.length = 0;
  await fx?.close();
});

const where = (jobs: FoundJob[]) => jobs.map((job) => `${job.queue}/${job.jobId}`).sort();

describe('job search index', () => {
  describe('when the publisher fans an event out', () => {
    it('finds its job in every subscriber queue by its eventId, correlationId, idempotency key and tenantId', async () => {
      fx = await openPublisherFixture(server, { logger });
      const published = await fx.publisher.publish(
        signedUp('u_1', { tenantId: 'acme', correlationId: 'corr-checkout-1' }),
        { idempotencyKeyHeader: 'signup-u_1-attempt' },
      );
      const other = await fx.publisher.publish(signedUp('u_2', { tenantId: 'globex' }));
      const expected = ['notifications', 'provisioning'].map((q) => `${q}/${published.eventId}`);

      for (const [kind, id] of [
        ['eventId', published.eventId],
        ['correlationId', 'corr-checkout-1'],
        ['idempotencyKey', 'signup-u_1-attempt'],
        ['tenantId', 'acme'],
      ] as const) {
        const found = await findJobs(fx.admin, { prefix: fx.prefix, id });
        expect(where(found), `by ${kind}`).toEqual(expected);
        for (const job of found) {
          expect(job).toMatchObject({
            jobId: published.eventId,
            deadLetter: false,
            state: 'waiting',
            matchedBy: [kind],
            eventType: 'user.signed_up',
            eventId: published.eventId,
            tenantId: 'acme',
            correlationId: 'corr-checkout-1',
            idempotencyKey: 'signup-u_1-attempt',
            attemptsMade: 0,
          });
          expect(job.timestamp).toBeGreaterThan(Date.now() - 60_000);
        }
        // Restricted to that kind, the same answer; restricted to another, nothing.
        expect(where(await findJobs(fx.admin, { prefix: fx.prefix, id, kinds: [kind] }))).toEqual(
          expected,
        );
      }
      expect(
        await findJobs(fx.admin, { prefix: fx.prefix, id: 'acme', kinds: ['eventId'] }),
      ).toEqual([]);
      // The other event is found by its own ids only.
      expect(where(await findJobs(fx.admin, { prefix: fx.prefix, id: 'globex' }))).toEqual(
        ['notifications', 'provisioning'].map((q) => `${q}/${other.eventId}`),
      );
      expect(await findJobs(fx.admin, { prefix: fx.prefix, id: 'nobody' })).toEqual([]);
      expect(warnings).toEqual([]);
    });

    it('names every kind an id matched once per job (the default correlationId is the eventId)', async () => {
      fx = await openPublisherFixture(server);
      const published = await fx.publisher.publish(paymentFailed('in_1'));
      const found = await findJobs(fx.admin, { prefix: fx.prefix, id: published.eventId });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        queue: 'billing',
        jobId: published.eventId,
        matchedBy: ['eventId', 'correlationId'],
      });
    });

    it('indexes every event of a batch, in the same round trip that marks them accepted', async () => {
      fx = await openPublisherFixture(server);
      const results = await fx.publisher.publishBatch(
        Array.from({ length: 40 }, (_, i) => signedUp(`u_${i}`, { tenantId: `t${i % 4}` })),
      );
      for (const result of results) {
        if (result.status === 'rejected') throw new Error('rejected');
        const found = await findJobs(fx.admin, { prefix: fx.prefix, id: result.idempotencyKey });
        expect(where(found)).toEqual(
          ['notifications', 'provisioning'].map((q) => `${q}/${result.eventId}`),
        );
      }
      const tenant = await findJobs(fx.admin, { prefix: fx.prefix, id: 't1', limit: 500 });
      expect(tenant).toHaveLength(20);
      expect(new Set(tenant.map((job) => job.tenantId))).toEqual(new Set(['t1']));
    });

    it('does not index a duplicate twice, and a publish still succeeds when an index key is unusable', async () => {
      fx = await openPublisherFixture(server, { logger });
      // Someone else's value where the tenant's index key would be: WRONGTYPE for that key only.
      await fx.admin.set(jobIndexKey(fx.prefix, 'tenantId', 'broken'), 'not a sorted set');
      const published = await fx.publisher.publish(signedUp('u_9', { tenantId: 'broken' }));
      expect(published.status).toBe('accepted');
      expect(await fx.jobsIn('notifications')).toHaveLength(1);
      expect(warnings.map((w) => w.message)).toEqual([
        'job search index not written; the jobs are enqueued but findJobs will not find them',
      ]);
      // The other keys of the same write went in.
      expect(
        where(await findJobs(fx.admin, { prefix: fx.prefix, id: published.idempotencyKey })),
      ).toHaveLength(2);

      const again = await fx.publisher.publish(signedUp('u_9', { tenantId: 'broken' }));
      expect(again.status).toBe('duplicate');
      expect(await fx.admin.zcard(jobIndexKey(fx.prefix, 'eventId', published.eventId))).toBe(2);
    });

    it('writes nothing with jobIndex: false', async () => {
      fx = await openPublisherFixture(server, { jobIndex: false });
      await fx.publisher.publish(signedUp('u_1'));
      expect((await fx.keys()).filter((key) => key.includes(':sy:index:'))).toEqual([]);
    });
  });

  describe('state and fields', () => {
    it('reports completed, paused and gone jobs as such', async () => {
      fx = await openPublisherFixture(server);
      const first = await fx.publisher.publish(signedUp('u_1'));
      const workerConnection = new Redis(server.url, { maxRetriesPerRequest: null });
      const worker = new Worker('notifications', () => Promise.resolve('done'), {
        connection: workerConnection,
        prefix: fx.prefix,
      });
      try {
        await waitFor(
          async () =>
            (await findJobs(fx.admin, { prefix: fx.prefix, id: first.eventId })).find(
              (job) => job.queue === 'notifications',
            )?.state === 'completed',
          { timeoutMs: 10_000 },
        );
      } finally {
        await worker.close();
        workerConnection.disconnect();
      }
      const provisioning = new Queue('provisioning', { connection: fx.admin, prefix: fx.prefix });
      try {
        await provisioning.pause();
        const paused = await findJobs(fx.admin, { prefix: fx.prefix, id: first.eventId });
        expect(paused.map((job) => [job.queue, job.state, job.attemptsMade]).sort()).toEqual([
          ['notifications', 'completed', 1],
          ['provisioning', 'paused', 0],
        ]);
        await provisioning.remove(first.eventId);
      } finally {
        await provisioning.close();
      }
      const gone = await findJobs(fx.admin, { prefix: fx.prefix, id: first.eventId });
      expect(gone.find((job) => job.queue === 'provisioning')).toEqual({
        queue: 'provisioning',
        jobId: first.eventId,
        deadLetter: false,
        state: 'gone',
        matchedBy: ['eventId', 'correlationId'],
      });
    });

    it('reads a DLQ entry’s ids, attempts and reason from its record', async () => {
      fx = await openPublisherFixture(server);
      const dlq = new Queue('billing.dlq', { connection: fx.admin, prefix: fx.prefix });
      try {
        await dlq.add(
          'payment.failed',
          {
            version: 1,
            eventId: 'ev-1',
            eventType: 'payment.failed',
            tenantId: 'acme',
            correlationId: 'c-1',
            idempotencyKey: 'k-1',
            attempts: 5,
            reason: 'attempts_exhausted',
            errors: [{ message: 'first' }, { message: 'sandbox answered 503' }],
            event: { id: 'ev-1' },
          },
          { jobId: 'ev-1' },
        );
        await indexJobs(fx.admin, {
          prefix: fx.prefix,
          entries: [{ queue: 'billing.dlq', jobId: 'ev-1', eventId: 'ev-1', correlationId: 'c-1' }],
        });
        const [found] = await findJobs(fx.admin, { prefix: fx.prefix, id: 'c-1' });
        expect(found).toMatchObject({
          queue: 'billing.dlq',
          deadLetter: true,
          state: 'waiting',
          matchedBy: ['correlationId'],
          eventType: 'payment.failed',
          eventId: 'ev-1',
          tenantId: 'acme',
          idempotencyKey: 'k-1',
          attemptsMade: 5,
          failedReason: 'attempts_exhausted: sandbox answered 503',
        });
      } finally {
        await dlq.close();
      }
    });
  });

  describe('retention', () => {
    const entry = (i: number, tenantId = 'acme'): JobIndexEntry => ({
      queue: 'notifications',
      jobId: `job-${i}`,
      eventId: `ev-${i}`,
      correlationId: 'shared-flow',
      tenantId,
    });

    it('keeps the newest maxPerTenant jobs per tenant and returns them newest first', async () => {
      fx = await openPublisherFixture(server);
      const start = Date.now();
      for (let i = 0; i < 8; i += 1) {
        await indexJobs(fx.admin, {
          prefix: fx.prefix,
          entries: [entry(i)],
          now: start + i,
          retention: { maxPerTenant: 5 },
        });
      }
      const key = jobIndexKey(fx.prefix, 'tenantId', 'acme');
      expect(await fx.admin.zrange(key, '0', '-1')).toEqual(
        [3, 4, 5, 6, 7].map((i) => `notifications/job-${i}`),
      );
      const found = await findJobs(fx.admin, {
        prefix: fx.prefix,
        id: 'acme',
        kinds: ['tenantId'],
        limit: 3,
      });
      expect(found.map((job) => job.jobId)).toEqual(['job-7', 'job-6', 'job-5']);
      // Indexed jobs that were never added to a queue read as gone.
      expect(new Set(found.map((job) => job.state))).toEqual(new Set(['gone']));
    });

    it('drops members older than ttlSeconds on the next write, and every key expires', async () => {
      fx = await openPublisherFixture(server);
      const now = Date.now();
      await indexJobs(fx.admin, {
        prefix: fx.prefix,
        entries: [entry(1)],
        now: now - 120_000,
        retention: { ttlSeconds: 60 },
      });
      await indexJobs(fx.admin, {
        prefix: fx.prefix,
        entries: [entry(2)],
        now,
        retention: { ttlSeconds: 60 },
      });
      for (const kind of ['tenantId', 'correlationId'] as const) {
        const value = kind === 'tenantId' ? 'acme' : 'shared-flow';
        expect(await fx.admin.zrange(jobIndexKey(fx.prefix, kind, value), '0', '-1')).toEqual([
          'notifications/job-2',
        ]);
      }
      const keys = (await fx.keys()).filter((key) => key.includes(':sy:index:'));
      expect(keys.length).toBe(4);
      for (const key of keys) {
        const ttl = await fx.admin.ttl(key);
        expect(ttl, key).toBeGreaterThan(0);
        expect(ttl, key).toBeLessThanOrEqual(60);
      }
    });

    it('expires keys after the idempotency window by default', async () => {
      fx = await openPublisherFixture(server, { idempotencyTtlSeconds: 3_600 });
      const published = await fx.publisher.publish(signedUp('u_1'));
      const ttl = await fx.admin.ttl(jobIndexKey(fx.prefix, 'eventId', published.eventId));
      expect(ttl).toBeGreaterThan(3_500);
      expect(ttl).toBeLessThanOrEqual(3_600);
    });
  });

  describe('odd ids', () => {
    const odd = [
      'x'.repeat(10_000),
      'with spaces and\nnewlines',
      'ünïcødé-😀',
      '#starts-with-hash',
      '*',
      'acme*',
      'a:b:c/d',
    ];

    it('stores long or unusual values under a short hashed key and finds them exactly', async () => {
      fx = await openPublisherFixture(server);
      await indexJobs(fx.admin, {
        prefix: fx.prefix,
        entries: odd.map((value, i) => ({
          queue: 'billing',
          jobId: `j${i}`,
          correlationId: value,
        })),
      });
      // A plain tenant that a glob would match: never returned for '*' or 'acme*'.
      await indexJobs(fx.admin, {
        prefix: fx.prefix,
        entries: [{ queue: 'billing', jobId: 'plain', tenantId: 'acme1' }],
      });
      for (const [i, value] of odd.entries()) {
        const found = await findJobs(fx.admin, { prefix: fx.prefix, id: value });
        expect(found.map((job) => job.jobId)).toEqual([`j${i}`]);
      }
      for (const key of await fx.keys()) expect(key.length).toBeLessThan(120);
      expect(jobIndexKey('sy', 'eventId', 'x'.repeat(129))).toMatch(
        /^sy:sy:index:eventId:#[0-9a-f]{64}$/,
      );
      expect(jobIndexKey('sy', 'eventId', 'abc-123')).toBe('sy:sy:index:eventId:abc-123');
    });

    it('refuses an empty id, an unknown kind and a bad limit, and caps a large one', async () => {
      fx = await openPublisherFixture(server);
      await expect(findJobs(fx.admin, { prefix: fx.prefix, id: '' })).rejects.toThrow(
        JobIndexUsageError,
      );
      await expect(
        findJobs(fx.admin, { prefix: fx.prefix, id: 'x', kinds: ['jobId' as never] }),
      ).rejects.toThrow(/kind "jobId"/);
      await expect(findJobs(fx.admin, { prefix: fx.prefix, id: 'x', limit: 0 })).rejects.toThrow(
        /limit/,
      );
      await indexJobs(fx.admin, {
        prefix: fx.prefix,
        entries: Array.from({ length: 600 }, (_, i) => ({
          queue: 'billing',
          jobId: `j${i}`,
          tenantId: 'big',
        })),
      });
      expect(
        await findJobs(fx.admin, { prefix: fx.prefix, id: 'big', limit: 10_000 }),
      ).toHaveLength(500);
    });
  });
});
