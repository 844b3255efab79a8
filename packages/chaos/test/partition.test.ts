/**
 * Network partitions between the apps and Redis, through the fault proxy.
 *
 * Every worker replica and the publisher reach Redis through one
 * startFaultProxy; the scenario's own reads (drain, DLQs, the delivery
 * watch) go straight to Redis, so the observer is never partitioned. One
 * stack serves the five scenarios in turn, each with its own seeded load
 * (its own business ids), so the checker holds each run to its own events.
 *
 * - reset: every connection is reset (RST), and reconnects are reset too,
 *   for longer than the job lock (3 s): locks expire, jobs stall.
 * - blackhole: every connection goes silent, both ways, for longer than the
 *   publisher's command timeout (2 s) and the job lock; what was sent is
 *   delivered late when the path heals, as TCP would.
 * - blackhole-forgotten: the same, but at the heal every connection is
 *   reset and what was held is lost (a middlebox that forgot the flows).
 * - blocking-connection wedge: only one worker replica's BullMQ blocking
 *   connection (BZPOPMIN) is blackholed; everything else flows.
 * - close: every connection is closed (FIN) and new ones are closed at
 *   accept, for longer than the job lock.
 *
 * Each must end with lost = 0 and duplicates = 0 among accepted events, and
 * show the fault bit: redeliveries > 0 for the partitions of every
 * connection; for the wedge, the bytes the wedged connection sent into the
 * blackhole.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublisher, type Publisher } from '@switchyard/client';
import { waitFor } from '@switchyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRun } from '../src/checker.ts';
import { soak } from '../src/env.ts';
import {
  blockingConnectionOf,
  startFaultProxy,
  type ConnectionFilter,
  type FaultMode,
  type FaultProxy,
} from '../src/fault-proxy.ts';
import { runLoad, type PublishFn } from '../src/load-generator.ts';
import { percentile, recordScenario } from '../src/report.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack, type ScenarioStack } from '../src/scenario-stack.ts';

let redis: RedisServer;
let proxy: FaultProxy;
let stack: ScenarioStack;
let client: Publisher;
let publish: PublishFn;

beforeAll(async () => {
  redis = await startRedisServer({ profile: 'aof-everysec' });
  proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  stack = await startScenarioStack({
    redisUrl: redis.url,
    replicas: 2,
    // The workers go through the proxy; the stack's observer does not.
    workerEnv: { REDIS_URL: proxy.url },
  });
  client = createPublisher({ redis: proxy.url, prefix: stack.prefix });
  publish = (type, data, options) =>
    (client as unknown as { publish: PublishFn }).publish(type, data, options);
  // Jobs take a little while, so some are in flight when a partition starts.
  await stack.sandbox.control({ latencyMs: 20 });
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await stack?.stop();
  await proxy?.close();
  await redis?.stop();
});

interface Partition {
  name: string;
  seed: number;
  mode: FaultMode;
  /** Which connections; default all. Resolved when the partition starts. */
  filter?: () => ConnectionFilter;
  holdMs: number;
  /** Publish rate (events/s) and when the fault starts (share of the load settled). Default 100, 0.3. */
  rate?: number;
  faultAt?: number;
  /** The checker must see redeliveries (the partition hit every connection for longer than a lock). */
  requireRedeliveries: boolean;
}

const partitions: Partition[] = [
  { name: 'reset', seed: 201, mode: { kind: 'reset' }, holdMs: 4_500, requireRedeliveries: true },
  {
    name: 'blackhole',
    seed: 202,
    mode: { kind: 'blackhole' },
    holdMs: 5_000,
    requireRedeliveries: true,
  },
  {
    // The path heals but a middlebox forgot the flows: what was held is
    // lost and every connection is reset at the heal.
    name: 'blackhole-forgotten',
    seed: 205,
    mode: { kind: 'blackhole', onHeal: 'reset' },
    holdMs: 5_000,
    requireRedeliveries: true,
  },
  {
    name: 'blocking-wedge',
    seed: 203,
    mode: { kind: 'blackhole' },
    filter: () => blockingConnectionOf(stack.fleets.notifications!.workerId(0)),
    // Longer than BullMQ's blocking watchdog (block timeout <= 5 s, + 1 s),
    // with load still coming after the heal, so the wedged replica must
    // recover by itself to take its share again.
    holdMs: 7_000,
    rate: 50,
    faultAt: 0.15,
    requireRedeliveries: false,
  },
  { name: 'close', seed: 204, mode: { kind: 'close' }, holdMs: 4_500, requireRedeliveries: true },
];

