/**
 * A small grouped-bar chart written as SVG by hand (no chart library): one
 * panel per figure, stacked vertically; each bar is a median with a whisker
 * for its range. Pure: returns the document as a string. Text is escaped.
 */
import { formatNumber, type Summary } from './stats.js';

export interface ChartSeries {
  name: string;
  /** One value per category; undefined leaves a gap. */
  values: readonly (Summary | undefined)[];
}

export interface ChartPanel {
  title: string;
  /** Shown after the title, e.g. "jobs/s". */
  unit: string;
  /** The x groups, e.g. tiers. */
  categories: readonly string[];
  series: readonly ChartSeries[];
  /** 'log' for figures spanning decades (latency): powers of ten from `logMin`. Default 'linear'. */
  scale?: 'linear' | 'log';
  /** Bottom of a log axis. Default 0.1. */
  logMin?: number;
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  /** Pixel width. Default 760. */
  width?: number;
}

const palette = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#9c755f'];
const panelHeight = 230;
const top = 58;
const left = 62;
const right = 16;

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

/** A "nice" axis maximum at or above `value`: 1, 2, 2.5 or 5 times a power of ten. */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function renderChart(panels: readonly ChartPanel[], options: ChartOptions): string {
  const width = options.width ?? 760;
  const height = top + panels.length * (panelHeight + 40) + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  if (options.subtitle)
    parts.push(`<text x="${left}" y="40" fill="#555">${escapeXml(options.subtitle)}</text>`);
  panels.forEach((panel, index) => {
    parts.push(renderPanel(panel, top + index * (panelHeight + 40), width));
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function renderPanel(panel: ChartPanel, y0: number, width: number): string {
  const plotTop = y0 + 34;
  const plotHeight = panelHeight - 60;
  const plotWidth = width - left - right;
  const out: string[] = [
    `<text x="${left}" y="${y0 + 12}" font-size="13" font-weight="bold">${escapeXml(panel.title)} <tspan font-weight="normal" fill="#555">(${escapeXml(panel.unit)}${panel.scale === 'log' ? ', log scale' : ''}; bar = median, whisker = range)</tspan></text>`,
  ];
  // Legend.
  let legendX = left;
  panel.series.forEach((series, index) => {
    out.push(
      `<rect x="${legendX}" y="${y0 + 19}" width="10" height="10" fill="${palette[index % palette.length]}"/>`,
    );
    out.push(`<text x="${legendX + 14}" y="${y0 + 28}">${escapeXml(series.name)}</text>`);
    legendX += 24 + series.name.length * 6.5;
  });
  const highest = Math.max(0, ...panel.series.flatMap((s) => s.values.map((v) => (v ? v.max : 0))));
  const log = panel.scale === 'log';
  const logMin = panel.logMin ?? 0.1;
  const axisMax = log
    ? 10 ** Math.ceil(Math.log10(Math.max(highest, logMin * 10)))
    : niceMax(highest);
  const fraction = (value: number) =>
    log
      ? (Math.log10(Math.max(value, logMin)) - Math.log10(logMin)) /
        (Math.log10(axisMax) - Math.log10(logMin))
      : Math.min(value, axisMax) / axisMax;
  const yOf = (value: number) => plotTop + plotHeight - Math.min(1, fraction(value)) * plotHeight;
  // Grid and axis labels: quarters, or each power of ten on a log axis.
  const ticks = log
    ? Array.from(
        { length: Math.round(Math.log10(axisMax / logMin)) + 1 },
        (_, i) => logMin * 10 ** i,
      )
    : [0, 1, 2, 3, 4].map((tick) => (axisMax * tick) / 4);
  for (const value of ticks) {
    const y = yOf(value).toFixed(1);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(
      `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#555">${escapeXml(formatNumber(value))}</text>`,
    );
  }
  const groups = panel.categories.length;
  const groupWidth = plotWidth / Math.max(1, groups);
  const barWidth = Math.max(2, (groupWidth * 0.8) / Math.max(1, panel.series.length));
  panel.categories.forEach((category, g) => {
    const gx = left + g * groupWidth + groupWidth * 0.1;
    panel.series.forEach((series, s) => {
      const value = series.values[g];
      if (value === undefined) return;
      const x = gx + s * barWidth;
      const y = yOf(value.median);
      const color = palette[s % palette.length]!;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${(plotTop + plotHeight - y).toFixed(1)}" fill="${color}"><title>${escapeXml(`${category} ${series.name}: ${formatNumber(value.median)} ${panel.unit}`)}</title></rect>`,
      );
      if (value.n > 1) {
        const cx = (x + (barWidth - 1) / 2).toFixed(1);
        out.push(
          `<line x1="${cx}" x2="${cx}" y1="${yOf(value.min).toFixed(1)}" y2="${yOf(value.max).toFixed(1)}" stroke="#222"/>`,
        );
      }
    });
    out.push(
      `<text x="${(gx + groupWidth * 0.4).toFixed(1)}" y="${plotTop + plotHeight + 14}" text-anchor="middle">${escapeXml(category)}</text>`,
    );
  });
  out.push(
    `<line x1="${left}" x2="${width - right}" y1="${plotTop + plotHeight}" y2="${plotTop + plotHeight}" stroke="#333"/>`,
  );
  return out.join('\n');
}
