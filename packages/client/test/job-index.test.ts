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

  describe('reading states on a large backlog', () => {
    /** Every command Redis runs (scripts' calls included) while `action` runs. */
    async function commandsDuring(action: () => Promise<unknown>): Promise<string[][]> {
      const watcher = new Redis(server.url, { maxRetriesPerRequest: 1 });
      const monitor = await watcher.monitor();
      const seen: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
      try {
        await action();
        const marker = `end-${Math.random()}`;
        await fx.admin.echo(marker);
        await waitFor(() => seen.some((args) => args[1] === marker), { timeoutMs: 5_000 });
        return seen;
      } finally {
        monitor.disconnect();
        watcher.disconnect();
      }
    }

    it('never scans the wait list, and bounds the active-list scan', async () => {
      fx = await openPublisherFixture(server);
      const published = await fx.publisher.publish(signedUp('u_1', { tenantId: 'acme' }));
      // 20 000 jobs added after it: with LPOS from the head, it sits at position 20 000.
      const notifications = new Queue('notifications', { connection: fx.admin, prefix: fx.prefix });
      try {
        for (let start = 0; start < 20_000; start += 1_000) {
          await notifications.addBulk(
            Array.from({ length: 1_000 }, (_, i) => ({ name: 'filler', data: { i: start + i } })),
          );
        }
      } finally {
        await notifications.close();
      }
      let found: FoundJob[] = [];
      const commands = await commandsDuring(async () => {
        found = await findJobs(fx.admin, { prefix: fx.prefix, id: published.eventId });
      });
      expect(found.map((job) => [job.queue, job.state]).sort()).toEqual([
        ['notifications', 'waiting'],
        ['provisioning', 'waiting'],
      ]);
      const scans = commands.filter((args) => args[0]?.toLowerCase() === 'lpos');
      expect(scans.filter((args) => args[1]?.endsWith(':wait'))).toEqual([]);
      // One bounded look at each queue's active list (a stalled job keeps no lock).
      expect(scans).toHaveLength(2);
      for (const scan of scans) {
        expect(scan[1]).toMatch(/:active$/);
        expect(scan.slice(3)).toEqual(['MAXLEN', '1000']);
      }
    });

    it('tells active (locked or stalled), paused, waiting and finished-but-unlisted jobs apart', async () => {
      fx = await openPublisherFixture(server);
      const [running, stalled, finished] = await Promise.all(
        ['u_1', 'u_2', 'u_3'].map((user) => fx.publisher.publish(paymentFailed(user))),
      );
      const workerConnection = new Redis(server.url, { maxRetriesPerRequest: null });
      const worker = new Worker('billing', null, {
        connection: workerConnection,
        prefix: fx.prefix,
        lockDuration: 60_000,
      });
      try {
        // BullMQ takes the oldest first: running, then stalled.
        expect((await worker.getNextJob('token-1'))?.id).toBe(running!.eventId);
        expect((await worker.getNextJob('token-2'))?.id).toBe(stalled!.eventId);
        // A worker that died: its lock expired, the job is still in the active list.
        await fx.admin.del(`${fx.prefix}:billing:${stalled!.eventId}:lock`);
        // Finished, yet in neither finished set (someone trimmed the set by hand).
        await fx.admin.hset(`${fx.prefix}:billing:${finished!.eventId}`, 'finishedOn', Date.now());
        const stateOf = async (eventId: string) =>
          (await findJobs(fx.admin, { prefix: fx.prefix, id: eventId }))[0]?.state;
        expect(await stateOf(running!.eventId)).toBe('active');
        expect(await stateOf(stalled!.eventId)).toBe('active');
        expect(await stateOf(finished!.eventId)).toBe('unknown');
        await fx.admin.hdel(`${fx.prefix}:billing:${finished!.eventId}`, 'finishedOn');
        expect(await stateOf(finished!.eventId)).toBe('waiting');
        const billing = new Queue('billing', { connection: fx.admin, prefix: fx.prefix });
        try {
          await billing.pause();
          expect(await stateOf(finished!.eventId)).toBe('paused');
        } finally {
          await billing.close();
        }
      } finally {
        await worker.close(true);
        workerConnection.disconnect();
      }
    });
  });

  describe('when one key holds someone else’s value', () => {
    it('reports that job as unknown and still answers for the others', async () => {
      fx = await openPublisherFixture(server);
      const published = await fx.publisher.publish(signedUp('u_1', { correlationId: 'flow-9' }));
      await indexJobs(fx.admin, {
        prefix: fx.prefix,
        entries: [{ queue: 'billing', jobId: 'foreign', correlationId: 'flow-9' }],
      });
      // WRONGTYPE inside the read script for that one job only.
      await fx.admin.set(`${fx.prefix}:billing:foreign`, 'not a job hash');
      const found = await findJobs(fx.admin, { prefix: fx.prefix, id: 'flow-9' });
      expect(found.map((job) => [job.queue, job.jobId, job.state]).sort()).toEqual([
        ['billing', 'foreign', 'unknown'],
        ['notifications', published.eventId, 'waiting'],
        ['provisioning', published.eventId, 'waiting'],
      ]);
      expect(found.find((job) => job.jobId === 'foreign')).toEqual({
        queue: 'billing',
        jobId: 'foreign',
        deadLetter: false,
        state: 'unknown',
        matchedBy: ['correlationId'],
      });
    });

    it('skips an index key that is not a sorted set, and throws any other Redis error', async () => {
      fx = await openPublisherFixture(server);
      const published = await fx.publisher.publish(signedUp('u_1', { tenantId: 'acme' }));
      // 'acme' as an idempotency key: someone else's string where that index key would be.
      await fx.admin.set(jobIndexKey(fx.prefix, 'idempotencyKey', 'acme'), 'foreign');
      const found = await findJobs(fx.admin, { prefix: fx.prefix, id: 'acme' });
      expect(found.map((job) => job.jobId)).toEqual([published.eventId, published.eventId]);

      // A user that may not run scripts: Redis refusing is an error, not "unknown" jobs.
      const user = `reader-${Math.random().toString(36).slice(2)}`;
      await fx.admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '+@all', '-evalsha', '-eval');
      const limited = new Redis(server.url, {
        username: user,
        password: 'pw',
        maxRetriesPerRequest: 1,
      });
      try {
        await expect(findJobs(limited, { prefix: fx.prefix, id: 'acme' })).rejects.toThrow(
          /NOPERM/,
        );
      } finally {
        limited.disconnect();
        await fx.admin.call('ACL', 'DELUSER', user);
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

    describe('when a key mixes DLQ entries (kept 30 days) and queue jobs (24 h)', () => {
      const day = 86_400_000;
      const dlqEntry: JobIndexEntry = {
        queue: 'billing.dlq',
        jobId: 'ev-old',
        eventId: 'ev-old',
        correlationId: 'flow-1',
        tenantId: 'acme',
      };
      const queueEntry = (jobId: string): JobIndexEntry => ({
        queue: 'billing',
        jobId,
        eventId: 'ev-old',
        correlationId: 'flow-1',
        tenantId: 'acme',
      });

      it('keeps a two-day-old DLQ member and its key’s expiry when a 24 h write follows', async () => {
        fx = await openPublisherFixture(server);
        const now = Date.now();
        // Two days ago: the job was published (24 h) and dead-lettered (30 days).
        await indexJobs(fx.admin, {
          prefix: fx.prefix,
          entries: [queueEntry('ev-old')],
          now: now - 2 * day,
        });
        await indexJobs(fx.admin, {
          prefix: fx.prefix,
          entries: [dlqEntry],
          now: now - 2 * day,
          retention: { ttlSeconds: 30 * 86_400 },
        });
        // Now: a replay job of the same event, with the queue jobs' 24 h.
        await indexJobs(fx.admin, { prefix: fx.prefix, entries: [queueEntry('ev-old-r1')], now });

        for (const [kind, value] of [
          ['eventId', 'ev-old'],
          ['correlationId', 'flow-1'],
          ['tenantId', 'acme'],
        ] as const) {
          const key = jobIndexKey(fx.prefix, kind, value);
          // The expired queue member went; the DLQ member stays, and expires 28 days from now.
          const members = await fx.admin.zrange(key, '0', '-1', 'WITHSCORES');
          expect(members, kind).toEqual([
            'billing/ev-old-r1',
            String(now + day),
            'billing.dlq/ev-old',
            String(now + 28 * day),
          ]);
          const ttl = await fx.admin.pttl(key);
          expect(ttl, kind).toBeGreaterThan(28 * day - 60_000);
          expect(ttl, kind).toBeLessThanOrEqual(28 * day);
        }
        const found = await findJobs(fx.admin, { prefix: fx.prefix, id: 'ev-old' });
        expect(found.map((job) => `${job.queue}/${job.jobId}`)).toEqual([
          'billing.dlq/ev-old',
          'billing/ev-old-r1',
        ]);
      });

      it('never shortens a member rewritten with a shorter retention', async () => {
        fx = await openPublisherFixture(server);
        const now = Date.now();
        await indexJobs(fx.admin, {
          prefix: fx.prefix,
          entries: [dlqEntry],
          now,
          retention: { ttlSeconds: 30 * 86_400 },
        });
        await indexJobs(fx.admin, { prefix: fx.prefix, entries: [dlqEntry], now: now + 1_000 });
        const key = jobIndexKey(fx.prefix, 'tenantId', 'acme');
        expect(await fx.admin.zscore(key, 'billing.dlq/ev-old')).toBe(String(now + 30 * day));
        expect(await fx.admin.pttl(key)).toBeGreaterThan(29 * day);
      });

      it('keeps the latest-expiring members when a tenant is over its bound', async () => {
        fx = await openPublisherFixture(server);
        const now = Date.now();
        await indexJobs(fx.admin, {
          prefix: fx.prefix,
          entries: [dlqEntry],
          now: now - day,
          retention: { ttlSeconds: 30 * 86_400, maxPerTenant: 3 },
        });
        for (let i = 0; i < 5; i += 1) {
          await indexJobs(fx.admin, {
            prefix: fx.prefix,
            entries: [{ queue: 'billing', jobId: `j${i}`, tenantId: 'acme' }],
            now: now + i,
            retention: { maxPerTenant: 3 },
          });
        }
        expect(
          await fx.admin.zrange(jobIndexKey(fx.prefix, 'tenantId', 'acme'), '0', '-1'),
        ).toEqual(['billing/j3', 'billing/j4', 'billing.dlq/ev-old']);
      });
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
