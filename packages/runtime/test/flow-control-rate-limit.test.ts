/**
 * Queue-wide limits on real Redis: the limits contract (queue meta + marker,
 * what BullMQ's own Queue methods read back, config vs runtime source), and
 * the built worker-notifications app as 3 processes against the built
 * sandbox, never exceeding the rate limit in any window of the sandbox
 * ledger, before and after a runtime change, and across a restart.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { deliveryJobOptions, queueNameOf } from '@switchyard/events';
import {
  freePort,
  numberedEnvelope,
  startApp,
  waitFor,
  type AppProcess,
  type LedgerCall,
} from '@switchyard/testkit';
import {
  CircuitOpenError,
  QueueLimitsError,
  RateLimitedError,
  defineHandler,
  holdQueue,
  queueLimitsKey,
  readQueueLimits,
  unboundedRateLimit,
  writeQueueLimits,
} from '../src/index.js';
import { useRedisHarness } from './support/redis-harness.js';
import { startWorker } from './support/start-worker.js';

const builtApp = fileURLToPath(
  new URL('../../../apps/worker-notifications/dist/main.js', import.meta.url),
);
const queueName = queueNameOf('notifications');
const harness = useRedisHarness({ sandbox: true });

/** The most calls whose `firstAt` fall in any window [t, t + windowMs), t at any call. */
function busiestWindow(calls: readonly LedgerCall[], windowMs: number): number {
  const times = calls.map((call) => Date.parse(call.firstAt)).sort((a, b) => a - b);
  let most = 0;
  let end = 0;
  for (let start = 0; start < times.length; start += 1) {
    while (end < times.length && times[end]! < times[start]! + windowMs) end += 1;
    most = Math.max(most, end - start);
  }
  return most;
}

/**
 * The limiter windows as the sandbox saw them. BullMQ's limiter is a fixed
 * window: the first job start after the previous window ended opens one,
 * which admits at most `max` starts for `duration`. Over a backlog each
 * window is a burst of calls followed by a quiet gap until the next, so the
 * windows are the runs of calls split at gaps over `gapMs`: for each, its
 * first call (ms) and how many calls it holds.
 */
function limiterWindows(
  calls: readonly LedgerCall[],
  gapMs = 300,
): { start: number; calls: number }[] {
  const times = calls.map((call) => Date.parse(call.firstAt)).sort((a, b) => a - b);
  const windows: { start: number; calls: number }[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const at of times) {
    if (at - last > gapMs) windows.push({ start: at, calls: 0 });
    windows[windows.length - 1]!.calls += 1;
    last = at;
  }
  return windows;
}

/** Ms between the starts of consecutive windows. */
function spacing(windows: readonly { start: number }[]): number[] {
  return windows.slice(1).map((window, i) => window.start - windows[i]!.start);
}

function newQueue(prefix: string): Queue {
  const queue = new Queue(queueName, { connection: harness.client, prefix });
  harness.cleanups.push(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });
  return queue;
}

async function startWorkerProcess(
  prefix: string,
  workerId: string,
  env: Record<string, string> = {},
): Promise<AppProcess> {
  const port = await freePort();
  const app = await startApp({
    entry: builtApp,
    name: workerId,
    env: {
      REDIS_URL: harness.redisUrl,
      HEALTH_PORT: String(port),
      SANDBOX_URL: harness.sandbox.url,
      QUEUE_PREFIX: prefix,
      WORKER_ID: workerId,
      LOG_LEVEL: 'warn',
      ...env,
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: 20_000,
  });
  harness.cleanups.push(() => app.kill());
  return app;
}

/** Adds `count` user.signed_up jobs numbered from `from`; resolves with their envelope ids. */
async function publish(queue: Queue, from: number, count: number): Promise<string[]> {
  const envelopes = Array.from({ length: count }, (_, i) =>
    numberedEnvelope('user.signed_up', from + i),
  );
  await queue.addBulk(
    envelopes.map((envelope) => ({
      name: envelope.type,
      data: envelope,
      opts: { ...deliveryJobOptions, jobId: envelope.id },
    })),
  );
  return envelopes.map((envelope) => envelope.id);
}

async function allCompleted(queue: Queue, total: number, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await queue.getCompletedCount()) >= total, {
    timeoutMs,
    intervalMs: 100,
    message: `${total} jobs completed`,
  });
}

