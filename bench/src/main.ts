/**
 * `pnpm bench [--quick]`: Switchyard beside bare BullMQ, the Redis limit and
 * bee-queue, in one run on one private Redis. See --help and
 * docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { BenchArgumentError, parseArgs, usage, type TierName } from './args.js';
import { freePort, startBenchRedis, type BenchRedis } from './bench-redis.js';
import {
  repoRoot,
  setCpuProfileDir,
  spawnRole,
  startProducerApp,
  withDeadline,
} from './children.js';
import type { RoleName } from './protocol.js';
import {
  chartPanels,
  checks,
  columnLabels,
  gaps,
  renderChecks,
  renderResultTable,
  summarizeAll,
  type Samples,
} from './report.js';
import {
  runTierRepetition,
  warmUp,
  type Metrics,
  type TierPlan,
  type TierProcesses,
} from './run-tier.js';
import { renderChart } from './svg-chart.js';

/** Bytes of a job's own data (before any envelope): the 200-byte payload. */
const payloadBytes = 200;

interface TierSpec {
  producer: RoleName;
  consumer: RoleName;
  queue: string;
  batch: number;
}

/** What runs: the tiers, with C also published through the TypeScript client (column C-client). */
type RunName = TierName | 'C-client';

const specs: Record<RunName, TierSpec> = {
  A: { producer: 'limit', consumer: 'limit', queue: 'bench-a', batch: 1_000 },
  B: { producer: 'bullmq', consumer: 'bullmq', queue: 'bench-b', batch: 1_000 },
  C: { producer: 'http', consumer: 'switchyard', queue: 'billing', batch: 1_000 },
  'C-client': { producer: 'client', consumer: 'switchyard', queue: 'billing', batch: 1_000 },
  D: { producer: 'bee', consumer: 'bee', queue: 'bench-d', batch: 1_000 },
};

function runsOf(tiers: readonly TierName[]): RunName[] {
  return tiers.flatMap((tier): RunName[] => (tier === 'C' ? ['C', 'C-client'] : [tier]));
}

const cVariants = {
  'C-nolog': { logs: false, metrics: true, once: true },
  'C-nometrics': { logs: true, metrics: false, once: true },
  'C-noonce': { logs: true, metrics: true, once: false },
};

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function startTier(tier: RunName, redis: BenchRedis): Promise<TierProcesses> {
  const spec = specs[tier];
  const base = { redisUrl: redis.url, queue: spec.queue, payloadBytes };
  if (tier === 'C-client') {
    const [producer, consumer] = await Promise.all([
      spawnRole('client', { ...base, prefix: 'sy' }, 'C-client publisher'),
      spawnRole('switchyard', { ...base, prefix: 'sy' }, 'C-client worker'),
    ]);
    return { producer, consumer };
  }
  if (tier !== 'C') {
    const [producer, consumer] = await Promise.all([
      spawnRole(spec.producer, base, `${tier} producer`),
      spawnRole(spec.consumer, base, `${tier} worker`),
    ]);
    return { producer, consumer };
  }
  const apiKey = randomBytes(24).toString('hex');
  const app = await startProducerApp({
    redisUrl: redis.url,
    port: await freePort(),
    apiKey,
    logLevel: 'info',
  });
  const [producer, consumer] = await Promise.all([
    spawnRole('http', { ...base, producerUrl: app.url, apiKey }, 'C load client'),
    spawnRole('switchyard', { ...base, prefix: 'sy' }, 'C worker'),
  ]);
  return { producer, consumer, app };
}

