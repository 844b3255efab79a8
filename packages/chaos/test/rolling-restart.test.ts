/**
 * A rolling SIGTERM of every worker (x SY_CHAOS_SOAK rounds) during load:
 * each replica in turn gets SIGTERM, drains or hands back its in-flight jobs
 * within SHUTDOWN_TIMEOUT_MS, exits 0, and is started again before the next
 * one goes, as a deploy does. Nothing may be lost or doubled, and every
 * replica must exit cleanly (code 0), not be SIGKILLed after the timeout.
 *
 * Redeliveries are not required: a graceful shutdown that finishes its jobs
 * causes none, which is the point. The downstream answers in 150 ms so each
 * SIGTERM finds jobs in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soak } from '../src/env.ts';
import { runLoad } from '../src/load-generator.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';
import { finishScenario } from './scenario-helpers.ts';

describe('a rolling SIGTERM of every worker', () => {
  let redis: RedisServer;
  let stack: ScenarioStack;

  beforeAll(async () => {
    redis = await startRedisServer({ profile: 'aof-everysec' });
    stack = await startScenarioStack({ redisUrl: redis.url, replicas: 2 });
    await stack.sandbox.control({ latencyMs: 150 });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it(
    'restarts every replica cleanly without losing or doubling work',
    { timeout: 180_000 },
    async () => {
      const rounds = soak(1);
      const startedAt = Date.now();
      const loading = runLoad({
        publish: stack.publisher,
        count: soak(2_000),
        ratePerSecond: 150,
        seed: 6,
        concurrency: 8,
      });
      const exitCodes: (number | null)[] = [];
      let heldAtSigterm = 0;
      for (let round = 0; round < rounds; round++) {
        for (const queue of stack.queues) {
          const fleet = stack.fleets[queue]!;
          for (let i = 0; i < fleet.size; i++) {
            heldAtSigterm += (await stack.inFlightOf(queue, fleet.workerId(i))).length;
            exitCodes.push(await fleet.kill(i, 'SIGTERM'));
            await fleet.respawn(i);
          }
        }
      }
      const load = await loading;
      const replicas = exitCodes.length;

      const result = await finishScenario({
        scenario: 'rolling-sigterm',
        stack,
        load,
        faults: `${replicas} SIGTERM`,
        startedAt,
        requireRedeliveries: false,
        notes: `${heldAtSigterm} jobs in flight at the SIGTERMs; exit codes ${[...new Set(exitCodes)].join(',')}`,
      });
      expect(heldAtSigterm).toBeGreaterThan(0);
      expect(exitCodes.every((code) => code === 0)).toBe(true);
      expect(result.problems).toEqual([]);
      expect(result.lost).toHaveLength(0);
      expect(result.duplicates).toHaveLength(0);
    },
  );
});