/** Ledger calls of the given users (u_<n>), by the body's userId. */
function callsOf(calls: readonly LedgerCall[], from: number, count: number): LedgerCall[] {
  const wanted = new Set(Array.from({ length: count }, (_, i) => `u_${from + i}`));
  return calls.filter((call) => wanted.has((call.body as { userId?: string }).userId ?? ''));
}

describe('queue limits contract', () => {
  it('stores the limits where BullMQ reads them, with who set them', async () => {
    const prefix = `sy-test-${randomUUID()}`;
    const queue = newQueue(prefix);

    await writeQueueLimits(harness.client, {
      prefix,
      queue: queueName,
      rateLimit: { max: 7, durationMs: 2_000 },
      concurrency: 3,
      source: 'cli',
      by: 'ops@example',
      now: 1_700_000_000_000,
    });

    expect(await queue.getGlobalRateLimit()).toEqual({ max: 7, duration: 2_000 });
    expect(await queue.getGlobalConcurrency()).toBe(3);
    expect(await harness.client.hgetall(queueLimitsKey({ prefix, queue: queueName }))).toEqual({
      source: 'cli',
      updatedAt: '1700000000000',
      by: 'ops@example',
    });
    expect(await readQueueLimits(harness.client, { prefix, queue: queueName })).toEqual({
      rateLimit: { max: 7, durationMs: 2_000 },
      concurrency: 3,
      source: 'cli',
      updatedAt: 1_700_000_000_000,
      by: 'ops@example',
    });

    // "None": no rate limit in the meta, so BullMQ runs no limiter on each fetch...
    await writeQueueLimits(harness.client, {
      prefix,
      queue: queueName,
      rateLimit: null,
      concurrency: null,
      source: 'config',
    });
    expect(await queue.getGlobalRateLimit()).toBeNull();
    // ...except while a hold is live: then the unbounded one stays (BullMQ honours the hold).
    expect(await holdQueue(harness.client, { prefix, queue: queueName }, 60_000)).toBe(true);
    await writeQueueLimits(harness.client, {
      prefix,
      queue: queueName,
      rateLimit: null,
      source: 'config',
    });
    expect(await queue.getGlobalRateLimit()).toEqual({
      max: unboundedRateLimit.max,
      duration: unboundedRateLimit.durationMs,
    });
    await harness.client.del(`${prefix}:${queueName}:limiter`);
    expect(await queue.getGlobalConcurrency()).toBeNull();
    expect(await readQueueLimits(harness.client, { prefix, queue: queueName })).toMatchObject({
      rateLimit: null,
      concurrency: null,
      source: 'config',
    });
    expect(await harness.client.hexists(queueLimitsKey({ prefix, queue: queueName }), 'by')).toBe(
      0,
    );
  });

  it('refuses values out of range and writes nothing', async () => {
    const prefix = `sy-test-${randomUUID()}`;
    const ref = { prefix, queue: queueName, source: 'cli' as const };
    for (const bad of [
      { rateLimit: { max: 0, durationMs: 1_000 } },
      { rateLimit: { max: 1.5, durationMs: 1_000 } },
      { rateLimit: { max: 1_000_000_000, durationMs: 1_000 } },
      { rateLimit: { max: 5, durationMs: 0 } },
      { concurrency: 0 },
      { concurrency: Number.NaN },
      { by: 'x'.repeat(201) },
    ]) {
      await expect(writeQueueLimits(harness.client, { ...ref, ...bad })).rejects.toThrow(
        QueueLimitsError,
      );
    }
    await expect(
      writeQueueLimits(harness.client, { ...ref, rateLimit: { max: 0, durationMs: 1_000 } }),
    ).rejects.toThrow(/rate limit max must be an integer in 1\.\.999999999, got 0/);
    expect(await harness.client.exists(`${prefix}:${queueName}:meta`)).toBe(0);
    expect(await harness.client.exists(queueLimitsKey(ref))).toBe(0);
  });

  describe('when a worker starts', () => {
    const handler = defineHandler({
      subscriber: 'notifications',
      event: 'user.signed_up',
      handle: async () => {},
    });

    it('writes its configured limits, source config', async () => {
      const { prefix, queue } = await startWorker(harness, [handler], {
        rateLimit: { max: 50, durationMs: 1_000 },
        globalConcurrency: 4,
      });

      expect(await queue.getGlobalRateLimit()).toEqual({ max: 50, duration: 1_000 });
      expect(await queue.getGlobalConcurrency()).toBe(4);
      expect(await readQueueLimits(harness.client, { prefix, queue: queueName })).toMatchObject({
        source: 'config',
      });
    });

    it('leaves limits an operator set at runtime alone', async () => {
      const prefix = `sy-test-${randomUUID()}`;
      await writeQueueLimits(harness.client, {
        prefix,
        queue: queueName,
        rateLimit: { max: 3, durationMs: 1_000 },
        concurrency: null,
        source: 'cli',
        by: 'ops',
      });
      const { queue, lines } = await startWorker(harness, [handler], {
        prefix,
        rateLimit: { max: 50, durationMs: 1_000 },
        globalConcurrency: 4,
      });

      expect(await queue.getGlobalRateLimit()).toEqual({ max: 3, duration: 1_000 });
      expect(await queue.getGlobalConcurrency()).toBeNull();
      expect(lines.map((line) => line.msg)).toContain(
        'queue limits were set at runtime (cli); config not applied',
      );
    });
  });
});

