/**
 * Turning repetitions into the report: per column and metric the median
 * and range, the table, the ratios against the targets and the
 * chart panels. Pure.
 */
import { formatNumber, formatSummary, summarize, type Summary } from './stats.js';
import { renderTable } from './table.js';
import type { ChartPanel } from './svg-chart.js';

/** column -> metric -> one value per repetition. */
export type Samples = Record<string, Record<string, number[]>>;
/** column -> metric -> summary. */
export type Summaries = Record<string, Record<string, Summary>>;

export const columnLabels: Record<string, string> = {
  A: 'A limit',
  B: 'B BullMQ',
  C: 'C Switchyard',
  'C-nolog': 'C no logs',
  'C-nometrics': 'C no metrics',
  'C-noonce': 'C no once',
  'C-client': 'C via client',
  D: 'D bee-queue',
};

export interface MetricRow {
  key: string;
  label: string;
}

export function metricRows(rates: readonly number[]): MetricRow[] {
  return [
    { key: 'add', label: 'add, ~100 in flight (jobs/s)' },
    { key: 'bulk', label: 'bulk add (jobs/s)' },
    { key: 'drain1', label: 'worker drain c=1 (jobs/s)' },
    { key: 'drain10', label: 'worker drain c=10 (jobs/s)' },
    { key: 'drain50', label: 'worker drain c=50 (jobs/s)' },
    { key: 'e2e', label: 'producer+worker together (jobs/s)' },
    ...rates.flatMap((rate) => [
      { key: `achieved@${rate}`, label: `offered ${rate}/s: accepted (jobs/s)` },
      { key: `p50@${rate}`, label: `offered ${rate}/s: p50 latency (ms)` },
      { key: `p99@${rate}`, label: `offered ${rate}/s: p99 latency (ms)` },
      { key: `max@${rate}`, label: `offered ${rate}/s: max latency (ms)` },
    ]),
    { key: 'cpu.producer', label: 'CPU/job producer (µs)' },
    { key: 'cpu.client', label: 'CPU/job HTTP load client (µs)' },
    { key: 'cpu.worker', label: 'CPU/job worker (µs)' },
    { key: 'cpu.redis', label: 'CPU/job Redis (µs)' },
    { key: 'cpu.workerDrain', label: 'CPU/job worker, drain c=50 (µs)' },
    { key: 'cmds.drain', label: 'Redis commands/job, drain c=50' },
    { key: 'cmds.e2e', label: 'Redis commands/job, together' },
    { key: 'mem.waiting', label: 'Redis bytes per waiting job' },
    { key: 'mem.waiting.window', label: '  of which ledger + index (24 h)' },
    { key: 'mem.waiting.queue', label: '  the rest: the queue (job, lists, stream)' },
    { key: 'mem.retained', label: 'Redis bytes left per completed job' },
    { key: 'mem.retained.window', label: '  of which ledger + index (24 h)' },
    { key: 'mem.retained.effects', label: '  of which ctx.once markers (7 d)' },
    { key: 'mem.retained.jobs', label: '  of which kept completed jobs (newest 10k)' },
    { key: 'rss.worker', label: 'worker peak RSS (MB)' },
  ];
}

export function summarizeAll(samples: Samples): Summaries {
  const out: Summaries = {};
  for (const [column, metrics] of Object.entries(samples)) {
    out[column] = {};
    for (const [metric, values] of Object.entries(metrics)) {
      const summary = summarize(values);
      if (summary) out[column][metric] = summary;
    }
  }
  return out;
}

export function renderResultTable(
  summaries: Summaries,
  rates: readonly number[],
  style: 'text' | 'markdown' = 'text',
): string {
  const columns = Object.keys(columnLabels).filter((column) => summaries[column] !== undefined);
  const rows = metricRows(rates)
    .filter((row) => columns.some((column) => summaries[column]?.[row.key] !== undefined))
    .map((row) => [
      row.label,
      ...columns.map((column) => formatSummary(summaries[column]?.[row.key])),
    ]);
  return renderTable(
    ['metric (median ±half-range)', ...columns.map((c) => columnLabels[c]!)],
    rows,
    { style },
  );
}

export interface Check {
  name: string;
  /** The measured figure (a ratio or an absolute value). */
  value: Summary | undefined;
  target: string;
  pass: boolean | undefined;
}

/**
 * Per-repetition ratio a/b (same run, same repetition), summarized; pairs
 * where either side is missing are skipped.
 */
export function pairedRatio(
  samples: Samples,
  a: [string, string],
  b: [string, string],
): Summary | undefined {
  const top = samples[a[0]]?.[a[1]] ?? [];
  const bottom = samples[b[0]]?.[b[1]] ?? [];
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(top.length, bottom.length); i++) {
    if (bottom[i]! > 0) ratios.push(top[i]! / bottom[i]!);
  }
  return summarize(ratios);
}

