/**
 * Ingest backpressure through the HTTP API: a subscriber queue whose backlog
 * reached its limit makes publishes to it answer 429 with Retry-After, and
 * nothing is enqueued; batches answer such items per item. Limits come from
 * BACKLOG_LIMIT / BACKLOG_LIMITS; the backlog is read on every publish here
 * (BACKLOG_CHECK_INTERVAL_MS=0).
 */
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterQueueNameOf, queueNameOf, subscriberNames } from '@switchyard/events';
import { parseEnv } from '@switchyard/observability';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import { producerEnvSchema } from '../src/env.js';
import {
  openProducer,
  paymentFailed,
  signedUp,
  type ProducerFixture,
} from './support/producer-fixture.js';

let server: RedisHandle;
let fx: ProducerFixture;
let queues: Queue[] = [];

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await Promise.all(queues.map((q) => q.close()));
  queues = [];
  await fx?.close();
});

const limited = { BACKLOG_LIMITS: 'billing=2', BACKLOG_CHECK_INTERVAL_MS: '0' };

function queue(name: string): Queue {
  const q = new Queue(name, { connection: fx.admin, prefix: fx.prefix });
  queues.push(q);
  return q;
}

describe('ingest backpressure', () => {
  describe('when a subscriber queue’s backlog is at its limit', () => {
    it('answers 429 with Retry-After and the backlog in details, and enqueues nothing', async () => {
      fx = await openProducer(server, { ...limited, BACKLOG_RETRY_AFTER_SECONDS: '7' });
      const billing = queue('billing');
      await billing.add('filler', {});
      await billing.add('filler', {}, { priority: 3 });

      const response = await fx.request({ url: '/v1/events', body: paymentFailed('in_1') });

      expect(response.statusCode).toBe(429);
      expect(response.headers['retry-after']).toBe('7');
      expect(response.json()).toEqual({
        error: {
          code: 'SY_ERR_BACKLOG_FULL',
          message: expect.stringContaining('billing') as string,
          details: { queue: 'billing', backlog: 2, limit: 2, retryAfterSeconds: 7 },
        },
      });
      expect(await billing.count()).toBe(2);
      expect((await fx.keys()).filter((key) => key.includes(':idempotency:'))).toEqual([]);
    });

    it('still accepts events for other queues', async () => {
      fx = await openProducer(server, limited);
      await queue('billing').add('filler', {});
      await queue('billing').add('filler', {});

      const response = await fx.request({ url: '/v1/events', body: signedUp('u_1') });

      expect(response.statusCode).toBe(202);
    });

    it('answers a key already accepted with the same payload 202 duplicate, not 429', async () => {
      fx = await openProducer(server, limited);
      const first = await fx.request({ url: '/v1/events', body: paymentFailed('in_1') });
      await queue('billing').add('filler', {});

      const again = await fx.request({ url: '/v1/events', body: paymentFailed('in_1') });

      expect(again.statusCode).toBe(202);
      expect(again.json()).toMatchObject({
        status: 'duplicate',
        eventId: first.json<{ eventId: string }>().eventId,
      });
    });

    it('accepts again once the backlog drains below the limit', async () => {
      fx = await openProducer(server, limited);
      const billing = queue('billing');
      await billing.add('filler', {});
      await billing.add('filler', {});
      expect(
        (await fx.request({ url: '/v1/events', body: paymentFailed('in_1') })).statusCode,
      ).toBe(429);

      await billing.drain();

      expect(
        (await fx.request({ url: '/v1/events', body: paymentFailed('in_1') })).statusCode,
      ).toBe(202);
    });
  });

  describe('when a backlog is over its limit and publishers keep sending', () => {
    /** Jobs in every state of every subscriber queue (and DLQ), by queue. */
    async function everyJob(): Promise<Record<string, number>> {
      const counts: Record<string, number> = {};
      for (const subscriber of subscriberNames) {
        for (const name of [queueNameOf(subscriber), deadLetterQueueNameOf(subscriber)]) {
          const all = await queue(name).getJobCounts(
            'waiting',
            'active',
            'delayed',
            'prioritized',
            'completed',
            'failed',
            'waiting-children',
          );
          counts[name] = Object.values(all).reduce((sum, count) => sum + count, 0);
        }
      }
      return counts;
    }

    it('answers every single publish 429 with Retry-After, rejects every batch item, and enqueues nothing more in any queue', async () => {
      fx = await openProducer(server, {
        BACKLOG_LIMITS: 'notifications=2',
        BACKLOG_CHECK_INTERVAL_MS: '0',
        BACKLOG_RETRY_AFTER_SECONDS: '3',
      });
      // Over the limit by every kind of backlog: waiting, prioritized, due delayed.
      const notifications = queue('notifications');
      await notifications.add('filler', {});
      await notifications.add('filler', {}, { priority: 1 });
      await notifications.add('filler', {}, { delay: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const before = await everyJob();

      const singles = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fx.request({ url: '/v1/events', body: signedUp(`u_${i}`) }),
        ),
      );
      const batch = await fx.request({
        url: '/v1/events/batch',
        body: [signedUp('b_1'), signedUp('b_2'), signedUp('b_3')],
      });

      for (const response of singles) {
        expect(response.statusCode).toBe(429);
        expect(response.headers['retry-after']).toBe('3');
        expect(response.json()).toMatchObject({
          error: { code: 'SY_ERR_BACKLOG_FULL', details: { queue: 'notifications', limit: 2 } },
        });
      }
      expect(batch.statusCode).toBe(202);
      expect(batch.json<{ results: { status: string }[] }>().results.map((r) => r.status)).toEqual([
        'rejected',
        'rejected',
        'rejected',
      ]);
      // All or none: provisioning, not full, got none of these events either.
      expect(await everyJob()).toEqual(before);
      expect(before.notifications).toBe(3);
      expect(before.provisioning).toBe(0);
      expect((await fx.keys()).filter((key) => key.includes(':idempotency:'))).toEqual([]);
    });
  });

  describe('what counts as backlog', () => {
    it('counts delayed jobs once due, not before', async () => {
      fx = await openProducer(server, {
        BACKLOG_LIMITS: 'billing=1',
        BACKLOG_CHECK_INTERVAL_MS: '0',
      });
      const billing = queue('billing');
      await billing.add('later', {}, { delay: 60_000 });

      const notDue = await fx.request({ url: '/v1/events', body: paymentFailed('in_1') });
      expect(notDue.statusCode).toBe(202);
      await billing.drain(true);

      await billing.add('soon', {}, { delay: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const due = await fx.request({ url: '/v1/events', body: paymentFailed('in_2') });
      expect(due.statusCode).toBe(429);
    });

    it('reuses a queue’s figure for BACKLOG_CHECK_INTERVAL_MS (approximate by design)', async () => {
      fx = await openProducer(server, {
        BACKLOG_LIMITS: 'billing=1',
        BACKLOG_CHECK_INTERVAL_MS: '60000',
      });
      // Read once (empty), then filled behind the producer's back.
      expect(
        (await fx.request({ url: '/v1/events', body: paymentFailed('in_1') })).statusCode,
      ).toBe(202);
      await queue('billing').add('filler', {});

      // Still within the interval: the stale figure lets it through.
      expect(
        (await fx.request({ url: '/v1/events', body: paymentFailed('in_2') })).statusCode,
      ).toBe(202);
    });
  });

  describe('POST /v1/events/batch', () => {
    it('answers 202 and rejects only the items bound for a full queue, with the 429 error', async () => {
      fx = await openProducer(server, limited);
      await queue('billing').add('filler', {});
      await queue('billing').add('filler', {});

      const response = await fx.request({
        url: '/v1/events/batch',
        body: [signedUp('u_1'), paymentFailed('in_1'), signedUp('u_2')],
      });

      expect(response.statusCode).toBe(202);
      const { results } = response.json<{ results: Record<string, unknown>[] }>();
      expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
      expect(results[1]).toMatchObject({
        index: 1,
        error: {
          code: 'SY_ERR_BACKLOG_FULL',
          details: { queue: 'billing', backlog: 2, limit: 2, retryAfterSeconds: 5 },
        },
      });
      expect(await queue('billing').count()).toBe(2);
      expect((await fx.enqueued()).notifications).toBe(2);
    });
  });

  describe('delivery options', () => {
    it('carries delayMs and priority into the jobs, not into the envelope', async () => {
      fx = await openProducer(server);
      const response = await fx.request({
        url: '/v1/events',
        body: { ...paymentFailed('in_1'), delayMs: 5_000, priority: 2 },
      });
      const { eventId } = response.json<{ eventId: string }>();
      const job = await queue('billing').getJob(eventId);

      expect(response.statusCode).toBe(202);
      expect(job?.opts).toMatchObject({ delay: 5_000, priority: 2 });
      expect(job?.data).not.toHaveProperty('delayMs');
      expect(job?.data).not.toHaveProperty('priority');
    });

    it('answers 400 for a priority outside BullMQ’s range', async () => {
      fx = await openProducer(server);
      const response = await fx.request({
        url: '/v1/events',
        body: { ...paymentFailed('in_1'), priority: 0 },
      });

      expect(response.statusCode).toBe(400);
    });
  });

  describe('configuration', () => {
    const base = { API_KEYS: 'a-key-of-sixteen-chars' };

    it('parses BACKLOG_LIMIT and BACKLOG_LIMITS', () => {
      const config = parseEnv(producerEnvSchema, {
        ...base,
        BACKLOG_LIMIT: '500',
        BACKLOG_LIMITS: 'notifications=5000, billing=100',
      });

      expect(config.BACKLOG_LIMIT).toBe(500);
      expect(config.BACKLOG_LIMITS).toEqual({ notifications: 5000, billing: 100 });
    });

    it('defaults to 100 000 per queue', () => {
      const config = parseEnv(producerEnvSchema, base);

      expect(config.BACKLOG_LIMIT).toBe(100_000);
      expect(config.BACKLOG_LIMITS).toEqual({});
      expect(config.BACKLOG_CHECK_INTERVAL_MS).toBe(250);
    });

    it('refuses a malformed BACKLOG_LIMITS, naming the variable', () => {
      expect(() => parseEnv(producerEnvSchema, { ...base, BACKLOG_LIMITS: 'billing:100' })).toThrow(
        /BACKLOG_LIMITS/,
      );
    });
  });
});