describe('holding the queue (Retry-After, open breaker)', () => {
  const limiterKey = (prefix: string) => `${prefix}:${queueName}:limiter`;

  it('never ends a rate-limit window early, and keeps the hold binding', async () => {
    const prefix = `sy-test-${randomUUID()}`;
    const ref = { prefix, queue: queueName };
    await writeQueueLimits(harness.client, {
      ...ref,
      rateLimit: { max: 10, durationMs: 60_000 },
      source: 'cli',
    });
    // 9 starts in the window BullMQ opened (INCR, PEXPIRE duration on the first).
    await harness.client.set(limiterKey(prefix), 9, 'PX', 60_000);

    // A Retry-After of 1 s inside that window.
    expect(await holdQueue(harness.client, ref, 1_000)).toBe(true);

    // The window still ends where it did (not at +1 s), and no start is left in it.
    expect(await harness.client.pttl(limiterKey(prefix))).toBeGreaterThan(55_000);
    expect(Number(await harness.client.get(limiterKey(prefix)))).toBeGreaterThanOrEqual(10);
    // A longer hold lengthens it; a shorter one changes nothing.
    expect(await holdQueue(harness.client, ref, 90_000)).toBe(true);
    expect(await harness.client.pttl(limiterKey(prefix))).toBeGreaterThan(85_000);
    expect(await holdQueue(harness.client, ref, 5_000)).toBe(false);
    await harness.client.del(`${prefix}:${queueName}:meta`, limiterKey(prefix));
  });

  it("keeps an operator's max when the meta has no duration", async () => {
    const prefix = `sy-test-${randomUUID()}`;
    await harness.client.hset(`${prefix}:${queueName}:meta`, 'max', '4');
    await holdQueue(harness.client, { prefix, queue: queueName }, 500);
    expect(await harness.client.hmget(`${prefix}:${queueName}:meta`, 'max', 'duration')).toEqual([
      '4',
      String(unboundedRateLimit.durationMs),
    ]);
    // Without any rate limit, the unbounded one is written (BullMQ then honours the hold).
    const bare = `sy-test-${randomUUID()}`;
    await holdQueue(harness.client, { prefix: bare, queue: queueName }, 500);
    expect(await harness.client.hmget(`${bare}:${queueName}:meta`, 'max', 'duration')).toEqual([
      String(unboundedRateLimit.max),
      String(unboundedRateLimit.durationMs),
    ]);
    await harness.client.del(
      `${prefix}:${queueName}:meta`,
      `${bare}:${queueName}:meta`,
      limiterKey(prefix),
      limiterKey(bare),
    );
  });

  it('a short Retry-After inside a rate-limit window does not let a second burst through', async () => {
    const windowMs = 3_000;
    const max = 5;
    const starts: number[] = [];
    let bounced = false;
    const handler = defineHandler({
      subscriber: 'notifications',
      event: 'user.signed_up',
      handle: async () => {
        starts.push(Date.now());
        // The third start is told to retry after 200 ms.
        if (starts.length === 3 && !bounced) {
          bounced = true;
          throw new RateLimitedError('slow down', 200);
        }
        await Promise.resolve();
      },
    });
    const { publish, settled } = await startWorker(harness, [handler], {
      rateLimit: { max, durationMs: windowMs },
      concurrency: 1,
    });
    const envelopes = Array.from({ length: 12 }, (_, i) => numberedEnvelope('user.signed_up', i));
    for (const envelope of envelopes) await publish(envelope);
    await waitFor(() => starts.length >= 8, {
      timeoutMs: 20_000,
      message: 'starts in the second window',
    });
    for (const envelope of envelopes.slice(0, 4)) {
      expect(await settled(envelope.id, 20_000)).toBe('completed');
    }
    expect(bounced).toBe(true);
    // Every start counts against the window, the bounced one included:
    // at most `max` in the first window, whatever the Retry-After.
    const first = starts[0]!;
    const inFirstWindow = starts.filter((at) => at < first + windowMs - 100).length;
    console.log('starts in the first window:', inFirstWindow, 'of max', max);
    expect(inFirstWindow).toBeLessThanOrEqual(max);
  }, 30_000);
});

