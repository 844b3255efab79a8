import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SchemaInvalidError,
  UnknownEventTypeError,
  UnknownEventVersionError,
  catalogue,
  deriveIdempotencyKey,
  payloadFingerprint,
} from '@switchyard/events';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import {
  IdempotencyConflictError,
  IdempotencyRecordInvalidError,
  PublisherClosedError,
  idempotencyRecordKey,
  deliveryJobOptions,
  type IdempotencyRecord,
} from '../src/index.js';
import {
  openPublisherFixture,
  paymentFailed,
  signedUp,
  type PublisherFixture,
} from './support/publisher-fixture.js';

let server: RedisHandle;
let fx: PublisherFixture;

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await fx?.close();
});

async function record(key: string): Promise<IdempotencyRecord> {
  const text = await fx.admin.get(idempotencyRecordKey(fx.prefix, key));
  expect(text).not.toBeNull();
  return JSON.parse(text!) as IdempotencyRecord;
}

describe('createRedisPublisher', () => {
  describe('publish', () => {
    describe('when an event is published for the first time', () => {
      it('puts one job in each subscriber queue: named after the type, the envelope as data, the event id as job id', async () => {
        fx = await openPublisherFixture(server, {
          newId: () => '0190a000-0000-7000-8000-000000000001',
          now: () => new Date('2030-01-02T03:04:05.000Z'),
        });
        const result = await fx.publisher.publish(signedUp('u_7'));

        expect(result).toMatchObject({
          eventId: '0190a000-0000-7000-8000-000000000001',
          status: 'accepted',
          queues: ['notifications', 'provisioning'],
        });
        for (const queue of ['notifications', 'provisioning']) {
          const jobs = await fx.jobsIn(queue);
          expect(jobs).toHaveLength(1);
          expect(jobs[0]!.id).toBe(result.eventId);
          expect(jobs[0]!.name).toBe('user.signed_up');
          expect(jobs[0]!.data).toEqual({
            id: result.eventId,
            type: 'user.signed_up',
            version: 1,
            occurredAt: '2030-01-02T03:04:05.000Z',
            correlationId: result.eventId,
            idempotencyKey: result.idempotencyKey,
            data: { userId: 'u_7', email: 'u_7@example.com', plan: 'free' },
          });
          expect(jobs[0]!.opts).toMatchObject({
            attempts: deliveryJobOptions.attempts,
            backoff: deliveryJobOptions.backoff,
          });
          // Retention is the worker's (deliveryRetention), not carried by each job.
          expect(jobs[0]!.opts.removeOnComplete).toBeUndefined();
          expect(jobs[0]!.opts.removeOnFail).toBeUndefined();
        }
        expect(await fx.jobsIn('billing')).toHaveLength(0);
      });

      it('derives the idempotency key exactly as events deriveIdempotencyKey does', async () => {
        fx = await openPublisherFixture(server);
        const input = signedUp('u_8', { tenantId: 'acme' });
        const result = await fx.publisher.publish(input);

        expect(result.idempotencyKey).toBe(
          deriveIdempotencyKey({
            type: 'user.signed_up',
            version: 1,
            tenantId: 'acme',
            data: input.data,
            definition: catalogue['user.signed_up'][1],
          }),
        );
      });

      it('records the key as accepted, with the payload fingerprint and a TTL of the window', async () => {
        fx = await openPublisherFixture(server, { idempotencyTtlSeconds: 600 });
        const input = paymentFailed('in_9');
        const result = await fx.publisher.publish(input);

        expect(await record(result.idempotencyKey)).toMatchObject({
          eventId: result.eventId,
          fingerprint: payloadFingerprint(input),
          queues: ['billing'],
          state: 'accepted',
          acceptedAt: expect.any(String) as unknown,
        });
        const ttl = await fx.admin.ttl(idempotencyRecordKey(fx.prefix, result.idempotencyKey));
        expect(ttl).toBeGreaterThan(590);
        expect(ttl).toBeLessThanOrEqual(600);
      });

      it('answers the type, correlation id and tenant the event was logged with', async () => {
        fx = await openPublisherFixture(server);
        const result = await fx.publisher.publish(
          signedUp('u_1', { tenantId: 'acme', correlationId: 'corr-1' }),
        );

        expect(result).toMatchObject({
          type: 'user.signed_up',
          correlationId: 'corr-1',
          tenantId: 'acme',
        });
      });
    });

    describe('when an Idempotency-Key header is given', () => {
      it('uses it over the key in the body', async () => {
        fx = await openPublisherFixture(server);
        const result = await fx.publisher.publish(
          signedUp('u_1', { idempotencyKey: 'from-body' }),
          {
            idempotencyKeyHeader: 'from-header',
          },
        );

        expect(result.idempotencyKey).toBe('from-header');
        expect((await fx.jobsIn('notifications'))[0]!.data).toMatchObject({
          idempotencyKey: 'from-header',
        });
        expect(await fx.admin.exists(idempotencyRecordKey(fx.prefix, 'from-body'))).toBe(0);
      });
    });

    describe('when the same key comes again with the same payload', () => {
      it('answers duplicate with the original event id and queues, and adds no job', async () => {
        fx = await openPublisherFixture(server);
        const first = await fx.publisher.publish(signedUp('u_2'));
        // Different envelope-only fields are still the same payload.
        const again = await fx.publisher.publish(
          signedUp('u_2', { correlationId: 'other', occurredAt: '2020-01-01T00:00:00Z' }),
        );

        expect(again).toMatchObject({
          eventId: first.eventId,
          idempotencyKey: first.idempotencyKey,
          status: 'duplicate',
          queues: first.queues,
          correlationId: first.correlationId,
        });
        expect(await fx.jobsIn('notifications')).toHaveLength(1);
        expect(await fx.jobsIn('provisioning')).toHaveLength(1);
      });
    });

    describe('when the same key comes again with a different payload', () => {
      it('throws IdempotencyConflictError and adds no job', async () => {
        fx = await openPublisherFixture(server);
        await fx.publisher.publish(signedUp('u_3', { idempotencyKey: 'k-3' }));
        const different = signedUp('u_3', { idempotencyKey: 'k-3' });
        different.data.plan = 'pro';

        const error = await fx.publisher.publish(different).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(IdempotencyConflictError);
        expect(error).toMatchObject({ code: 'SY_ERR_IDEMPOTENCY_CONFLICT' });
        expect(await fx.jobsIn('notifications')).toHaveLength(1);
        expect((await record('k-3')).state).toBe('accepted');
      });
    });

    describe('when two tenants use the same Idempotency-Key', () => {
      it('keeps their keys apart: both are accepted, and each tenant still gets its own 409', async () => {
        fx = await openPublisherFixture(server);
        const a = await fx.publisher.publish(
          signedUp('u_1', { tenantId: 'acme', idempotencyKey: 'order-1' }),
        );
        const b = await fx.publisher.publish(
          signedUp('u_2', { tenantId: 'globex', idempotencyKey: 'order-1' }),
        );
        expect(a.status).toBe('accepted');
        expect(b.status).toBe('accepted');
        expect(b.eventId).not.toBe(a.eventId);
        await expect(
          fx.publisher.publish(signedUp('u_3', { tenantId: 'acme', idempotencyKey: 'order-1' })),
        ).rejects.toBeInstanceOf(IdempotencyConflictError);
      });
    });

    describe('when many publishers race on one key', () => {
      it('accepts it once, answers every other call as a duplicate of the same event, and enqueues one job per queue', async () => {
        fx = await openPublisherFixture(server);
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, () => fx.publisher.publish(signedUp('u_race'))),
        );
        const values = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
        expect(values.every((v) => v !== undefined)).toBe(true);
        expect(values.filter((v) => v?.status === 'accepted')).toHaveLength(1);
        expect(new Set(values.map((v) => v?.eventId)).size).toBe(1);
        for (const queue of ['notifications', 'provisioning']) {
          expect(await fx.jobsIn(queue)).toHaveLength(1);
        }
      });
    });

    describe('when the input is invalid', () => {
      it.each([
        ['a schema error', { ...signedUp(), version: '1' }, SchemaInvalidError],
        ['an unknown type', { ...signedUp(), type: 'user.vanished' }, UnknownEventTypeError],
        ['an unknown version', { ...signedUp(), version: 9 }, UnknownEventVersionError],
        [
          'bad data',
          { ...signedUp(), data: { userId: 'u', email: 'not-an-email', plan: 'free' } },
          SchemaInvalidError,
        ],
      ])('throws for %s and writes nothing to Redis', async (_name, input, errorClass) => {
        fx = await openPublisherFixture(server);

        await expect(fx.publisher.publish(input)).rejects.toBeInstanceOf(errorClass);
        expect(await fx.keys()).toEqual([]);
      });
    });

    describe('when a pending record is found (its publisher died before confirming the fan-out)', () => {
      async function writePending(
        key: string,
        input: ReturnType<typeof signedUp>,
        eventId: string,
      ): Promise<void> {
        const pending: IdempotencyRecord = {
          eventId,
          fingerprint: payloadFingerprint(input),
          queues: ['notifications', 'provisioning'],
          state: 'pending',
          acceptedAt: null,
          occurredAt: '2030-01-01T00:00:00.000Z',
          correlationId: 'corr-original',
        };
        await fx.admin.set(
          idempotencyRecordKey(fx.prefix, key),
          JSON.stringify(pending),
          'EX',
          3_600,
        );
      }

      it('fans out again with the recorded event id and envelope, then marks the record accepted', async () => {
        fx = await openPublisherFixture(server);
        const input = signedUp('u_4', { idempotencyKey: 'k-4' });
        const eventId = '0190a000-0000-7000-8000-0000000000aa';
        await writePending('k-4', input, eventId);

        const result = await fx.publisher.publish(input);

        expect(result).toMatchObject({
          eventId,
          status: 'duplicate',
          queues: ['notifications', 'provisioning'],
        });
        for (const queue of ['notifications', 'provisioning']) {
          const jobs = await fx.jobsIn(queue);
          expect(jobs.map((job) => job.id)).toEqual([eventId]);
          expect(jobs[0]!.data).toMatchObject({
            id: eventId,
            occurredAt: '2030-01-01T00:00:00.000Z',
            correlationId: 'corr-original',
          });
        }
        expect(await record('k-4')).toMatchObject({ state: 'accepted', eventId });
        // The record's TTL is kept, not reset.
        expect(await fx.admin.ttl(idempotencyRecordKey(fx.prefix, 'k-4'))).toBeLessThanOrEqual(
          3_600,
        );
      });

      it('adds only the jobs that are missing when some queues already have theirs', async () => {
        fx = await openPublisherFixture(server);
        const input = signedUp('u_5', { idempotencyKey: 'k-5' });
        const eventId = '0190a000-0000-7000-8000-0000000000bb';
        await writePending('k-5', input, eventId);
        const notifications = new Queue('notifications', {
          connection: fx.admin,
          prefix: fx.prefix,
        });
        await notifications.add('user.signed_up', { already: true }, { jobId: eventId });
        await notifications.close();

        await fx.publisher.publish(input);

        const jobs = await fx.jobsIn('notifications');
        expect(jobs.map((job) => job.id)).toEqual([eventId]);
        expect(jobs[0]!.data).toEqual({ already: true });
        expect((await fx.jobsIn('provisioning')).map((job) => job.id)).toEqual([eventId]);
      });
    });

    describe('when the type has no subscribers', () => {
      it('accepts it with no queues and adds no job', async () => {
        fx = await openPublisherFixture(server, { queuesOf: () => [] });
        const result = await fx.publisher.publish(signedUp('u_6'));

        expect(result).toMatchObject({ status: 'accepted', queues: [] });
        expect(await fx.jobsIn('notifications')).toHaveLength(0);
        expect((await record(result.idempotencyKey)).state).toBe('accepted');
      });
    });

    describe('when the key holds something that is not a ledger record', () => {
      it('throws IdempotencyRecordInvalidError, leaves the value alone and adds no job', async () => {
        fx = await openPublisherFixture(server);
        await fx.admin.set(idempotencyRecordKey(fx.prefix, 'taken'), '{"eventId":1}');

        await expect(
          fx.publisher.publish(signedUp('u_1', { idempotencyKey: 'taken' })),
        ).rejects.toBeInstanceOf(IdempotencyRecordInvalidError);
        expect(await fx.admin.get(idempotencyRecordKey(fx.prefix, 'taken'))).toBe('{"eventId":1}');
        expect(await fx.jobsIn('notifications')).toHaveLength(0);
      });
    });

    describe('after close()', () => {
      it('refuses to publish', async () => {
        fx = await openPublisherFixture(server);
        await fx.publisher.close();

        await expect(fx.publisher.publish(signedUp())).rejects.toBeInstanceOf(PublisherClosedError);
        await expect(fx.publisher.publishBatch([signedUp()])).rejects.toBeInstanceOf(
          PublisherClosedError,
        );
        expect(await fx.keys()).toEqual([]);
      });
    });
  });

  describe('publishBatch', () => {
    describe('when every item is valid', () => {
      it('answers one result per input, in input order, and enqueues each', async () => {
        fx = await openPublisherFixture(server);
        const results = await fx.publisher.publishBatch([
          paymentFailed('in_1'),
          signedUp('u_1'),
          paymentFailed('in_2'),
        ]);

        expect(results.map((r) => [r.index, r.status])).toEqual([
          [0, 'accepted'],
          [1, 'accepted'],
          [2, 'accepted'],
        ]);
        expect(results.map((r) => ('queues' in r ? r.queues : null))).toEqual([
          ['billing'],
          ['notifications', 'provisioning'],
          ['billing'],
        ]);
        const billing = await fx.jobsIn('billing');
        expect(billing.map((job) => job.id).sort()).toEqual(
          results
            .filter((r) => 'queues' in r && r.queues[0] === 'billing')
            .map((r) => ('eventId' in r ? r.eventId : ''))
            .sort(),
        );
        expect(await fx.jobsIn('notifications')).toHaveLength(1);
      });

      it('claims the keys in one pipeline, fans out in one MULTI and marks them in one pipeline', async () => {
        fx = await openPublisherFixture(server);
        // Warm up: the first fan-out also loads BullMQ's scripts.
        await fx.publisher.publish(paymentFailed('in_0'));
        const monitor = await fx.admin.monitor();
        const commands: string[] = [];
        monitor.on('monitor', (_time: string, args: string[]) => {
          const name = String(args[0]).toLowerCase();
          if (name !== 'info' && name !== 'ping') commands.push(name);
        });

        await fx.publisher.publishBatch([
          paymentFailed('in_1'),
          paymentFailed('in_2'),
          paymentFailed('in_3'),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        monitor.disconnect();

        expect(commands.filter((c) => c === 'multi')).toHaveLength(1);
        expect(commands.filter((c) => c === 'exec')).toHaveLength(1);
        expect(commands.filter((c) => c === 'set')).toHaveLength(6);
        // Claims come before the transaction, marks after it.
        const multiAt = commands.indexOf('multi');
        const execAt = commands.indexOf('exec');
        expect(commands.slice(0, multiAt).filter((c) => c === 'set')).toHaveLength(3);
        expect(commands.slice(execAt).filter((c) => c === 'set')).toHaveLength(3);
      });
    });

    describe('when some items are invalid', () => {
      it('reports each invalid item by index with its code and details, and enqueues the valid ones', async () => {
        fx = await openPublisherFixture(server);
        const results = await fx.publisher.publishBatch([
          signedUp('u_1'),
          { type: 'user.vanished', version: 1, data: {} },
          { ...signedUp('u_2'), extra: true },
          paymentFailed('in_1'),
          'not an object',
        ]);

        expect(results.map((r) => r.status)).toEqual([
          'accepted',
          'rejected',
          'rejected',
          'accepted',
          'rejected',
        ]);
        expect(results[1]).toEqual({
          index: 1,
          status: 'rejected',
          error: { code: 'SY_ERR_UNKNOWN_EVENT_TYPE', message: expect.any(String) as unknown },
        });
        expect(results[2]).toMatchObject({
          index: 2,
          error: {
            code: 'SY_ERR_SCHEMA_INVALID',
            details: [expect.objectContaining({ code: 'unrecognized_keys' })],
          },
        });
        expect(results[4]).toMatchObject({ index: 4, error: { code: 'SY_ERR_SCHEMA_INVALID' } });
        expect(await fx.jobsIn('notifications')).toHaveLength(1);
        expect(await fx.jobsIn('billing')).toHaveLength(1);
      });
    });

    describe('when every item is invalid', () => {
      it('answers every rejection and writes nothing to Redis', async () => {
        fx = await openPublisherFixture(server);
        const results = await fx.publisher.publishBatch([
          {},
          { type: 'user.signed_up', version: 999, data: {} },
        ]);

        expect(results.map((r) => (r.status === 'rejected' ? r.error.code : r.status))).toEqual([
          'SY_ERR_SCHEMA_INVALID',
          'SY_ERR_UNKNOWN_EVENT_VERSION',
        ]);
        expect(await fx.keys()).toEqual([]);
      });
    });

    describe('when two items carry the same key and payload', () => {
      it('makes the second a duplicate of the first, with one job per queue', async () => {
        fx = await openPublisherFixture(server);
        const results = await fx.publisher.publishBatch([
          signedUp('u_1'),
          paymentFailed('in_1'),
          signedUp('u_1'),
        ]);

        expect(results.map((r) => r.status)).toEqual(['accepted', 'accepted', 'duplicate']);
        expect(results[2]).toMatchObject({ eventId: (results[0] as { eventId: string }).eventId });
        expect(await fx.jobsIn('notifications')).toHaveLength(1);
        expect(await fx.jobsIn('provisioning')).toHaveLength(1);
        expect(
          (await record((results[0] as { idempotencyKey: string }).idempotencyKey)).state,
        ).toBe('accepted');
      });
    });

    describe('when two items carry the same key and different payloads', () => {
      it('rejects the second as a conflict and enqueues the first only', async () => {
        fx = await openPublisherFixture(server);
        const pro = signedUp('u_1', { idempotencyKey: 'same' });
        pro.data.plan = 'pro';
        const results = await fx.publisher.publishBatch([
          signedUp('u_1', { idempotencyKey: 'same' }),
          pro,
        ]);

        expect(results[0]).toMatchObject({ status: 'accepted' });
        expect(results[1]).toMatchObject({
          index: 1,
          status: 'rejected',
          error: { code: 'SY_ERR_IDEMPOTENCY_CONFLICT' },
        });
        const jobs = await fx.jobsIn('notifications');
        expect(jobs).toHaveLength(1);
        expect(jobs[0]!.data).toMatchObject({ data: { plan: 'free' } });
      });
    });

    describe('when a key holds something that is not a ledger record', () => {
      it('rejects that item with SY_ERR_IDEMPOTENCY_RECORD_INVALID and publishes the others', async () => {
        fx = await openPublisherFixture(server);
        await fx.admin.set(idempotencyRecordKey(fx.prefix, 'taken'), 'someone else');

        const results = await fx.publisher.publishBatch([
          paymentFailed('in_1'),
          { ...paymentFailed('in_2'), idempotencyKey: 'taken' },
        ]);

        expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected']);
        expect(results[1]).toMatchObject({ error: { code: 'SY_ERR_IDEMPOTENCY_RECORD_INVALID' } });
        expect(await fx.jobsIn('billing')).toHaveLength(1);
        expect(await fx.admin.get(idempotencyRecordKey(fx.prefix, 'taken'))).toBe('someone else');
      });
    });

    describe('when an item matches a pending record', () => {
      it('completes that fan-out in the same transaction and answers duplicate', async () => {
        fx = await openPublisherFixture(server);
        const input = paymentFailed('in_7');
        const eventId = '0190a000-0000-7000-8000-0000000000cc';
        const key = 'k-7';
        await fx.admin.set(
          idempotencyRecordKey(fx.prefix, key),
          JSON.stringify({
            eventId,
            fingerprint: payloadFingerprint(input),
            queues: ['billing'],
            state: 'pending',
            acceptedAt: null,
            occurredAt: '2030-01-01T00:00:00.000Z',
            correlationId: 'corr-7',
          } satisfies IdempotencyRecord),
        );

        const results = await fx.publisher.publishBatch([
          paymentFailed('in_8'),
          { ...input, idempotencyKey: key },
        ]);

        expect(results[1]).toMatchObject({ status: 'duplicate', eventId });
        expect((await fx.jobsIn('billing')).map((job) => job.id)).toContain(eventId);
        expect((await record(key)).state).toBe('accepted');
      });
    });
  });
});
