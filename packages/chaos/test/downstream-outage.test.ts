/**
 * A downstream outage under the circuit breaker: mid-load the sandbox
 * answers 503 to every call for 6 s (x SY_CHAOS_SOAK). The workers' breaker
 * opens and their queues wait instead of spending attempts; once the
 * sandbox is back the breaker's probe closes it and the backlog drains.
 * Nothing may be dead-lettered (no attempts exhausted), lost or doubled.
 * Events go through the producer app over HTTP (createPublisher({ baseUrl })),
 * the path most services use.
 *
 * Recovery = from the end of the outage until the queues are empty again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soak } from '../src/env.ts';
import { runLoad } from '../src/load-generator.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';
import { finishScenario } from './scenario-helpers.ts';

describe('a downstream outage under the breaker', () => {
  let redis: RedisServer;
  let stack: ScenarioStack;

  beforeAll(async () => {
    redis = await startRedisServer({ profile: 'aof-everysec' });
    stack = await startScenarioStack({
      redisUrl: redis.url,
      replicas: 2,
      producer: true,
      workerEnv: {
        BREAKER_WINDOW_MS: '2000',
        BREAKER_RESET_MS: '1000',
        BREAKER_VOLUME_THRESHOLD: '5',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it(
    'holds the work during the outage and applies all of it once after',
    { timeout: 180_000 },
    async () => {
      const outageMs = soak(6_000);
      const startedAt = Date.now();
      const loading = runLoad({
        publish: stack.httpPublisher!,
        count: soak(1_500),
        ratePerSecond: 200,
        seed: 5,
        concurrency: 16,
      });
      await sleep(3_000);
      const appliedBefore = (await stack.sandbox.ledger()).length;
      await stack.sandbox.control({ downForMs: outageMs });
      await sleep(outageMs);
      const outageEnd = Date.now();
      const load = await loading;
      await stack.drain(120_000);
      const recoveryMs = Date.now() - outageEnd;

      const result = await finishScenario({
        scenario: 'downstream-outage',
        stack,
        load,
        faults: `sandbox 503 ${(outageMs / 1000).toFixed(0)} s`,
        startedAt,
        requireRedeliveries: true,
        recoveryMs: [recoveryMs],
        notes: `published over HTTP through the producer app; recovery = outage end -> queues empty; ${appliedBefore} effects applied before the outage`,
      });
      expect(appliedBefore).toBeGreaterThan(0);
      expect(result.problems).toEqual([]);
      expect(result.lost).toHaveLength(0);
      expect(result.duplicates).toHaveLength(0);
      expect(result.dlq.unexpected).toEqual([]);
    },
  );
});
