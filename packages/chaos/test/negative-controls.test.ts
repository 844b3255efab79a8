/**
 * Negative controls: runs the checker where loss is certain, to show it can
 * see loss. A checker that cannot fail proves nothing. Each test passes only
 * when the checker REPORTS lost > 0.
 *
 * 1. Persistence off: a backlog of accepted events sits in a Redis with no
 *    AOF and no RDB; Redis is SIGKILLed and restarted empty. The backlog is
 *    gone, and so are its effects.
 * 2. allkeys-lru under memory pressure: the backlog sits in a Redis with a
 *    memory cap and an evicting policy; later writes (other keys) push it
 *    over the cap and Redis evicts the least recently used keys, the oldest
 *    waiting jobs among them. The workers refuse such a Redis at start
 *    (maxmemory-policy must be noeviction) unless ALLOW_EVICTION_POLICY=true,
 *    which this control sets on purpose.
 *
 * The workers are paused (SIGSTOP) while the backlog builds, so it is there
 * when the fault hits, whatever the machine's speed; then they resume, a
 * second, smaller load shows the system works again, and the queues drain.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad, type LoadRecord } from '../src/load-generator.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';
import { finishScenario } from './scenario-helpers.ts';

function pauseAll(stack: ScenarioStack): void {
  for (const fleet of Object.values(stack.fleets)) {
    for (let i = 0; i < fleet.size; i++) fleet.pause(i);
  }
}
function resumeAll(stack: ScenarioStack): void {
  for (const fleet of Object.values(stack.fleets)) {
    for (let i = 0; i < fleet.size; i++) fleet.resume(i);
  }
}
function merge(a: LoadRecord, b: LoadRecord): LoadRecord {
  return {
    ...a,
    requested: a.requested + b.requested,
    accepted: [...a.accepted, ...b.accepted],
    unknown: [...a.unknown, ...b.unknown],
    refused: [...a.refused, ...b.refused],
    shed: [...a.shed, ...b.shed],
    shedAnswers: a.shedAnswers + b.shedAnswers,
    indeterminateAnswers: a.indeterminateAnswers + b.indeterminateAnswers,
    finishedAt: b.finishedAt,
  };
}
const lossDetected = (lost: number): string =>
  lost > 0 ? 'pass (loss detected)' : 'FAIL (no loss seen)';

describe('negative controls: the checker reports loss', () => {
  let redis: RedisServer | undefined;
  let stack: ScenarioStack | undefined;

  afterEach(async () => {
    await stack?.stop();
    await redis?.stop();
    stack = undefined;
    redis = undefined;
  });

  it(
    'with persistence off, a Redis SIGKILL + restart loses the backlog',
    { timeout: 120_000 },
    async () => {
      redis = await startRedisServer({ profile: 'no-persistence' });
      stack = await startScenarioStack({
        redisUrl: redis.url,
        subscribers: ['notifications'],
        replicas: 1,
      });
      const startedAt = Date.now();
      pauseAll(stack);
      const before = await runLoad({
        publish: stack.publisher,
        count: 1_000,
        seed: 7,
        runId: 'np1',
        concurrency: 16,
      });
      await redis.kill();
      await redis.restart();
      resumeAll(stack);
      const after = await runLoad({
        publish: stack.publisher,
        count: 200,
        seed: 8,
        runId: 'np2',
        concurrency: 8,
      });
      const load = merge(before, after);

      const result = await finishScenario({
        scenario: 'control: no persistence',
        stack,
        load,
        faults: '1 Redis SIGKILL+restart',
        startedAt,
        requireRedeliveries: false,
        notes:
          'negative control: Redis without AOF/RDB loses the backlog on SIGKILL; the checker must report loss',
        verdictOf: (r) => lossDetected(r.lost.length),
      });
      expect(before.accepted).toHaveLength(1_000);
      expect(result.lost.length).toBeGreaterThan(0);
      // The events published after the restart were all applied.
      const lostAfter = result.lost.filter((l) => l.businessId.includes('_np2_'));
      expect(lostAfter).toEqual([]);
    },
  );

  it(
    'with allkeys-lru under memory pressure, evicted jobs are lost',
    { timeout: 120_000 },
    async () => {
      redis = await startRedisServer({
        profile: 'no-persistence',
        maxmemory: '12mb',
        maxmemoryPolicy: 'allkeys-lru',
      });
      stack = await startScenarioStack({
        redisUrl: redis.url,
        subscribers: ['notifications'],
        replicas: 1,
        workerEnv: { ALLOW_EVICTION_POLICY: 'true' },
      });
      const startedAt = Date.now();
      pauseAll(stack);
      const load = await runLoad({
        publish: stack.publisher,
        count: 2_000,
        seed: 9,
        runId: 'lru',
        concurrency: 16,
      });
      // Memory pressure: 24 MB of other keys, written after the backlog (so more recently used).
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 384; i++) {
        await stack.admin.set(`${stack.prefix}:ballast:${i}`, chunk);
      }
      const evicted = Number((await redis.info('stats')).evicted_keys ?? '0');
      resumeAll(stack);
      await sleep(500);

      const result = await finishScenario({
        scenario: 'control: allkeys-lru',
        stack,
        load,
        faults: `maxmemory 12mb, ${evicted} keys evicted`,
        startedAt,
        requireRedeliveries: false,
        drainTimeoutMs: 60_000,
        notes:
          'negative control: an evicting Redis drops waiting jobs; the checker must report loss',
        verdictOf: (r) => lossDetected(r.lost.length),
      });
      expect(evicted).toBeGreaterThan(0);
      expect(result.lost.length).toBeGreaterThan(0);
    },
  );
});