describe('an open breaker', () => {
  it("holds the queue for the rest of its reset window only, not the handler's backoff", async () => {
    const starts: number[] = [];
    const handler = defineHandler({
      subscriber: 'notifications',
      event: 'user.signed_up',
      // A backoff far longer than the breaker's window: it must not apply.
      backoff: { baseMs: 30_000, maxMs: 30_000, jitter: 0 },
      handle: async () => {
        starts.push(Date.now());
        await Promise.resolve();
        // Open for 300 ms more on the first three starts (three bounces).
        if (starts.length <= 3) throw new CircuitOpenError('open', 'sandbox', 300);
      },
    });
    const { publish, settled } = await startWorker(harness, [handler], { concurrency: 1 });
    const envelope = numberedEnvelope('user.signed_up', 1);
    await publish(envelope);
    expect(await settled(envelope.id, 20_000)).toBe('completed');
    const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
    console.log('gaps between starts after an open breaker (ms):', gaps);
    expect(starts).toHaveLength(4);
    // Each gap is the 300 ms window (plus fetch latency), never the 30 s backoff.
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(250);
      expect(gap).toBeLessThan(10_000);
    }
  }, 30_000);
});

describe('queue-wide rate limit across 3 worker processes', () => {
  it('starts at most M jobs per 1 s limiter window, before and after a runtime change and a restart', async () => {
    const prefix = `sy-test-${randomUUID()}`;
    const queue = newQueue(prefix);
    await harness.sandbox.reset();
    const M = 20;
    const workers = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        startWorkerProcess(prefix, `w-${id}`, {
          RATE_LIMIT_MAX: String(M),
          RATE_LIMIT_DURATION_MS: '1000',
        }),
      ),
    );

    // Warm-up: one window's worth, so each process's first (cold, slower)
    // call is not measured; then let that window end.
    await publish(queue, 1_000, M);
    await allCompleted(queue, M, 10_000);
    await sleep(1_100);

    // Phase 1: the configured limit, M = 20/s, over a backlog of 100.
    await publish(queue, 0, 100);
    await allCompleted(queue, M + 100, 30_000);
    const phase1 = callsOf(await harness.sandbox.ledger(), 0, 100);

    // Phase 2: an operator lowers it to 8/s while the workers run.
    const M2 = 8;
    await writeQueueLimits(harness.client, {
      prefix,
      queue: queueName,
      rateLimit: { max: M2, durationMs: 1_000 },
      source: 'cli',
      by: 'flow-control test',
    });
    await publish(queue, 100, 40);
    await allCompleted(queue, M + 140, 30_000);
    const phase2 = callsOf(await harness.sandbox.ledger(), 100, 40);

    // Phase 3: a worker restarts (a redeploy); the operator's limit stays.
    expect(await workers[0]!.stop('SIGTERM')).toBe(0);
    workers[0] = await startWorkerProcess(prefix, 'w-a2', {
      RATE_LIMIT_MAX: String(M),
      RATE_LIMIT_DURATION_MS: '1000',
    });
    expect(await queue.getGlobalRateLimit()).toEqual({ max: M2, duration: 1_000 });
    await publish(queue, 140, 32);
    await allCompleted(queue, M + 172, 30_000);
    const phase3 = callsOf(await harness.sandbox.ledger(), 140, 32);

    const phases = [
      { limit: M, calls: phase1 },
      { limit: M2, calls: phase2 },
      { limit: M2, calls: phase3 },
    ].map(({ limit, calls }) => {
      const windows = limiterWindows(calls);
      return {
        limit,
        calls: calls.length,
        callsPerWindow: windows.map((window) => window.calls),
        windowSpacingMs: spacing(windows),
        busiestSliding1s: busiestWindow(calls, 1_000),
      };
    });
    console.log('rate limit figures from the sandbox ledger:', JSON.stringify(phases));

    expect([phase1.length, phase2.length, phase3.length]).toEqual([100, 40, 32]);
    // Every job's call applied once (no repeats), by more than one process.
    expect([...phase1, ...phase2, ...phase3].every((call) => call.repeats === 0)).toBe(true);
    const processedBy = new Set((await queue.getJobs(['completed'])).map((job) => job.processedBy));
    expect(processedBy.size).toBeGreaterThanOrEqual(2);
    for (const phase of phases) {
      // No limiter window admitted more than the limit ...
      expect(Math.max(...phase.callsPerWindow)).toBeLessThanOrEqual(phase.limit);
      // ... and windows are a full duration apart, less call jitter (the very
      // first call of a process is slower: a cold connection).
      expect(Math.min(...phase.windowSpacingMs)).toBeGreaterThanOrEqual(1_000 - 250);
      // Fixed windows: a sliding 1 s can straddle two of them, never three.
      expect(phase.busiestSliding1s).toBeLessThanOrEqual(2 * phase.limit);
    }
    // The limit binds: the backlog took one window per `limit` jobs at least.
    expect(phases[0]!.callsPerWindow.length).toBeGreaterThanOrEqual(100 / M);
    expect(phases[1]!.callsPerWindow.length).toBeGreaterThanOrEqual(40 / M2);
    expect(await readQueueLimits(harness.client, { prefix, queue: queueName })).toMatchObject({
      source: 'cli',
      by: 'flow-control test',
      rateLimit: { max: M2, durationMs: 1_000 },
    });
  }, 150_000);
});
