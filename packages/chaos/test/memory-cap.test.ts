/**
 * A slow consumer with Redis at a memory cap (maxmemory + noeviction).
 *
 * The producer app takes HTTP publishes as fast as the load generator sends
 * them; one worker replica per subscriber, calling a sandbox that answers
 * slowly, cannot keep up, so the backlog grows. The producer's backlog gate
 * (BACKLOG_LIMIT) must shed (429 + Retry-After) BEFORE Redis reaches its cap
 * and refuses writes (-OOM): Redis's OOM error counter must stay at 0 and
 * its memory under the cap. Every event the producer accepted is then
 * processed once the consumer speeds up.
 *
 * The control: the same load with the gate opened wide (BACKLOG_LIMIT far
 * above the load) drives the same Redis into its cap: Redis refuses writes
 * (OOM errors > 0) and the producer answers 503. Without that, the first
 * test would prove nothing about the gate (the cap would simply be too high
 * to matter). The control then raises the cap, as an operator would, and
 * holds the accepted events to the ledger: a Redis that refused writes
 * must not have lost or doubled anything it had accepted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublisher } from '@switchyard/client';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRun } from '../src/checker.ts';
import { soak } from '../src/env.ts';
import { runLoad, type LoadRecord, type PublishFn } from '../src/load-generator.ts';
import { recordScenario } from '../src/report.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { startScenarioStack } from '../src/scenario-stack.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/**
 * The cap; sized so the control's unshed load crosses it and the gated
 * backlog stays well under it. Every accepted event costs Redis about 5 KiB
 * with two subscribers (two jobs, the idempotency record, the job index,
 * event-stream entries), and keeps costing it after it is processed
 * (completed-job retention, the 24 h idempotency window): the gate bounds
 * the backlog, not Redis memory (docs/reliability.md).
 */
const maxmemoryMb = 10;
const backlogLimit = 300;
const apiKey = 'chaos-memory-cap-api-key-0123456789';

interface CapRun {
  redis: RedisServer;
  load: LoadRecord;
  peakUsedBytes: number;
  oomRejections: number;
  status: Record<string, number>;
}

async function loadAtCap(opts: {
  backlogLimit: number;
  count: number;
  seed: number;
  /** Publish calls per event: a 503 is retried that many times at most. */
  maxAttempts: number;
  after: (run: CapRun, stack: Awaited<ReturnType<typeof startScenarioStack>>) => Promise<void>;
}): Promise<void> {
  const redis = await startRedisServer({
    profile: 'aof-everysec',
    maxmemory: `${maxmemoryMb}mb`,
    maxmemoryPolicy: 'noeviction',
  });
  cleanups.push(() => redis.stop());
  const stack = await startScenarioStack({
    redisUrl: redis.url,
    replicas: 1,
    producer: true,
    producerEnv: { BACKLOG_LIMIT: String(opts.backlogLimit), API_KEYS: apiKey },
    workerEnv: { WORKER_CONCURRENCY: '4' },
  });
  cleanups.push(() => stack.stop());
  // The producer's raw answers: no client-side retry of a 429 (the stack's
  // HTTP publisher waits out Retry-After itself, which hides the shedding).
  const client = createPublisher({
    baseUrl: stack.producer!.url,
    apiKey,
    retries: 0,
    timeoutMs: 5_000,
  });
  cleanups.push(() => client.close());
  const http: PublishFn = (type, data, options) =>
    (client as unknown as { publish: PublishFn }).publish(type, data, options);
  // The slow consumer: each downstream call takes 1 s, four at a time per subscriber.
  await stack.sandbox.control({ latencyMs: 1_000 });

  let peakUsedBytes = 0;
  const sampling = new AbortController();
  const sampler = (async () => {
    while (!sampling.signal.aborted) {
      const info = await redis.info('memory').catch(() => undefined);
      if (info !== undefined) peakUsedBytes = Math.max(peakUsedBytes, Number(info.used_memory));
      await sleep(100);
    }
  })();
  const status: Record<string, number> = {};
  let load: LoadRecord;
  try {
    load = await runLoad({
      publish: async (type, data, options) => {
        try {
          const answer = await http(type, data, options);
          status['202'] = (status['202'] ?? 0) + 1;
          return answer;
        } catch (error) {
          // The client's error classes say what the producer answered:
          // SY_ERR_BACKLOG_FULL = 429, SY_ERR_REDIS_UNAVAILABLE = 503 (Redis
          // refused or is down), SY_ERR_PRODUCER_UNAVAILABLE = another 5xx or
          // no answer.
          const e = error as { code?: unknown; name?: unknown };
          const key = typeof e.code === 'string' ? e.code : String(e.name);
          status[key] = (status[key] ?? 0) + 1;
          throw error;
        }
      },
      count: opts.count,
      seed: opts.seed,
      concurrency: 32,
      // A shed event is dropped and counted: the producer refused it, nothing was enqueued.
      onShed: 'count',
      maxAttempts: opts.maxAttempts,
    });
  } finally {
    sampling.abort();
    await sampler;
  }
  await opts.after(
    { redis, load, peakUsedBytes, oomRejections: await redis.oomRejections(), status },
    stack,
  );
}

