/**
 * 10 worker SIGKILLs (x SY_CHAOS_SOAK) during load. Each kill takes a
 * replica that holds jobs, SIGKILLs it (no shutdown, no ack), and respawns
 * the slot at once; the dead worker's jobs come back through BullMQ's stall
 * check after their lock expires (LOCK_DURATION_MS 3000, STALLED_INTERVAL_MS
 * 1000) and are run again by whoever takes them.
 *
 * Recovery of one kill = from the SIGKILL until the last job the killed
 * worker held (its active jobs with processedBy = its WORKER_ID, read right
 * after the kill) has completed on another worker (the 'completed' entry of
 * BullMQ's event stream, Redis clock). A kill that found the worker idle
 * gives no sample (it does not happen here: each kill waits for held jobs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soak } from '../src/env.ts';
import { runLoad } from '../src/load-generator.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';
import { finishScenario } from './scenario-helpers.ts';

describe('10 worker SIGKILLs during load', () => {
  let redis: RedisServer;
  let stack: ScenarioStack;

  beforeAll(async () => {
    redis = await startRedisServer({ profile: 'aof-everysec' });
    stack = await startScenarioStack({ redisUrl: redis.url, replicas: 2 });
    // A little downstream latency keeps jobs in flight, so a kill always finds some.
    await stack.sandbox.control({ latencyMs: 20 });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it(
    "loses nothing, applies nothing twice, and recovers the killed workers' jobs",
    { timeout: 240_000 },
    async () => {
      const kills = soak(10);
      const startedAt = Date.now();
      const loading = runLoad({
        publish: stack.publisher,
        count: soak(4_000),
        ratePerSecond: 200,
        seed: 2,
        concurrency: 16,
      });

      const recoveryMs: number[] = [];
      const recoveries: Promise<void>[] = [];
      const targets = stack.queues.flatMap((queue) =>
        Array.from({ length: stack.fleets[queue]!.size }, (_, i) => ({ queue, i })),
      );
      const respawning = new Map<string, Promise<unknown>>();
      let killed = 0;
      let idleKills = 0;
      let unrecovered = 0;
      for (let k = 0; k < kills; k++) {
        const { queue, i } = targets[k % targets.length]!;
        const fleet = stack.fleets[queue]!;
        // The slot's previous respawn must be done before it is killed again.
        await respawning.get(`${queue}/${i}`);
        const workerId = fleet.workerId(i);
        // Wait (bounded) until the target holds jobs, so the kill bites.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline && (await stack.inFlightOf(queue, workerId)).length === 0) {
          await sleep(20);
        }
        const killAt = Date.now();
        await fleet.kill(i, 'SIGKILL');
        killed++;
        const held = await stack.inFlightOf(queue, workerId);
        // Measure this kill's recovery in the background while the next ones happen.
        if (held.length > 0) {
          recoveries.push(
            (async () => {
              const until = Date.now() + 60_000;
              while (Date.now() < until) {
                const done = held.map((id) => stack.watch.completedAt(queue, id));
                if (done.every((t) => t !== undefined)) {
                  recoveryMs.push(Math.max(...done.map(Number)) - killAt);
                  return;
                }
                await sleep(50);
              }
              unrecovered++;
            })(),
          );
        } else {
          idleKills++;
        }
        respawning.set(`${queue}/${i}`, fleet.respawn(i));
        await sleep(1_000);
      }
      await Promise.all(respawning.values());
      const load = await loading;
      await Promise.all(recoveries);

      const result = await finishScenario({
        scenario: 'worker-sigkill',
        stack,
        load,
        faults: `${killed} SIGKILL`,
        startedAt,
        requireRedeliveries: true,
        recoveryMs,
        notes: `recovery = SIGKILL -> last job the killed worker held completed elsewhere (${recoveryMs.length} samples, ${idleKills} kills found the worker idle, ${unrecovered} not recovered in 60 s; LOCK_DURATION_MS 3000, STALLED_INTERVAL_MS 1000)`,
      });
      expect(killed).toBe(kills);
      expect(unrecovered).toBe(0);
      expect(recoveryMs.length).toBeGreaterThan(kills / 2);
      expect(result.problems).toEqual([]);
      expect(result.lost).toHaveLength(0);
      expect(result.duplicates).toHaveLength(0);
      expect(result.redeliveries).toBeGreaterThan(0);
    },
  );
});