async function stopTier(procs: TierProcesses | undefined): Promise<void> {
  if (!procs) return;
  for (const child of [procs.producer, procs.consumer]) {
    await child.request({ cmd: 'close' }, 10_000).catch(() => undefined);
    if (!(await child.exited(10_000))) await child.kill();
  }
  // SIGTERM: the app drains and exits 0, writing its CPU profile when asked for one.
  await procs.app?.kill('SIGTERM');
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof BenchArgumentError) {
      log(`${error.message}\n\n${usage}`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    console.log(usage);
    return 0;
  }
  const outDir = options.outDir ?? join(repoRoot, 'bench', 'results');
  setCpuProfileDir(options.cpuProfDir);
  const started = Date.now();
  const loadBefore = loadavg();
  const redis = await startBenchRedis();
  log(
    `bench: redis-server ${redis.version} on port ${redis.port} (pid ${redis.pid}); ${options.quick ? 'quick, ' : ''}${options.repetitions} repetition(s) of ${options.tiers.join(', ')}, ${options.jobs} jobs`,
  );
  const samples: Samples = {};
  const failures: string[] = [];
  /** Redis calls per job by command, from the first repetition. */
  const commandBreakdowns: Record<string, Record<string, number>> = {};
  const procs = new Map<RunName, TierProcesses>();
  const tierDeadlineMs =
    120_000 + options.jobs * 20 + options.rates.length * options.rateWindowMs * 4;
  try {
    for (let rep = 1; rep <= options.repetitions; rep++) {
      for (const tier of runsOf(options.tiers)) {
        const t0 = Date.now();
        try {
          let current = procs.get(tier);
          if (!current) {
            current = await startTier(tier, redis);
            procs.set(tier, current);
            await redis.admin.flushall();
            await withDeadline(
              warmUp(current, options.quick ? 500 : 2_000),
              120_000,
              `${tier} warm-up took over 120 s`,
            );
          }
          const plan: TierPlan = {
            jobs: options.jobs,
            rates: options.rates,
            rateWindowMs: options.rateWindowMs,
            batch: specs[tier].batch,
            ...(tier === 'C' ? { variants: cVariants } : {}),
          };
          const record = (column: string | undefined, metrics: Metrics) => {
            const name = column ?? tier;
            const target = (samples[name] ??= {});
            for (const [key, value] of Object.entries(metrics)) {
              // rss.worker is recorded by several scenarios: keep the peak of the repetition.
              const list = (target[key] ??= []);
              if (key === 'rss.worker' && list.length === rep)
                list[rep - 1] = Math.max(list[rep - 1]!, value);
              else list.push(value);
            }
          };
          const breakdown = (scenario: string, calls: Record<string, number>) => {
            if (rep === 1) commandBreakdowns[`${tier}: ${scenario}`] = calls;
          };
          await withDeadline(
            runTierRepetition(redis, current, plan, record, breakdown),
            tierDeadlineMs,
            `tier ${tier} repetition ${rep} took over ${tierDeadlineMs} ms`,
          );
          log(
            `bench: tier ${tier} repetition ${rep}/${options.repetitions} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
          );
        } catch (error) {
          const message = `tier ${tier} repetition ${rep}: ${error instanceof Error ? error.message : String(error)}`;
          failures.push(message);
          log(`bench: FAILED ${message}`);
          await stopTier(procs.get(tier)).catch(() => undefined);
          procs.delete(tier);
        }
      }
    }
  } finally {
    for (const current of procs.values()) await stopTier(current).catch(() => undefined);
    await redis.stop();
  }

  const summaries = summarizeAll(samples);
  const loadAfter = loadavg();
  const list = checks(samples, summaries, options.rates);
  const beeGaps = [
    ...gaps(summaries, 'B', 'D', options.rates),
    ...gaps(summaries, 'C', 'D', options.rates),
  ];
  const machine = {
    cpus: availableParallelism(),
    node: process.version,
    redis: redis.version,
    os: `${process.platform} ${release()}`,
    loadBefore: loadBefore.map((x) => Number(x.toFixed(2))),
    loadAfter: loadAfter.map((x) => Number(x.toFixed(2))),
  };
  const table = renderResultTable(summaries, options.rates);
  console.log(`\n${table}\n`);
  console.log(renderChecks(list));
  if (beeGaps.length > 0)
    console.log(`\nGaps over 1.2x against bee-queue:\n  ${beeGaps.join('\n  ')}`);
  if (failures.length > 0) console.log(`\nFailed:\n  ${failures.join('\n  ')}`);
  console.log(
    `\nmachine: ${machine.cpus} cpus, node ${machine.node}, redis ${machine.redis}; load ${machine.loadBefore.join(' ')} -> ${machine.loadAfter.join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );

  mkdirSync(outDir, { recursive: true });
  const round = (x: number) => Number(x.toPrecision(4));
  const json = {
    schema: 1,
    startedAt: new Date(started).toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    options: {
      quick: options.quick,
      repetitions: options.repetitions,
      jobs: options.jobs,
      rates: options.rates,
      rateWindowMs: options.rateWindowMs,
      payloadBytes,
    },
    machine,
    columns: columnLabels,
    summaries: Object.fromEntries(
      Object.entries(summaries).map(([column, metrics]) => [
        column,
        Object.fromEntries(
          Object.entries(metrics).map(([key, s]) => [
            key,
            { median: round(s.median), min: round(s.min), max: round(s.max), n: s.n },
          ]),
        ),
      ]),
    ),
    checks: list.map((check) => ({ ...check, value: check.value && round(check.value.median) })),
    beeGaps,
    redisCallsPerJob: commandBreakdowns,
    failures,
  };
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(json, null, 1)}\n`);
  writeFileSync(
    join(outDir, 'latest.svg'),
    renderChart(chartPanels(summaries, options.rates), {
      title: 'Switchyard vs bare BullMQ, the Redis limit and bee-queue',
      subtitle: `${new Date(started).toISOString().slice(0, 16)}Z · ${machine.cpus} cpus · node ${machine.node} · redis ${machine.redis} · ${options.repetitions} rep(s) · ${options.jobs} jobs${options.quick ? ' · quick' : ''}`,
    }),
  );
  log(`bench: wrote ${join(outDir, 'latest.json')} and latest.svg`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
