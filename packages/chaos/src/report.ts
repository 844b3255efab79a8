/**
 * The chaos report: each scenario appends one row to a results file
 * (recordScenario), and the suite's global teardown prints every row of the
 * run as one table (formatReport), so it ends `pnpm test:chaos` output.
 *
 * The file (default packages/chaos/results/latest.json, git-ignored: it
 * changes on every run; docs/reliability.md quotes a run's figures) holds
 * `{ startedAt, rows }`. The global setup resets it at the start of a run.
 * Test files run one at a time (vitest.shared.ts), so a synchronous
 * read-modify-write per row is enough; it is written through a temp file and
 * a rename so a crash never leaves half a file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chaosEnv } from './env.js';

/** One scenario's line in the report. */
export interface ScenarioRow {
  scenario: string;
  /** Events the load generator published (requested). */
  events: number;
  /** What was injected, e.g. '10 SIGKILL' or '200 poison'. */
  faults: string;
  accepted: number;
  lost: number;
  duplicates: number;
  /** DLQ held exactly the injected poison with the right reasons. */
  dlqOk: boolean;
  redeliveries: number;
  /** Recovery after a fault, in ms, where the scenario measures one. */
  recoveryP50Ms?: number | undefined;
  recoveryP99Ms?: number | undefined;
  durationMs: number;
  /**
   * 'pass' / 'fail' for a scenario; a negative control passes when the
   * checker REPORTED loss ('pass (loss detected)').
   */
  verdict: string;
  /** Anything the numbers do not say (profile, throughput, why). */
  notes?: string | undefined;
}

export interface ResultsFile {
  startedAt: string;
  /** SY_CHAOS_SOAK of the run (1 = CI size). */
  soak?: number;
  rows: ScenarioRow[];
}

const defaultResultsPath = fileURLToPath(new URL('../results/latest.json', import.meta.url));

export function resultsPath(): string {
  return chaosEnv().SY_CHAOS_RESULTS ?? defaultResultsPath;
}

function write(path: string, results: ResultsFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(results, null, 2)}\n`);
  renameSync(temp, path);
}

/** Starts a new results file (the suite's global setup calls it). */
export function resetResults(path = resultsPath()): void {
  write(path, { startedAt: new Date().toISOString(), soak: chaosEnv().SY_CHAOS_SOAK, rows: [] });
}

export function readResults(path = resultsPath()): ResultsFile {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
  } catch {
    return { startedAt: new Date().toISOString(), rows: [] };
  }
}

/** Appends `row` to the results file. A row of the same scenario name replaces the earlier one (a retried test). */
export function recordScenario(row: ScenarioRow, path = resultsPath()): void {
  const results = readResults(path);
  results.rows = results.rows.filter((r) => r.scenario !== row.scenario);
  results.rows.push(row);
  write(path, results);
}

const ms = (value: number | undefined): string =>
  value === undefined
    ? '-'
    : value >= 10_000
      ? `${(value / 1000).toFixed(1)} s`
      : `${Math.round(value)} ms`;

/** The rows as a fixed-width text table, one line per scenario. */
export function formatReport(results: ResultsFile): string {
  const header = [
    'scenario',
    'events',
    'faults',
    'accepted',
    'lost',
    'dup',
    'dlq ok',
    'redeliv.',
    'recov. p50',
    'recov. p99',
    'duration',
    'verdict',
  ];
  const lines = results.rows.map((r) => [
    r.scenario,
    String(r.events),
    r.faults,
    String(r.accepted),
    String(r.lost),
    String(r.duplicates),
    r.dlqOk ? 'yes' : 'NO',
    String(r.redeliveries),
    ms(r.recoveryP50Ms),
    ms(r.recoveryP99Ms),
    ms(r.durationMs),
    r.verdict,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 || i === 2 || i === 11 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const notes = results.rows
    .filter((r) => r.notes !== undefined && r.notes !== '')
    .map((r) => `- ${r.scenario}: ${r.notes}`);
  return [
    `Switchyard chaos report (run started ${results.startedAt}, sizes x${results.soak ?? 1})`,
    format(header),
    rule,
    ...lines.map(format),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
}

/** Percentile (nearest rank) of `values`; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
