/**
 * One repetition of one tier: the scenarios in a fixed order on a flushed
 * Redis, each bounded by a deadline. Returns flat metrics (see `metricRows`
 * in report.ts for names and units); a failed scenario leaves its metrics
 * out and is reported, the next repetition starts fresh processes.
 */
import type { BenchRedis } from './bench-redis.js';
import type { ProcessHandle, RoleChild } from './children.js';
import type { ConsumeResult, ConsumerVariant, ProduceResult } from './protocol.js';

export type Metrics = Record<string, number>;

export interface TierProcesses {
  producer: RoleChild;
  consumer: RoleChild;
  /** Tier C: the producer app the load generator talks to. */
  app?: ProcessHandle;
}

export interface TierPlan {
  jobs: number;
  rates: readonly number[];
  rateWindowMs: number;
  /** Events per bulk call (addBulk, saveAll, a pipeline, POST /v1/events/batch). */
  batch: number;
  /** Worker variants to run besides the full one (tier C), by column name. */
  variants?: Readonly<Record<string, ConsumerVariant>>;
}

const inFlight = 100;
/** Switchyard's idempotency-window keys: kept per event for IDEMPOTENCY_TTL_SECONDS (24 h). */
const windowKeys = { ledger: /:idempotency:/, index: /:sy:index:/ };
/** What else stays per completed event: ctx.once markers (7 days), retained completed jobs' hashes. */
const leftKeys = { effects: /:effect:/, jobs: /^[^:]+:billing:[0-9a-f-]{36}$/ };
const full: ConsumerVariant = { logs: true, metrics: true, once: true };
const consumeTimeout = (jobs: number) => 30_000 + jobs * 3;