describe('slow consumer with Redis at a memory cap', () => {
  it('ingest sheds with 429 before Redis refuses writes, and every accepted event is processed', async () => {
    const started = Date.now();
    const count = soak(3_000);
    await loadAtCap({
      backlogLimit,
      count,
      seed: 301,
      maxAttempts: 4,
      after: async (run, stack) => {
        // The consumer speeds up; everything accepted must come out.
        await stack.sandbox.control({ latencyMs: 0 });
        await stack.drain(150_000);
        const result = checkRun({
          load: run.load,
          ledger: await stack.sandbox.ledger(),
          dlq: await stack.deadLetters(),
        });
        const oomAfterDrain = await run.redis.oomRejections();
        recordScenario({
          scenario: 'memory-cap-slow-consumer',
          events: count,
          faults: `maxmemory ${maxmemoryMb}mb noeviction, slow sandbox`,
          accepted: result.accepted,
          lost: result.lost.length,
          duplicates: result.duplicates.length,
          dlqOk: result.dlq.ok,
          redeliveries: result.redeliveries,
          durationMs: Date.now() - started,
          verdict:
            result.verdict === 'pass' && run.oomRejections === 0 && run.load.shedAnswers > 0
              ? 'pass'
              : 'fail',
          notes:
            `BACKLOG_LIMIT ${backlogLimit}: answers ${JSON.stringify(run.status)}, ${run.load.shed.length} shed; ` +
            `Redis peak used_memory ${(run.peakUsedBytes / 1048576).toFixed(1)} MiB of ${maxmemoryMb}, OOM refusals ${oomAfterDrain}`,
        });

        expect(run.load.shedAnswers).toBeGreaterThan(0);
        expect(run.status.SY_ERR_BACKLOG_FULL).toBeGreaterThan(0);
        // Redis never refused a write, during the load or the drain.
        expect(run.oomRejections).toBe(0);
        expect(oomAfterDrain).toBe(0);
        expect(run.peakUsedBytes).toBeLessThan(maxmemoryMb * 1048576);
        expect(run.load.refused).toEqual([]);
        expect(run.load.unknown).toEqual([]);
        expect(run.load.accepted.length + run.load.shed.length).toBe(count);
        expect(result.lost).toEqual([]);
        expect(result.duplicates).toEqual([]);
        expect(result.dlq.ok).toBe(true);
      },
    });
  });

  it('control: with the gate opened wide the same load drives Redis into its cap; raising the cap loses nothing accepted', async () => {
    const started = Date.now();
    const count = soak(3_000);
    await loadAtCap({
      backlogLimit: 10_000_000,
      count,
      seed: 302,
      // Under OOM the 503s keep coming: retry once, then count it unknown.
      maxAttempts: 2,
      after: async (run, stack) => {
        // What an operator does: raise the cap. Every event the producer
        // accepted before Redis refused must then come out, once.
        await stack.admin.config('SET', 'maxmemory', '0');
        await stack.sandbox.control({ latencyMs: 0 });
        await stack.drain(120_000);
        const result = checkRun({
          load: run.load,
          ledger: await stack.sandbox.ledger(),
          dlq: await stack.deadLetters(),
        });
        recordScenario({
          scenario: 'memory-cap-control (gate off)',
          events: count,
          faults: `maxmemory ${maxmemoryMb}mb noeviction, slow sandbox, no gate`,
          accepted: result.accepted,
          lost: result.lost.length,
          duplicates: result.duplicates.length,
          dlqOk: result.dlq.ok,
          redeliveries: result.redeliveries,
          durationMs: Date.now() - started,
          verdict:
            run.oomRejections > 0 && result.verdict === 'pass'
              ? 'pass (OOM reached)'
              : `fail (${run.oomRejections === 0 ? 'cap never reached' : result.problems.join('; ')})`,
          notes:
            `BACKLOG_LIMIT 10000000: answers ${JSON.stringify(run.status)}, ${run.load.unknown.length} unknown; ` +
            `Redis peak used_memory ${(run.peakUsedBytes / 1048576).toFixed(1)} MiB, OOM refusals ${run.oomRejections}; ` +
            `then maxmemory raised: ${result.unrecordedEffects} effects of 'unknown' publishes applied, lost/dup checked on the accepted ones`,
        });
        expect(run.oomRejections).toBeGreaterThan(0);
        // The producer answered 503: Redis refused its writes.
        expect(run.status.SY_ERR_REDIS_UNAVAILABLE).toBeGreaterThan(0);
        expect(run.load.refused).toEqual([]);
        expect(result.lost).toEqual([]);
        expect(result.duplicates).toEqual([]);
        expect(result.dlq.ok).toBe(true);
      },
    });
  });
});
