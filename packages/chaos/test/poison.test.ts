/**
 * 200 poison messages (x SY_CHAOS_SOAK) among a valid load. The poison is
 * written straight into the notifications queue with BullMQ's queue.add,
 * bypassing the publisher's validation, as a buggy or hostile producer with
 * Redis access could:
 * - a user.signed_up whose data the handler's schema rejects (bad e-mail)
 *   -> 'schema_invalid';
 * - job data that is no envelope at all -> 'schema_invalid';
 * - an envelope of a type the catalogue does not know -> 'unknown_event';
 * - a valid payment.failed in the notifications queue, which has no handler
 *   for it -> 'no_handler'.
 * Each must be dead-lettered at once with that reason, and the DLQ must hold
 * nothing else; every valid event is applied once.
 *
 * 'permanent' (a handler's permanent downstream refusal) is not in the set:
 * the shipped handlers call the sandbox, which refuses no well-formed call,
 * so no event that passes validation can reach it (see docs/reliability.md).
 */
import { randomUUID } from 'node:crypto';
import { deliveryJobOptions } from '@switchyard/events';
import { paymentFailed, signedUp } from '@switchyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExpectedPoison } from '../src/checker.ts';
import { soak } from '../src/env.ts';
import { runLoad } from '../src/load-generator.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';
import { finishScenario } from './scenario-helpers.ts';

type PoisonKind = 'bad-data' | 'not-an-envelope' | 'unknown-type' | 'no-handler';
const kinds: PoisonKind[] = ['bad-data', 'not-an-envelope', 'unknown-type', 'no-handler'];
const reasonOf: Record<PoisonKind, string> = {
  'bad-data': 'schema_invalid',
  'not-an-envelope': 'schema_invalid',
  'unknown-type': 'unknown_event',
  'no-handler': 'no_handler',
};

function poisonJob(kind: PoisonKind, n: number): { name: string; data: unknown; jobId: string } {
  switch (kind) {
    case 'bad-data': {
      const envelope = signedUp(`usr_poison_${n}`);
      return {
        name: envelope.type,
        data: { ...envelope, data: { ...envelope.data, email: 'not-an-e-mail' } },
        jobId: envelope.id,
      };
    }
    case 'not-an-envelope': {
      const jobId = randomUUID();
      return { name: 'user.signed_up', data: { poison: n, hello: 'world' }, jobId };
    }
    case 'unknown-type': {
      const envelope = signedUp(`usr_poison_${n}`);
      return {
        name: 'user.deleted',
        data: { ...envelope, type: 'user.deleted', version: 1 },
        jobId: envelope.id,
      };
    }
    case 'no-handler': {
      const envelope = paymentFailed(`inv_poison_${n}`);
      return { name: envelope.type, data: envelope, jobId: envelope.id };
    }
  }
}

describe('200 poison messages', () => {
  let redis: RedisServer;
  let stack: ScenarioStack;

  beforeAll(async () => {
    redis = await startRedisServer({ profile: 'aof-everysec' });
    stack = await startScenarioStack({
      redisUrl: redis.url,
      subscribers: ['notifications'],
      replicas: 2,
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it(
    'dead-letters exactly the poison, each with its reason, and applies the rest',
    { timeout: 180_000 },
    async () => {
      const poisonCount = soak(200);
      const startedAt = Date.now();
      const loading = runLoad({
        publish: stack.publisher,
        count: soak(2_000),
        ratePerSecond: 400,
        seed: 4,
        concurrency: 8,
      });
      const queue = stack.queue('notifications');
      const expectedPoison: ExpectedPoison[] = [];
      // Spread the poison through the load, in batches of 20.
      for (let n = 0; n < poisonCount; n += 20) {
        const jobs = Array.from({ length: Math.min(20, poisonCount - n) }, (_, j) => {
          const kind = kinds[(n + j) % kinds.length]!;
          const job = poisonJob(kind, n + j);
          expectedPoison.push({
            subscriber: 'notifications',
            jobId: job.jobId,
            reason: reasonOf[kind],
          });
          return {
            name: job.name,
            data: job.data,
            opts: { ...deliveryJobOptions, jobId: job.jobId },
          };
        });
        await queue.addBulk(jobs);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const load = await loading;

      const result = await finishScenario({
        scenario: 'poison',
        stack,
        load,
        faults: `${poisonCount} poison`,
        startedAt,
        expectedPoison,
        requireRedeliveries: false,
        notes:
          'poison: bad data + non-envelopes -> schema_invalid, unknown type -> unknown_event, payment.failed in notifications -> no_handler',
      });
      expect(expectedPoison).toHaveLength(poisonCount);
      expect(result.dlq.missing).toEqual([]);
      expect(result.dlq.wrongReason).toEqual([]);
      expect(result.dlq.unexpected).toEqual([]);
      expect(result.problems).toEqual([]);
      expect(result.lost).toHaveLength(0);
    },
  );
});
