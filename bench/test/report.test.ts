import { describe, expect, it } from 'vitest';
import {
  checks,
  gaps,
  pairedRatio,
  renderResultTable,
  summarizeAll,
  type Samples,
} from '../src/report.ts';
import { packageOf } from '../src/profile-summary.ts';

const samples: Samples = {
  B: {
    drain1: [100, 200],
    drain10: [100, 100],
    drain50: [100, 100],
    e2e: [100, 100],
    'p50@3000': [1, 1],
  },
  C: {
    drain1: [90, 100],
    drain10: [50, 60],
    drain50: [100, 100],
    e2e: [60, 40],
    'p99@3000': [20, 40],
    'rss.worker': [100, 120],
    'mem.waiting': [1_000, 1_100],
    'mem.retained': [0, 10],
  },
  D: { drain50: [300, 300], 'p50@3000': [1.1, 1.1] },
};

describe('the report', () => {
  it('pairs ratios by repetition, not by medians', () => {
    // Rep 1: 90/100, rep 2: 100/200 -> median 0.7, although the medians' ratio is 95/150.
    expect(pairedRatio(samples, ['C', 'drain1'], ['B', 'drain1'])?.median).toBeCloseTo(0.7);
  });

  it('judges each target from the medians', () => {
    const list = checks(samples, summarizeAll(samples), [1_000, 3_000]);
    const verdict = Object.fromEntries(list.map((check) => [check.name, check.pass]));
    expect(verdict['worker runtime drain c=1 / bare BullMQ drain c=1']).toBe(false);
    expect(verdict['worker runtime drain c=10 / bare BullMQ drain c=10']).toBe(false);
    expect(verdict['worker runtime drain c=50 / bare BullMQ drain c=50']).toBe(true);
    expect(verdict['HTTP ingest -> handler / bare BullMQ producer+worker']).toBe(true);
    expect(verdict['Switchyard p99 publish -> handler start at 3000/s, HTTP (ms)']).toBe(false);
    expect(
      verdict['Switchyard p99 publish -> handler start at 3000/s, client (ms)'],
    ).toBeUndefined();
    expect(verdict['Switchyard worker peak RSS (MB)']).toBe(true);
    expect(verdict['Switchyard Redis bytes per waiting job']).toBe(true);
  });

  it('lists gaps over 1.2x in either direction only', () => {
    const found = gaps(summarizeAll(samples), 'B', 'D', [3_000]);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('worker drain c=50');
  });

  it('prints one row per measured metric and one column per tier', () => {
    const table = renderResultTable(summarizeAll(samples), [3_000]);
    expect(table.split('\n')[0]).toMatch(/B BullMQ +C Switchyard +D bee-queue$/);
    expect(table).toContain('worker drain c=50 (jobs/s)');
    expect(table).not.toContain('bulk add');
  });
});

describe('profile summary', () => {
  it('names the package a frame comes from', () => {
    expect(
      packageOf('file:///r/node_modules/.pnpm/pino@10.0.0/node_modules/pino/pino.js', 'write'),
    ).toBe('pino');
    expect(
      packageOf(
        'file:///r/node_modules/.pnpm/@pinojs+redact@1/node_modules/@pinojs/redact/index.js',
        'x',
      ),
    ).toBe('@pinojs/redact');
    expect(packageOf('file:///r/packages/runtime/dist/create-worker.js', 'processAttempt')).toBe(
      '@switchyard/runtime',
    );
    expect(packageOf('node:internal/streams', 'write')).toBe('node:internal');
    expect(packageOf('', '(garbage collector)')).toBe('(garbage collector)');
  });
});
