/** Summaries of repeated measurements: the median and the range. Pure. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** How many finite values went in. */
  n: number;
}

/** Median and range of the finite values; undefined when there are none. */
export function summarize(values: readonly number[]): Summary | undefined {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return undefined;
  const mid = Math.floor(finite.length / 2);
  const median = finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  return { median, min: finite[0]!, max: finite[finite.length - 1]!, n: finite.length };
}

/** a / b of two medians, or undefined when either is missing or b is 0. */
export function ratio(a: Summary | undefined, b: Summary | undefined): number | undefined {
  if (a === undefined || b === undefined || b.median === 0) return undefined;
  return a.median / b.median;
}

/**
 * A number for a table cell: 3 significant digits, thousands as `k`
 * (12 345 -> "12.3k"), undefined as "—".
 */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  if (abs >= 100) return String(Math.round(value));
  return trim(value);
}

function trim(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value
    .toFixed(digits)
    .replace(/\.0+$/, '')
    .replace(/(\.\d*?)0+$/, '$1');
}

/**
 * "median ±s%" where s is half the range relative to the median (the
 * spread of the repetitions), or just the median for one value.
 */
export function formatSummary(summary: Summary | undefined): string {
  if (summary === undefined) return '—';
  const median = formatNumber(summary.median);
  if (summary.n < 2 || summary.median === 0) return median;
  const spread = Math.round(((summary.max - summary.min) / 2 / Math.abs(summary.median)) * 100);
  return `${median} ±${spread}%`;
}
