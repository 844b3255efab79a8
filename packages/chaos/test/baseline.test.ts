/**
 * Baseline: 20 000 user.signed_up events (x SY_CHAOS_SOAK), no faults, two
 * subscribers with two worker processes each. Every accepted event must have
 * exactly one e-mail and one workspace in the sandbox ledger, and nothing in
 * a DLQ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soak } from '../src/env.ts';
import { runLoad } from '../src/load-generator.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';
import { finishScenario } from './scenario-helpers.ts';

describe('baseline: no faults', () => {
  let redis: RedisServer;
  let stack: ScenarioStack;

  beforeAll(async () => {
    redis = await startRedisServer({ profile: 'aof-everysec' });
    stack = await startScenarioStack({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('applies every accepted event once per subscriber', { timeout: 480_000 }, async () => {
    const startedAt = Date.now();
    const load = await runLoad({
      publish: stack.publisher,
      count: soak(20_000),
      seed: 1,
      concurrency: 16,
    });
    expect(load.refused).toEqual([]);
    expect(load.accepted.length).toBe(load.requested);
    const result = await finishScenario({
      scenario: 'baseline',
      stack,
      load,
      faults: 'none',
      startedAt,
      requireRedeliveries: false,
      drainTimeoutMs: 360_000,
    });
    expect(result.problems).toEqual([]);
    expect(result.lost).toHaveLength(0);
    expect(result.duplicates).toHaveLength(0);
    expect(result.expectedEffects).toBe(2 * load.accepted.length);
  });
});