export async function runTierRepetition(
  redis: BenchRedis,
  procs: TierProcesses,
  plan: TierPlan,
  record: (column: string | undefined, metrics: Metrics) => void,
  /** Receives Redis calls per job by command, for --commands. */
  commandBreakdown?: (scenario: string, calls: Record<string, number>) => void,
): Promise<void> {
  const { producer, consumer } = procs;
  const n = plan.jobs;
  await redis.admin.flushall();

  const produce = (command: Parameters<RoleChild['request']>[0], jobs: number) =>
    producer.request<ProduceResult>(command, 60_000 + jobs * 5);
  const drain = async (concurrency: number, expect: number, variant = full) => {
    await consumer.request({ cmd: 'startConsumer', concurrency, variant }, 30_000);
    try {
      return await consumer.request<ConsumeResult>(
        { cmd: 'awaitConsumed', expect, timeoutMs: consumeTimeout(expect) },
        consumeTimeout(expect) + 5_000,
      );
    } finally {
      await consumer.request({ cmd: 'stopConsumer' }, 30_000);
    }
  };
  const rate = (result: ProduceResult) => result.sent / ((result.tEnd - result.tStart) / 1000);
  const drainRate = (result: ConsumeResult, expect: number) =>
    expect / ((result.tEnd - result.tFirst) / 1000);

  // 1. Single adds (~100 in flight) onto an empty queue: add rate and bytes per waiting job.
  const mem0 = await redis.usedMemory();
  const added = await produce({ cmd: 'add', n, inFlight }, n);
  const memWaiting = await redis.usedMemory();
  record(undefined, { add: rate(added), 'mem.waiting': (memWaiting - mem0) / added.sent });
  // Tier C: what of it is the idempotency window's (ledger + search index, 24 h by design).
  if (plan.variants) {
    const window = await redis.bytesByKeyClass(windowKeys);
    const windowBytes = (window.ledger! + window.index!) / added.sent;
    record(undefined, {
      'mem.waiting.window': windowBytes,
      'mem.waiting.queue': (memWaiting - mem0) / added.sent - windowBytes,
    });
  }
  // 2. Drain them at concurrency 50; what stays in Redis after is retained per completed job.
  const calls0 = await redis.commandCalls();
  const drained50 = await drain(50, added.sent);
  const calls = diffCalls(calls0, await redis.commandCalls());
  commandBreakdown?.(`drain c=50, per job`, perJob(calls, added.sent));
  record(undefined, {
    'cmds.drain': sum(calls) / added.sent,
    drain50: drainRate(drained50, added.sent),
    'cpu.workerDrain': drained50.cpuMicros / added.sent,
    'mem.retained': ((await redis.usedMemory()) - mem0) / added.sent,
  });
  if (plan.variants) {
    const left = await redis.bytesByKeyClass({ ...windowKeys, ...leftKeys });
    record(undefined, {
      'mem.retained.window': (left.ledger! + left.index!) / added.sent,
      'mem.retained.effects': left.effects! / added.sent,
      'mem.retained.jobs': left.jobs! / added.sent,
    });
  }
  // 3. Bulk adds, drained at concurrency 10.
  const bulk = await produce({ cmd: 'bulk', n, batch: plan.batch, inFlight: 2 }, n);
  record(undefined, { bulk: rate(bulk) });
  record(undefined, { drain10: drainRate(await drain(10, bulk.sent), bulk.sent) });
  // 4. A fifth as many, drained at concurrency 1.
  const fifth = Math.max(1, Math.round(n / 5));
  const small = await produce({ cmd: 'bulk', n: fifth, batch: plan.batch, inFlight: 2 }, fifth);
  record(undefined, { drain1: drainRate(await drain(1, small.sent), small.sent) });

  // 5. Producer and worker together (separate processes): end-to-end throughput and CPU per job.
  {
    await consumer.request({ cmd: 'startConsumer', concurrency: 50, variant: full }, 30_000);
    try {
      const redisCpu0 = await redis.cpuMicros();
      const togetherCalls0 = await redis.commandCalls();
      const appCpu0 = procs.app?.cpuMicros() ?? 0;
      const [sent, consumed] = await Promise.all([
        produce({ cmd: 'add', n, inFlight }, n),
        consumer.request<ConsumeResult>(
          { cmd: 'awaitConsumed', expect: n, timeoutMs: consumeTimeout(n) },
          consumeTimeout(n) + 5_000,
        ),
      ]);
      const redisCpu = (await redis.cpuMicros()) - redisCpu0;
      const togetherCalls = diffCalls(togetherCalls0, await redis.commandCalls());
      commandBreakdown?.('producer+worker, per job', perJob(togetherCalls, n));
      const metrics: Metrics = {
        'cmds.e2e': sum(togetherCalls) / n,
        e2e: n / ((consumed.tEnd - sent.tStart) / 1000),
        'cpu.worker': consumed.cpuMicros / n,
        'cpu.redis': redisCpu / n,
        'rss.worker': consumed.rssPeak / 1_048_576,
      };
      if (procs.app) {
        metrics['cpu.producer'] = (procs.app.cpuMicros() - appCpu0) / n;
        metrics['cpu.client'] = sent.cpuMicros / n;
      } else {
        metrics['cpu.producer'] = sent.cpuMicros / n;
      }
      record(undefined, metrics);
    } finally {
      await consumer.request({ cmd: 'stopConsumer' }, 30_000);
    }
  }

  // 6. Fixed offered rates: publish -> handler-start latency.
  const offered = async (
    offeredRate: number,
    column: string | undefined,
    variant: ConsumerVariant,
  ) => {
    await consumer.request({ cmd: 'startConsumer', concurrency: 50, variant }, 30_000);
    try {
      const sent = await producer.request<ProduceResult>(
        { cmd: 'paced', rate: offeredRate, durationMs: plan.rateWindowMs, maxInFlight: 2_000 },
        plan.rateWindowMs + 60_000,
      );
      const consumed = await consumer.request<ConsumeResult>(
        { cmd: 'awaitConsumed', expect: sent.sent, timeoutMs: consumeTimeout(sent.sent) },
        consumeTimeout(sent.sent) + 5_000,
      );
      record(column, {
        [`p50@${offeredRate}`]: consumed.latency.p50,
        [`p99@${offeredRate}`]: consumed.latency.p99,
        [`max@${offeredRate}`]: consumed.latency.max,
        [`achieved@${offeredRate}`]: sent.sent / (plan.rateWindowMs / 1000),
        'rss.worker': consumed.rssPeak / 1_048_576,
      });
    } finally {
      await consumer.request({ cmd: 'stopConsumer' }, 30_000);
    }
  };
  for (const offeredRate of plan.rates) await offered(offeredRate, undefined, full);

  // 7. Worker variants (tier C): drain at concurrency 50 and the top offered rate, one feature off each.
  for (const [column, variant] of Object.entries(plan.variants ?? {})) {
    await redis.admin.flushall();
    const preload = await produce({ cmd: 'bulk', n, batch: plan.batch, inFlight: 2 }, n);
    const result = await drain(50, preload.sent, variant);
    record(column, {
      drain50: drainRate(result, preload.sent),
      'cpu.workerDrain': result.cpuMicros / preload.sent,
    });
    const top = Math.max(...plan.rates);
    await offered(top, column, variant);
  }
}

/** A warm-up: the together scenario, small and unrecorded. */
export async function warmUp(procs: TierProcesses, jobs: number): Promise<void> {
  await procs.consumer.request({ cmd: 'startConsumer', concurrency: 50 }, 30_000);
  try {
    await Promise.all([
      procs.producer.request({ cmd: 'add', n: jobs, inFlight }, 60_000),
      procs.consumer.request({ cmd: 'awaitConsumed', expect: jobs, timeoutMs: 60_000 }, 65_000),
    ]);
    await procs.producer.request(
      { cmd: 'bulk', n: jobs, batch: Math.min(jobs, 500), inFlight: 2 },
      60_000,
    );
    await procs.consumer.request(
      { cmd: 'awaitConsumed', expect: 2 * jobs, timeoutMs: 60_000 },
      65_000,
    );
  } finally {
    await procs.consumer.request({ cmd: 'stopConsumer' }, 30_000);
  }
}

function diffCalls(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, count] of Object.entries(after)) {
    // INFO itself is the benchmark's, not the tier's.
    if (name === 'info') continue;
    const delta = count - (before[name] ?? 0);
    if (delta > 0) out[name] = delta;
  }
  return out;
}

function perJob(calls: Record<string, number>, jobs: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(calls).map(([name, count]) => [name, Number((count / jobs).toFixed(2))]),
  );
}

function sum(calls: Record<string, number>): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}
