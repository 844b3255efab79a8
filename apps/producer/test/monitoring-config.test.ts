/**
 * infra/monitoring stays true to the code: the Grafana dashboard parses,
 * every metric its queries name is one the processes register, and the
 * Prometheus scrape config lists the ports `npm start` gives the producer and
 * every worker replica (apps/stack: 3100 + 100 * i + (r - 1)).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '@switchyard/observability';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const monitoring = join(root, 'infra/monitoring');

/** Where our own series are registered (names appear there as string literals). */
const sourceDirs = [
  'apps/producer/src',
  'packages/client/src',
  'packages/runtime/src',
  'packages/observability/src',
];

function sourceText(): string {
  const read = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? read(join(dir, entry.name))
        : entry.name.endsWith('.ts')
          ? [readFileSync(join(dir, entry.name), 'utf8')]
          : [],
    );
  return sourceDirs.flatMap((dir) => read(join(root, dir))).join('\n');
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(join(monitoring, 'grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; definition?: string; current?: { value: unknown } }[] };
};

/** Metric names in a PromQL expression, histogram suffixes removed. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:sy|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) =>
    m[1]!.replace(/_(bucket|sum|count)$/, ''),
  );
}

describe('infra/monitoring', () => {
  describe('grafana-dashboard.json', () => {
    const exprs = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.flatMap((variable) => variable.definition ?? []),
    ];
    const names = [...new Set(exprs.flatMap(metricNames))].sort();

    it('has the panels operators look for, each with a query and a unique id', () => {
      const titles = dashboard.panels.filter((p) => p.type !== 'row').map((p) => p.title);
      expect(titles).toEqual(
        expect.arrayContaining([
          'Backlog',
          'Oldest waiting job age',
          'Jobs by state',
          'Throughput by outcome',
          'Handler duration p50 / p99',
          'Dead-letter moves',
          'Circuit breakers',
          'Rate-limit waits',
          'HTTP request duration p99',
          'HTTP 4xx / 5xx',
        ]),
      );
      const ids = dashboard.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
        expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
        expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
        expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      }
    });

    it('names only sy_* series that the code registers', () => {
      const source = sourceText();
      const ours = names.filter((name) => name.startsWith('sy_'));
      expect(ours.length).toBeGreaterThan(10);
      const missing = ours.filter((name) => !source.includes(`'${name}'`));
      expect(missing, 'metric names in the dashboard that no source registers').toEqual([]);
    });

    it('names only process metrics that the metrics registry collects', async () => {
      const registry = createMetricsRegistry({ service: 'check' });
      const collected = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
      const processNames = names.filter((name) => !name.startsWith('sy_'));
      expect(processNames.filter((name) => !collected.has(name))).toEqual([]);
    });

    it('defaults to the provisioned datasource', () => {
      const provisioned = readFileSync(
        join(monitoring, 'grafana/provisioning/datasources/prometheus.yml'),
        'utf8',
      );
      const uid = /^\s*uid: (\S+)$/m.exec(provisioned)?.[1];
      const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
      expect(uid).toBe('switchyard-prometheus');
      expect(variable?.current?.value).toBe(uid);
      expect(existsSync(join(monitoring, 'grafana/provisioning/dashboards/switchyard.yml'))).toBe(
        true,
      );
    });
  });

  describe('prometheus.yml', () => {
    const config = readFileSync(join(monitoring, 'prometheus.yml'), 'utf8');
    /** host:port targets of the jobs that are on (commented lines left out). */
    const targets = config
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .flatMap((line) => [...line.matchAll(/'127\.0\.0\.1:(\d+)'/g)].map((m) => Number(m[1])));

    it('scrapes the producer and every replica of every worker app at the ports npm start gives them', () => {
      const workerApps = readdirSync(join(root, 'apps'), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && entry.name.startsWith('worker-'))
        .filter((entry) => existsSync(join(root, 'apps', entry.name, 'package.json')))
        .map((entry) => entry.name)
        .sort();
      const replicas = 2;
      const expected = [
        3000,
        ...workerApps.flatMap((_, i) =>
          Array.from({ length: replicas }, (_, r) => 3100 + 100 * i + r),
        ),
      ];

      expect(workerApps.length).toBeGreaterThan(0);
      expect([...targets].sort((a, b) => a - b)).toEqual(expected);
      for (const [i, app] of workerApps.entries()) {
        expect(config).toContain(`'127.0.0.1:${3100 + 100 * i}'`);
        expect(config).toMatch(
          new RegExp(`${3100 + 100 * i}'.*\\n\\s*labels: \\{ app: ${app} \\}`),
        );
      }
    });
  });
});