describe('partitions between the apps and Redis', () => {
  it.each(partitions)('$name: nothing lost, nothing applied twice', async (partition) => {
    const started = Date.now();
    const count = soak(600);
    const runId = `p${partition.seed}`;
    const statsBefore = stack.watch.stats();
    let settled = 0;
    let faultAt = 0;
    let healedAt = 0;
    const stop = new AbortController();
    const bytesBefore = new Map(proxy.connections().map((c) => [c.id, c.blackholedBytes]));

    const fault = (async () => {
      await waitFor(() => settled >= count * (partition.faultAt ?? 0.3) || stop.signal.aborted, {
        timeoutMs: 120_000,
        intervalMs: 20,
      });
      if (stop.signal.aborted) return;
      faultAt = Date.now();
      if (partition.filter === undefined) proxy.setMode(partition.mode);
      else proxy.setMode(partition.mode, partition.filter());
      await sleep(partition.holdMs);
      proxy.setMode('pass');
      healedAt = Date.now();
    })();

    let load;
    try {
      load = await runLoad({
        publish,
        count,
        seed: partition.seed,
        runId,
        ratePerSecond: partition.rate ?? 100,
        concurrency: 16,
        maxAttempts: 60,
        onSettled: (n) => {
          settled = n;
        },
      });
    } finally {
      stop.abort();
      await fault;
    }

    await stack.drain(120_000);
    const stats = stack.watch.stats();
    const reactivations = stats.reactivations - statsBefore.reactivations;
    const doubleCompletions = stats.doubleCompletions - statsBefore.doubleCompletions;
    const result = checkRun({
      load,
      // This run's calls only: the stack (and its ledger) serves every partition.
      ledger: (await stack.sandbox.ledger()).filter((call) =>
        call.idempotencyKey.startsWith(`chaos-${runId}-`),
      ),
      dlq: await stack.deadLetters(),
      redeliveryEvidence: reactivations,
      doubleCompletions,
      requireRedeliveries: partition.requireRedeliveries,
    });
    // The wedge's evidence: bytes the chosen connection(s) sent into the blackhole.
    const swallowed = proxy
      .connections()
      .reduce((sum, c) => sum + c.blackholedBytes - (bytesBefore.get(c.id) ?? 0), 0);
    // The wedged replica (wedge only): blocking connections it opened (the
    // watchdog's reconnects) and the jobs it completed after the heal.
    let wedgeNote = '';
    let wedgedAfterHeal = 0;
    let wedgedConnections = 0;
    let wedgeRecoveryMs: number | undefined;
    if (partition.filter !== undefined) {
      const matches = partition.filter();
      wedgedConnections = proxy.connections().filter((c) => matches(c)).length;
      const workerId = stack.fleets.notifications!.workerId(0);
      const completed = await stack.queue('notifications').getCompleted(0, -1);
      const mine = completed.filter((job) => job.processedBy === workerId);
      const after = mine.map((job) => job.finishedOn ?? 0).filter((at) => at > healedAt);
      wedgedAfterHeal = after.length;
      if (after.length > 0) wedgeRecoveryMs = Math.min(...after) - healedAt;
      const during = mine.filter(
        (job) => (job.finishedOn ?? 0) > faultAt && (job.finishedOn ?? 0) <= healedAt,
      ).length;
      wedgeNote = `; wedged replica: ${wedgedConnections} blocking connection(s) opened, ${during} jobs completed during the wedge, ${wedgedAfterHeal} after`;
    }
    // Recovery: heal -> the first event accepted after it; for the wedge,
    // heal -> the wedged replica's first completed job.
    const firstAfterHeal = load.accepted
      .map((e) => e.acceptedAt)
      .filter((at) => at >= healedAt)
      .sort((a, b) => a - b)[0];
    const recovery =
      partition.filter !== undefined
        ? wedgeRecoveryMs === undefined
          ? []
          : [wedgeRecoveryMs]
        : firstAfterHeal === undefined
          ? []
          : [firstAfterHeal - healedAt];

    recordScenario({
      scenario: `partition-${partition.name}`,
      events: count,
      faults: `${partition.mode.kind}${partition.mode.kind === 'blackhole' && partition.mode.onHeal === 'reset' ? '+RST' : ''} ${partition.filter === undefined ? 'all' : '1 blocking conn'} ${(partition.holdMs / 1000).toFixed(1)} s`,
      accepted: result.accepted,
      lost: result.lost.length,
      duplicates: result.duplicates.length,
      dlqOk: result.dlq.ok,
      redeliveries: result.redeliveries,
      recoveryP50Ms: percentile(recovery, 50),
      recoveryP99Ms: percentile(recovery, 99),
      durationMs: Date.now() - started,
      verdict: result.verdict,
      notes:
        `${load.indeterminateAnswers} indeterminate publishes retried, ${load.unknown.length} unknown, ` +
        `${reactivations} re-activations, ${swallowed} bytes blackholed; recovery = heal -> ${partition.filter === undefined ? 'first acceptance' : "wedged replica's first completed job"}${wedgeNote}` +
        (result.problems.length > 0 ? `; ${result.problems.join('; ')}` : ''),
    });

    expect(faultAt).toBeGreaterThan(0);
    expect(healedAt - faultAt).toBeGreaterThanOrEqual(partition.holdMs);
    expect(load.refused).toEqual([]);
    expect(load.unknown).toEqual([]);
    expect(result.accepted).toBe(count);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toEqual([]);
    expect(result.doubleCompletions).toBe(0);
    expect(result.dlq.ok).toBe(true);
    expect(result.problems).toEqual([]);
    if (partition.mode.kind === 'blackhole') expect(swallowed).toBeGreaterThan(0);
    if (partition.filter !== undefined) {
      // The wedge hit the blocking connection, and the replica came back from it.
      expect(wedgedConnections).toBeGreaterThanOrEqual(1);
      expect(wedgedAfterHeal).toBeGreaterThan(0);
    }
    if (partition.filter === undefined) {
      // Publishes failed during the partition and were retried with the same key.
      expect(load.indeterminateAnswers).toBeGreaterThan(0);
    }
  });
});
