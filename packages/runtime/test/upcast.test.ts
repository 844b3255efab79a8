/**
 * Schema evolution on real Redis: user.signed_up v1 jobs enqueued before a
 * deploy are processed after it by workers whose handlers know only v2.
 * Jobs are added before any worker starts, as a deploy finds them.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  catalogue,
  createEnvelope,
  deadLetterQueueNameOf,
  deliveryJobOptions,
  parsePublishRequest,
  queueNameOf,
  type Envelope,
  type EventData,
  type StoredEnvelope,
  type SubscriberName,
} from '@switchyard/events';
import { createLogger, createMetricsRegistry } from '@switchyard/observability';
import { startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import {
  createWorker,
  defineHandler,
  type DeadLetterRecord,
  type HandlerContext,
} from '../src/index.js';

let redis: RedisHandle;
let client: Redis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
});

afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await client.quit();
  await redis.stop();
});

/** A v1 envelope as the producer stored it before the deploy (through JSON, as in Redis). */
function signedUpV1(userId: string, plan: 'free' | 'pro' | 'enterprise'): StoredEnvelope {
  const envelope = createEnvelope(
    parsePublishRequest({
      type: 'user.signed_up',
      version: 1,
      data: { userId, email: `${userId}@example.com`, plan },
    }),
  );
  return JSON.parse(JSON.stringify(envelope)) as StoredEnvelope;
}

/** The subscriber's queue and DLQ under `prefix`, removed after the test. */
function queuesOf(subscriber: SubscriberName, prefix: string) {
  const queue = new Queue(queueNameOf(subscriber), { connection: client, prefix });
  const dlq = new Queue<DeadLetterRecord>(deadLetterQueueNameOf(subscriber), {
    connection: client,
    prefix,
  });
  cleanups.push(async () => {
    await queue.obliterate({ force: true });
    await dlq.obliterate({ force: true });
    await queue.close();
    await dlq.close();
  });
  /** Adds a job the way publishers do: deliveryJobOptions, jobId = event id. */
  const enqueue = (envelope: StoredEnvelope) =>
    queue.add(envelope.type, envelope, { ...deliveryJobOptions, jobId: envelope.id });
  return { queue, dlq, enqueue };
}

type Received = { event: Envelope<'user.signed_up'>; ctx: HandlerContext };

/** Starts a worker for `subscriber` whose user.signed_up handler records what it receives. */
async function startRecordingWorker(subscriber: 'notifications' | 'provisioning', prefix: string) {
  const received: Received[] = [];
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const handler = defineHandler({
    subscriber,
    event: 'user.signed_up',
    handle: async (event, ctx) => {
      // Handlers are typed for the newest version only.
      expectTypeOf(event.data).toEqualTypeOf<EventData<'user.signed_up', 2>>();
      expectTypeOf(event.data).toEqualTypeOf<{
        userId: string;
        email: string;
        tier: 'free' | 'pro' | 'enterprise';
        locale: string;
      }>();
      received.push({ event, ctx });
      await Promise.resolve();
    },
  });
  const worker = createWorker({
    handlers: [handler],
    connection: redis.url,
    prefix,
    workerId: `${subscriber}-after-deploy`,
    logger: createLogger({ name: 'upcast-test', level: 'info', destination }),
    registry: createMetricsRegistry({ service: 'test', processMetrics: false }),
  });
  cleanups.push(() => worker.close(2_000));
  await worker.start();
  return { received, lines };
}

async function settled(queue: Queue, jobId: string) {
  return waitFor(
    async () => {
      const state = await queue.getJobState(jobId);
      return state === 'completed' || state === 'failed' ? state : undefined;
    },
    { timeoutMs: 10_000, message: `job ${jobId} settled` },
  );
}

