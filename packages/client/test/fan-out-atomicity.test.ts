/**
 * What the one-transaction fan-out guarantees, and what it cannot (see
 * src/fan-out.ts): EXEC either runs every job's insert or, when Redis
 * rejects a command while queueing it, none; a command failing while EXEC
 * runs is not rolled back, so the publisher must not answer 'accepted'.
 */
import { FlowProducer } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import {
  RedisUnavailableError,
  createRedisPublisher,
  idempotencyRecordKey,
  type RedisPublisher,
} from '../src/index.js';
import {
  failFastOptions,
  openPublisherFixture,
  signedUp,
  waitReady,
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

describe('fan-out atomicity', () => {
  describe('when Redis refuses one queue’s insert while queueing the transaction (EXECABORT)', () => {
    // An ACL user allowed every key of the test except the provisioning
    // queue's: Redis rejects that queue's insert at queue time, so EXEC
    // aborts the whole transaction.
    let restricted: Redis;
    let publisher: RedisPublisher;

    async function openRestricted(): Promise<void> {
      fx = await openPublisherFixture(server);
      const user = `u${fx.prefix}`;
      await fx.admin.call(
        'ACL',
        'SETUSER',
        user,
        'on',
        '>a-long-test-password',
        '+@all',
        'resetkeys',
        `~${fx.prefix}:notifications:*`,
        `~${fx.prefix}:idempotency:*`,
        '&*',
      );
      restricted = new Redis(server.url, {
        ...failFastOptions,
        username: user,
        password: 'a-long-test-password',
      });
      restricted.on('error', () => undefined);
      await waitReady(restricted);
      // No backlog check: its read of the provisioning queue would be refused
      // first, and this test is about the fan-out's transaction.
      publisher = createRedisPublisher({
        connection: restricted,
        prefix: fx.prefix,
        backlogLimit: Infinity,
      });
    }

    afterEach(async () => {
      await publisher.close();
      restricted.disconnect();
      await fx.admin.call('ACL', 'DELUSER', `u${fx.prefix}`);
    });

    it('adds no job to any queue and throws RedisUnavailableError', async () => {
      await openRestricted();

      const error = await publisher.publish(signedUp('u_1')).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect((error as Error).message).toMatch(/EXECABORT/);
      // Nothing but the (pending) idempotency record was written.
      expect(await fx.keys()).toEqual([expect.stringContaining(':idempotency:')]);
      expect(await fx.jobsIn('notifications')).toHaveLength(0);
      expect(await fx.jobsIn('provisioning')).toHaveLength(0);
    });

    it('(control) would have added the notifications job had it been alone', async () => {
      await openRestricted();
      const flows = new FlowProducer({ connection: restricted, prefix: fx.prefix });

      await flows.addBulk([
        { name: 'user.signed_up', queueName: 'notifications', data: {}, opts: { jobId: 'alone' } },
      ]);
      await flows.close();

      expect((await fx.jobsIn('notifications')).map((job) => job.id)).toEqual(['alone']);
    });
  });

  describe('when one queue’s insert fails while EXEC runs (a queue key of the wrong type)', () => {
    it('throws RedisUnavailableError instead of answering accepted, leaving the record pending', async () => {
      fx = await openPublisherFixture(server);
      // BullMQ's addStandardJob starts with INCR on `<prefix>:<queue>:id`.
      await fx.admin.rpush(`${fx.prefix}:provisioning:id`, 'not a counter');

      const error = await fx.publisher
        .publish(signedUp('u_2', { idempotencyKey: 'k-2' }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(error).toMatchObject({
        details: { failures: [expect.objectContaining({ queue: 'provisioning' })] },
      });
      // Redis does not roll back: the other queue kept its job. This is the
      // window a retry closes.
      expect(await fx.jobsIn('notifications')).toHaveLength(1);
      expect(await fx.jobsIn('provisioning')).toHaveLength(0);
      const record = JSON.parse((await fx.admin.get(idempotencyRecordKey(fx.prefix, 'k-2')))!) as {
        state: string;
      };
      expect(record.state).toBe('pending');
    });

    it('lets a retry after the key is repaired put the job in every queue exactly once, under the same id', async () => {
      fx = await openPublisherFixture(server);
      await fx.admin.rpush(`${fx.prefix}:provisioning:id`, 'not a counter');
      const input = signedUp('u_3', { idempotencyKey: 'k-3' });
      await expect(fx.publisher.publish(input)).rejects.toBeInstanceOf(RedisUnavailableError);
      const [first] = await fx.jobsIn('notifications');

      await fx.admin.del(`${fx.prefix}:provisioning:id`);
      const retry = await fx.publisher.publish(input);

      expect(retry).toMatchObject({ status: 'duplicate', eventId: first!.id });
      expect((await fx.jobsIn('notifications')).map((job) => job.id)).toEqual([first!.id]);
      expect((await fx.jobsIn('provisioning')).map((job) => job.id)).toEqual([first!.id]);
    });
  });
});
