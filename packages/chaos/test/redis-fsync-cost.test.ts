/**
 * The throughput cost of `appendfsync always` against `everysec` and
 * persistence off, for docs/reliability.md: the same seeded publish load
 * (@switchyard/client straight to Redis, 32 in flight: claim, fan-out to two
 * queues, mark accepted) against three redis-servers of our own, one per
 * profile, in interleaved rounds (after one warm-up round) so a noisy neighbour on this shared machine
 * hits every profile alike. Each profile's figures are the median of its
 * rounds and its best round (the least disturbed one). The data dirs are on the machine's disk (os.tmpdir()), so
 * `always` pays a real fsync per write batch.
 *
 * It asserts what must hold whatever the disk: every publish accepted on
 * every profile, and the AOF of the persistent profiles grew (they did
 * write it); the figures themselves go into the report row's notes.
 */
import { createPublisher, type Publisher } from '@switchyard/client';
import { afterAll, describe, expect, it } from 'vitest';
import { soak } from '../src/env.ts';
import { runLoad, type PublishFn } from '../src/load-generator.ts';
import { recordScenario } from '../src/report.ts';
import { startRedisServer, type RedisProfile, type RedisServer } from '../src/redis-server.ts';

const profiles: RedisProfile[] = ['no-persistence', 'aof-everysec', 'aof-always'];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

describe('throughput cost of appendfsync', () => {
  it('measures publishes/s on each profile with the same load', async () => {
    const started = Date.now();
    const rounds = 5;
    const perRound = soak(500);
    const servers = new Map<RedisProfile, { redis: RedisServer; publisher: Publisher }>();
    for (const profile of profiles) {
      const redis = await startRedisServer({ profile });
      cleanups.push(() => redis.stop());
      const publisher = createPublisher({ redis: redis.url, prefix: 'fsync' });
      cleanups.push(() => publisher.close());
      servers.set(profile, { redis, publisher });
    }
    const rates = new Map<RedisProfile, number[]>(profiles.map((p) => [p, []]));
    let accepted = 0;
    // Round 0 warms up (JIT, connections, Lua script cache) and is not counted.
    for (let round = 0; round <= rounds; round += 1) {
      for (const profile of profiles) {
        const { publisher } = servers.get(profile)!;
        const publish: PublishFn = (type, data, options) =>
          (publisher as unknown as { publish: PublishFn }).publish(type, data, options);
        const load = await runLoad({
          publish,
          count: perRound,
          seed: 400 + round,
          runId: `f${round}`,
          concurrency: 32,
          maxAttempts: 3,
        });
        expect(load.accepted).toHaveLength(perRound);
        accepted += load.accepted.length;
        if (round === 0) continue;
        rates.get(profile)!.push((perRound * 1000) / (load.finishedAt - load.startedAt));
      }
    }
    const figures = Object.fromEntries(profiles.map((p) => [p, Math.round(median(rates.get(p)!))]));
    // The best round: the least disturbed by the other work on this machine.
    const best = Object.fromEntries(
      profiles.map((p) => [p, Math.round(Math.max(...rates.get(p)!))]),
    );
    const aofSizes: Record<string, number> = {};
    for (const profile of profiles) {
      const info = await servers.get(profile)!.redis.info('persistence');
      aofSizes[profile] = Number(info.aof_current_size ?? 0);
    }
    const off = figures['no-persistence']!;
    const bestOff = best['no-persistence']!;
    const cost = (p: RedisProfile): string =>
      `${figures[p]}/s (${Math.round((100 * (figures[p]! - off)) / off)}%), best ${best[p]}/s (${Math.round((100 * (best[p]! - bestOff)) / bestOff)}%)`;
    recordScenario({
      scenario: 'appendfsync-cost',
      events: (rounds + 1) * perRound * profiles.length,
      faults: 'none (measurement)',
      accepted,
      lost: 0,
      duplicates: 0,
      dlqOk: true,
      redeliveries: 0,
      durationMs: Date.now() - started,
      verdict: 'pass (measurement)',
      notes:
        `publishes/s, median of ${rounds} interleaved rounds of ${perRound}, 32 in flight, fan-out to 2 queues: ` +
        `off ${off}/s, best ${bestOff}/s; everysec ${cost('aof-everysec')}, always ${cost('aof-always')}; ` +
        `per round ${JSON.stringify(Object.fromEntries(profiles.map((p) => [p, rates.get(p)!.map(Math.round)])))}`,
    });
    process.stdout.write(
      `appendfsync cost: ${JSON.stringify({ median: figures, best, rates: Object.fromEntries(rates) })}\n`,
    );

    expect(accepted).toBe((rounds + 1) * perRound * profiles.length);
    expect(aofSizes['aof-everysec']).toBeGreaterThan(0);
    expect(aofSizes['aof-always']).toBeGreaterThan(0);
    expect(aofSizes['no-persistence']).toBe(0);
  });
});