describe('schema evolution', () => {
  describe('when v1 events are queued before workers that know v2 start', () => {
    it('hands every handler v2-shaped data with the same event id and idempotency key', async () => {
      const prefix = `sy-test-${randomUUID()}`;
      const subscribers = ['notifications', 'provisioning'] as const;
      const queues = subscribers.map((subscriber) => queuesOf(subscriber, prefix));
      const v1Events = [
        signedUpV1('u_ada', 'pro'),
        signedUpV1('u_bob', 'free'),
        signedUpV1('u_cyd', 'enterprise'),
      ];
      const v2Event = createEnvelope(
        parsePublishRequest({
          type: 'user.signed_up',
          version: 2,
          data: { userId: 'u_dee', email: 'u_dee@example.com', tier: 'pro', locale: 'fr-CA' },
        }),
      );
      for (const { enqueue } of queues) {
        for (const envelope of [...v1Events, v2Event]) await enqueue(envelope);
      }

      const workers = [];
      for (const subscriber of subscribers)
        workers.push(await startRecordingWorker(subscriber, prefix));

      for (const { queue } of queues) {
        for (const envelope of [...v1Events, v2Event]) {
          expect(await settled(queue, envelope.id)).toBe('completed');
        }
      }
      for (const { received, lines } of workers) {
        const byId = new Map(received.map((call) => [call.event.id, call]));
        expect(received).toHaveLength(4);
        for (const stored of v1Events) {
          const v1 = stored.data as EventData<'user.signed_up', 1>;
          const call = byId.get(stored.id);
          expect(call?.event).toEqual({
            ...stored,
            version: 2,
            data: { userId: v1.userId, email: v1.email, tier: v1.plan, locale: 'en' },
          });
          expect(call?.ctx).toMatchObject({
            eventId: stored.id,
            idempotencyKey: stored.idempotencyKey,
          });
          expect(stored.idempotencyKey).toMatch(/^user\.signed_up:v1:/);
        }
        expect(byId.get(v2Event.id)?.event).toEqual(v2Event);
        const upcastLines = lines.filter((line) => line.msg === 'event upcast');
        expect(upcastLines).toHaveLength(3);
        expect(upcastLines[0]).toMatchObject({ fromVersion: 1, toVersion: 2 });
      }
      // The queued jobs themselves still hold v1: only the handler's copy is upcast.
      const job = await queues[0]!.queue.getJob(v1Events[0]!.id);
      expect(job?.data).toEqual(v1Events[0]);
    });
  });

  describe('when upcasting a v1 job yields invalid v2 data', () => {
    it('dead-letters it as schema_invalid with the original v1 data, unretried', async () => {
      const prefix = `sy-test-${randomUUID()}`;
      const { queue, dlq, enqueue } = queuesOf('notifications', prefix);
      const stored = signedUpV1('u_eve', 'pro');
      await enqueue(stored);
      // A buggy upcaster shipped in the deploy (same module instance as the worker's).
      vi.spyOn(catalogue['user.signed_up'][2], 'upcast').mockImplementation(
        ({ userId, email }) => ({ userId, email, tier: 'gold' as 'pro', locale: 'en' }),
      );

      const { received } = await startRecordingWorker('notifications', prefix);

      expect(await settled(queue, stored.id)).toBe('failed');
      expect(received).toEqual([]);
      const records = (await dlq.getJobs()).map((job) => job.data);
      expect(records).toEqual([
        expect.objectContaining({
          reason: 'schema_invalid',
          event: stored,
          eventId: stored.id,
          idempotencyKey: stored.idempotencyKey,
          attempts: 1,
          errors: [
            expect.objectContaining({
              code: 'SY_ERR_SCHEMA_INVALID',
              message: expect.stringContaining('user.signed_up v1 -> v2') as unknown,
            }),
          ],
        }),
      ]);
    });
  });

  describe('when an upcaster throws', () => {
    it('dead-letters the job as schema_invalid instead of crashing the worker', async () => {
      const prefix = `sy-test-${randomUUID()}`;
      const { queue, dlq, enqueue } = queuesOf('provisioning', prefix);
      const stored = signedUpV1('u_fay', 'free');
      const after = signedUpV1('u_gus', 'free');
      await enqueue(stored);
      const spy = vi.spyOn(catalogue['user.signed_up'][2], 'upcast').mockImplementationOnce(() => {
        throw new TypeError('cannot read plan');
      });

      const { received } = await startRecordingWorker('provisioning', prefix);
      expect(await settled(queue, stored.id)).toBe('failed');
      // The worker is still alive and processes the next job.
      spy.mockRestore();
      await enqueue(after);
      expect(await settled(queue, after.id)).toBe('completed');

      expect(received.map((call) => call.event.id)).toEqual([after.id]);
      const records = (await dlq.getJobs()).map((job) => job.data);
      expect(records).toEqual([
        expect.objectContaining({ reason: 'schema_invalid', event: stored }),
      ]);
    });
  });
});