export function checks(samples: Samples, summaries: Summaries, rates: readonly number[]): Check[] {
  const atLeast = (value: Summary | undefined, min: number) =>
    value ? value.median >= min : undefined;
  const atMost = (value: Summary | undefined, max: number) =>
    value ? value.median <= max : undefined;
  const top = Math.max(...rates);
  const list: Check[] = [];
  for (const c of [1, 10, 50]) {
    const value = pairedRatio(samples, ['C', `drain${c}`], ['B', `drain${c}`]);
    list.push({
      name: `worker runtime drain c=${c} / bare BullMQ drain c=${c}`,
      value,
      target: '>= 0.85x',
      pass: atLeast(value, 0.85),
    });
  }
  const e2e = pairedRatio(samples, ['C', 'e2e'], ['B', 'e2e']);
  list.push({
    name: 'HTTP ingest -> handler / bare BullMQ producer+worker',
    value: e2e,
    target: '>= 0.5x',
    pass: atLeast(e2e, 0.5),
  });
  const viaClient = pairedRatio(samples, ['C-client', 'e2e'], ['B', 'e2e']);
  list.push({
    name: 'client publish (Redis) -> handler / bare BullMQ producer+worker',
    value: viaClient,
    target: '>= 0.5x',
    pass: atLeast(viaClient, 0.5),
  });
  for (const [column, how] of [
    ['C', 'HTTP'],
    ['C-client', 'client'],
  ] as const) {
    const p99 = summaries[column]?.[`p99@${top}`];
    list.push({
      name: `Switchyard p99 publish -> handler start at ${top}/s, ${how} (ms)`,
      value: p99,
      target: '<= 25 ms',
      pass: atMost(p99, 25),
    });
  }
  const rss = summaries.C?.['rss.worker'];
  list.push({
    name: 'Switchyard worker peak RSS (MB)',
    value: rss,
    target: '<= 150 MB',
    pass: atMost(rss, 150),
  });
  const waiting = summaries.C?.['mem.waiting'];
  list.push({
    name: 'Switchyard Redis bytes per waiting job',
    value: waiting,
    target: '<= 1536 B',
    pass: atMost(waiting, 1536),
  });
  const queueShare = summaries.C?.['mem.waiting.queue'];
  if (queueShare) {
    list.push({
      name: 'Switchyard Redis bytes per waiting job, queue only (no 24 h window)',
      value: queueShare,
      target: '<= 1536 B',
      pass: atMost(queueShare, 1536),
    });
  }
  const retained = summaries.C?.['mem.retained'];
  list.push({
    name: 'Switchyard Redis bytes left per completed job',
    value: retained,
    target: '~0',
    pass: atMost(retained, 64),
  });
  return list;
}

export function renderChecks(list: readonly Check[]): string {
  return renderTable(
    ['target', 'measured', 'wanted', ''],
    list.map((check) => [
      check.name,
      formatSummary(check.value),
      check.target,
      check.pass === undefined ? 'n/a' : check.pass ? 'met' : 'MISSED',
    ]),
  );
}

/**
 * Gaps larger than `factor` between two columns on the throughput and
 * latency rows, for the "vs bee-queue" explanations.
 */
export function gaps(
  summaries: Summaries,
  a: string,
  b: string,
  rates: readonly number[],
  factor = 1.2,
): string[] {
  const out: string[] = [];
  for (const row of metricRows(rates)) {
    const x = summaries[a]?.[row.key];
    const y = summaries[b]?.[row.key];
    if (!x || !y || y.median === 0 || x.median === 0) continue;
    const r = x.median / y.median;
    if (r > factor || r < 1 / factor) {
      out.push(
        `${row.label}: ${columnLabels[a]} ${formatNumber(x.median)} vs ${columnLabels[b]} ${formatNumber(y.median)} (${formatNumber(r)}x)`,
      );
    }
  }
  return out;
}

export function chartPanels(summaries: Summaries, rates: readonly number[]): ChartPanel[] {
  const columns = ['A', 'B', 'C', 'C-client', 'D'].filter(
    (column) => summaries[column] !== undefined,
  );
  const categories = columns.map((column) => columnLabels[column]!);
  const series = (key: string, name: string) => ({
    name,
    values: columns.map((column) => summaries[column]?.[key]),
  });
  const variantColumns = ['C', 'C-nolog', 'C-nometrics', 'C-noonce', 'B', 'D'].filter(
    (c) => summaries[c],
  );
  return [
    {
      title: 'Throughput',
      unit: 'jobs/s',
      categories,
      series: [
        series('bulk', 'bulk add'),
        series('drain1', 'drain c=1'),
        series('drain10', 'drain c=10'),
        series('drain50', 'drain c=50'),
        series('e2e', 'producer+worker'),
      ],
    },
    {
      title: 'Latency, publish -> handler start',
      unit: 'ms',
      scale: 'log',
      categories,
      series: rates.flatMap((rate) => [
        series(`p50@${rate}`, `p50 @${rate}/s`),
        series(`p99@${rate}`, `p99 @${rate}/s`),
      ]),
    },
    {
      title: 'Worker CPU per job, drain c=50: Switchyard with one feature off at a time',
      unit: 'µs',
      categories: variantColumns.map((c) => columnLabels[c]!),
      series: [
        {
          name: 'worker CPU/job',
          values: variantColumns.map((c) => summaries[c]?.['cpu.workerDrain']),
        },
      ],
    },
  ];
}
