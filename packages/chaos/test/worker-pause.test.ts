/**
 * 2 worker pauses (x SY_CHAOS_SOAK) longer than the lock: a replica holding
 * jobs is SIGSTOPped for 2.5 x LOCK_DURATION_MS, so its locks expire and the
 * other replica re-runs its jobs; then SIGCONT. The paused worker wakes up
 * in the middle of jobs it no longer owns: its lock renewal fails (the job's
 * signal aborts with LockLostError) and its late completion must fail on the
 * lost lock. The checks: no duplicate effect in the ledger (the effect marker
 * and the Idempotency-Key), no job completed twice (BullMQ's event stream),
 * nothing lost, and redeliveries > 0 (the pauses bit).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soak } from '../src/env.ts';
import { runLoad } from '../src/load-generator.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { fastRecoveryEnv, startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';
import { finishScenario } from './scenario-helpers.ts';

const lockMs = Number(fastRecoveryEnv.LOCK_DURATION_MS);

describe('2 worker pauses longer than the lock', () => {
  let redis: RedisServer;
  let stack: ScenarioStack;

  beforeAll(async () => {
    redis = await startRedisServer({ profile: 'aof-everysec' });
    stack = await startScenarioStack({
      redisUrl: redis.url,
      subscribers: ['notifications'],
      replicas: 2,
    });
    // Jobs stay in flight ~100 ms, so a pause catches several mid-handler,
    // some of them with their sandbox call already sent.
    await stack.sandbox.control({ latencyMs: 100 });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it(
    "re-runs the paused worker's jobs elsewhere and its late completions fail",
    { timeout: 180_000 },
    async () => {
      const pauses = soak(2);
      const startedAt = Date.now();
      const loading = runLoad({
        publish: stack.publisher,
        count: soak(1_500),
        ratePerSecond: 100,
        seed: 3,
        concurrency: 8,
      });
      const fleet = stack.fleets.notifications!;
      let heldAtPause = 0;
      for (let p = 0; p < pauses; p++) {
        const i = p % fleet.size;
        const workerId = fleet.workerId(i);
        const deadline = Date.now() + 5_000;
        while (
          Date.now() < deadline &&
          (await stack.inFlightOf('notifications', workerId)).length === 0
        ) {
          await sleep(20);
        }
        fleet.pause(i);
        heldAtPause += (await stack.inFlightOf('notifications', workerId)).length;
        await sleep(Math.round(2.5 * lockMs));
        fleet.resume(i);
        await sleep(1_000);
      }
      const load = await loading;
      const deliveries = stack.watch.stats();
      // The paused workers' own words after SIGCONT: a lock renewal that
      // failed (the handler's signal aborted with LockLostError) or a
      // completion / retry BullMQ refused for want of the lock. Bounded wait:
      // a resumed worker notices at its next lock renewal.
      const lockRefusalsLogged = (): number =>
        Array.from({ length: fleet.size }, (_, i) => fleet.output(i))
          .join('\n')
          .match(/SY_ERR_LOCK_LOST|Missing lock for job/g)?.length ?? 0;
      const refusalDeadline = Date.now() + 10_000;
      while (lockRefusalsLogged() === 0 && Date.now() < refusalDeadline) await sleep(100);
      const lockRefusals = lockRefusalsLogged();

      const result = await finishScenario({
        scenario: 'worker-pause',
        stack,
        load,
        faults: `${pauses} SIGSTOP ${((2.5 * lockMs) / 1000).toFixed(1)} s`,
        startedAt,
        requireRedeliveries: true,
        notes: `${heldAtPause} jobs held at the pauses; pause = 2.5 x LOCK_DURATION_MS; jobs completed twice: ${deliveries.doubleCompletions}; lock-lost refusals logged by the paused workers: ${lockRefusals}`,
      });
      expect(heldAtPause).toBeGreaterThan(0);
      expect(lockRefusals).toBeGreaterThan(0);
      expect(result.problems).toEqual([]);
      expect(result.doubleCompletions).toBe(0);
      expect(result.duplicates).toHaveLength(0);
      expect(result.lost).toHaveLength(0);
      expect(stack.watch.stats().stalled).toBeGreaterThan(0);
    },
  );
});
