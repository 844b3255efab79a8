/**
 * A job whose lock keeps expiring (its workers died or hung) more often than
 * maxStalledCount allows is dead-lettered by the worker that takes it next,
 * record first, with reason 'stalled', without running the handler.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliveryJobOptions, queueNameOf } from '@switchyard/events';
import { signedUp, startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import { defineHandler } from '../src/index.js';
import { startWorker, type Harness } from './support/start-worker.js';

let redis: RedisHandle;
const harness = { cleanups: [] } as unknown as Harness;

beforeAll(async () => {
  redis = await startRedis();
  harness.redisUrl = redis.url;
  harness.client = new Redis(redis.url, { maxRetriesPerRequest: null });
});

afterEach(async () => {
  for (const cleanup of harness.cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await harness.client.quit();
  await redis.stop();
});

describe('dead-letter queue', () => {
  describe('when a job stalled more than maxStalledCount times', () => {
    it('records it with reason "stalled" without running the handler', async () => {
      const prefix = `sy-test-${randomUUID()}`;
      const event = signedUp('u_stalled');
      // A "worker" that takes the job and dies: a manual fetch whose lock is never renewed.
      const queue = new Queue(queueNameOf('notifications'), { connection: harness.client, prefix });
      const dead = new Worker(queueNameOf('notifications'), null, {
        connection: harness.client,
        prefix,
        lockDuration: 300,
        autorun: false,
      });
      harness.cleanups.push(
        () => dead.close(true),
        () => queue.close(),
      );
      await queue.add(event.type, event, { ...deliveryJobOptions, jobId: event.id });
      const taken = await dead.getNextJob(randomUUID());
      expect(taken?.id).toBe(event.id);

      const handled: string[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        handle: async (e) => {
          handled.push(e.id);
          await Promise.resolve();
        },
      });
      const fx = await startWorker(harness, [handler], {
        prefix,
        maxStalledCount: 0,
        stalledIntervalMs: 200,
      });

      expect(await fx.settled(event.id)).toBe('failed');
      const [record] = await waitFor(
        async () => {
          const records = await fx.deadLetters();
          return records.length > 0 ? records : undefined;
        },
        { timeoutMs: 5_000, message: 'a dead-letter record for the stalled-out job' },
      );
      expect(record).toMatchObject({
        reason: 'stalled',
        // attemptsMade + 1: the dead worker's start is not an attempt made.
        attempts: 1,
        jobId: event.id,
        eventId: event.id,
        event: { id: event.id, type: 'user.signed_up' },
      });
      expect(record?.errors.at(-1)).toMatchObject({ code: 'SY_ERR_JOB_STALLED' });
      expect(handled).toEqual([]);
    });
  });
});
