/**
 * Queue metrics against a real Redis: the figures per state, backlog and
 * oldest waiting age that BullMQ's own data gives, one pipeline per scrape,
 * and a bounded scrape when Redis hangs or is gone. The registry here is a
 * stand-in that keeps what is registered (the client does not depend on
 * prom-client); the producer's tests scrape them through a real one.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  randomPrefix,
  startRedis,
  unlinkPrefix,
  waitFor,
  waitReady,
  type RedisHandle,
} from '@switchyard/testkit';
import {
  BacklogGate,
  QueueMetricsTimeoutError,
  registerQueueMetrics,
  type MetricsRegistryLike,
  type QueueMetricsOptions,
} from '../src/index.js';

interface Series {
  name: string;
  type: string;
  values: { labels: Record<string, string>; value: number }[];
}
interface Registered {
  name: string;
  get(): Promise<Series>;
}

/** Keeps what is registered; scrape() reads every series at once, as prom-client's metrics() does. */
function stubRegistry() {
  const metrics: Registered[] = [];
  const registry: MetricsRegistryLike & { scrape(): Promise<Series[]> } = {
    registerMetric(metric: Registered) {
      metrics.push(metric);
    },
    scrape: () => Promise.all(metrics.map((metric) => metric.get())),
  };
  return { registry, metrics };
}

function valueOf(
  series: Series[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return series
    .find((s) => s.name === name)
    ?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value;
}

let server: RedisHandle;
let admin: Redis;
let prefix: string;
const opened: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  await waitReady(admin);
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((item) => item.close()));
  await unlinkPrefix(admin, prefix);
});

function queue(name: string): Queue {
  const q = new Queue(name, { connection: admin, prefix });
  opened.push(q);
  return q;
}

function register(options: Partial<QueueMetricsOptions> & { queues: readonly string[] }) {
  const { registry, metrics } = stubRegistry();
  registerQueueMetrics(registry, { connection: admin, prefix, ...options });
  return { registry, metrics };
}

describe('queue metrics', () => {
  describe('when a queue holds jobs in every state', () => {
    it('reports each state, the backlog and the oldest waiting age', async () => {
      prefix = randomPrefix();
      const q = queue('work');
      // Two finished jobs first: one completes, one fails for good.
      const worker = new Worker(
        'work',
        (job) => (job.name === 'bad' ? Promise.reject(new Error('no')) : Promise.resolve('ok')),
        { connection: { host: server.host, port: server.port }, prefix },
      );
      opened.push(worker);
      await q.add('good', {});
      await q.add('bad', {}, { attempts: 1 });
      await waitFor(
        async () => (await q.getCompletedCount()) === 1 && (await q.getFailedCount()) === 1,
        {
          timeoutMs: 10_000,
        },
      );
      await worker.close();
      const firstWaitingAt = Date.now();
      await q.add('w1', {});
      await q.add('w2', {});
      await q.add('p', {}, { priority: 2 });
      await q.add('soon', {}, { delay: 30_000 });
      await q.add('later', {}, { delay: 120_000 });
      const now = Date.now() + 60_000;
      const { registry } = register({ queues: ['work'], now: () => now });

      const series = await registry.scrape();

      const state = (s: string) => valueOf(series, 'sy_queue_jobs', { queue: 'work', state: s });
      expect(state('waiting')).toBe(2);
      expect(state('prioritized')).toBe(1);
      expect(state('delayed')).toBe(2);
      expect(state('completed')).toBe(1);
      expect(state('failed')).toBe(1);
      expect(state('active')).toBe(0);
      expect(state('paused')).toBe(0);
      expect(state('waiting-children')).toBe(0);
      // 2 waiting + 1 prioritized + the delayed job due by `now` (not the later one).
      expect(valueOf(series, 'sy_queue_backlog', { queue: 'work' })).toBe(4);
      const age = valueOf(series, 'sy_queue_oldest_waiting_age_seconds', { queue: 'work' })!;
      expect(age).toBeGreaterThanOrEqual(59);
      expect(age).toBeLessThanOrEqual((now - firstWaitingAt) / 1_000 + 0.001);
      expect(series.map((s) => [s.name, s.type])).toEqual([
        ['sy_queue_jobs', 'gauge'],
        ['sy_queue_backlog', 'gauge'],
        ['sy_queue_oldest_waiting_age_seconds', 'gauge'],
        ['sy_queue_metrics_failures_total', 'counter'],
      ]);
    });

    it('gives the same backlog as the producer’s BacklogGate', async () => {
      prefix = randomPrefix();
      const q = queue('gate');
      await q.add('a', {});
      await q.add('b', {}, { priority: 1 });
      await q.add('c', {}, { delay: 1 });
      await q.add('d', {}, { delay: 600_000 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const now = Date.now();
      const gate = new BacklogGate({
        connection: admin,
        prefix,
        limit: 0,
        limits: {},
        intervalMs: 0,
        retryAfterSeconds: 1,
        now: () => now,
      });
      const { registry } = register({ queues: ['gate'], now: () => now });

      const refusal = (await gate.refusals(['gate'])).get('gate');
      const series = await registry.scrape();

      expect(refusal?.details.backlog).toBe(3);
      expect(valueOf(series, 'sy_queue_backlog', { queue: 'gate' })).toBe(3);
    });
  });

  describe('when a queue is paused (as every DLQ is)', () => {
    it('reports its wait list as paused, still in the backlog', async () => {
      prefix = randomPrefix();
      const q = queue('held.dlq');
      await q.pause();
      await q.add('x', {});
      await q.add('y', {});
      const { registry } = register({ queues: ['held.dlq'] });

      const series = await registry.scrape();

      expect(valueOf(series, 'sy_queue_jobs', { queue: 'held.dlq', state: 'paused' })).toBe(2);
      expect(valueOf(series, 'sy_queue_jobs', { queue: 'held.dlq', state: 'waiting' })).toBe(0);
      expect(valueOf(series, 'sy_queue_backlog', { queue: 'held.dlq' })).toBe(2);
    });
  });

  describe('when no job waits', () => {
    it('reports zeros, age included', async () => {
      prefix = randomPrefix();
      const { registry } = register({ queues: ['empty'] });

      const series = await registry.scrape();

      expect(valueOf(series, 'sy_queue_oldest_waiting_age_seconds', { queue: 'empty' })).toBe(0);
      expect(valueOf(series, 'sy_queue_backlog', { queue: 'empty' })).toBe(0);
      expect(series[0]!.values).toHaveLength(8);
    });
  });

  describe('cost of a scrape', () => {
    it('reads all series of all queues in one round of commands, not one per series', async () => {
      prefix = randomPrefix();
      const { registry } = register({ queues: ['a', 'b', 'c'] });
      await queue('a').add('x', {});
      await admin.config('RESETSTAT');

      await registry.scrape();

      const stats = await admin.info('commandstats');
      const calls = (command: string) =>
        Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      // wait + active per queue; four series share the one read.
      expect(calls('llen')).toBe(6);
      expect(calls('hexists')).toBe(3);
      // The wait list's tail per queue, then its job's timestamp where one waits
      // (a second pipeline: the key is named by the job id; no script).
      expect(calls('lindex')).toBe(3);
      expect(calls('hget')).toBe(1);
      expect(calls('eval') + calls('evalsha')).toBe(0);
    });

    it('adds a second registration’s queues to the same series, each queue once', async () => {
      prefix = randomPrefix();
      const { registry, metrics } = stubRegistry();
      registerQueueMetrics(registry, { connection: admin, prefix, queues: ['a'] });
      const remove = registerQueueMetrics(registry, {
        connection: admin,
        prefix,
        queues: ['a', 'b'],
      });

      const queuesOf = async () =>
        (await registry.scrape())[1]!.values.map((value) => value.labels.queue);

      expect(metrics).toHaveLength(4);
      expect(await queuesOf()).toEqual(['a', 'b']);
      remove();
      expect(await queuesOf()).toEqual(['a']);
    });
  });

  describe('when given a URL instead of a connection', () => {
    it('connects for the scrape and leaves no connection open', async () => {
      prefix = randomPrefix();
      await queue('byurl').add('x', {});
      const { registry } = register({ connection: server.url, queues: ['byurl'] });

      const series = await registry.scrape();

      expect(valueOf(series, 'sy_queue_backlog', { queue: 'byurl' })).toBe(1);
      await waitFor(
        async () => !String(await admin.call('CLIENT', 'LIST')).includes('sy-queue-metrics'),
        {
          timeoutMs: 2_000,
          message: 'the scrape connection to close',
        },
      );
    });

    it('fails fast when nothing listens there, and counts the failure', async () => {
      prefix = randomPrefix();
      const errors: Error[] = [];
      const { registry } = register({
        connection: `redis://127.0.0.1:${await freePort()}`,
        queues: ['nowhere'],
        onError: (error) => errors.push(error),
      });

      const started = performance.now();
      const series = await registry.scrape();

      expect(performance.now() - started).toBeLessThan(1_500);
      expect(series[0]!.values).toEqual([]);
      expect(valueOf(series, 'sy_queue_metrics_failures_total', {})).toBe(1);
      expect(errors).toHaveLength(1);
    });
  });

  describe('when Redis hangs', () => {
    it('answers within timeoutMs with no queue series and counts the failure', async () => {
      prefix = randomPrefix();
      const errors: Error[] = [];
      const { registry } = register({
        queues: ['stuck'],
        timeoutMs: 300,
        onError: (error) => errors.push(error),
      });
      const pauser = admin.duplicate();
      opened.push({ close: () => pauser.quit() });
      await pauser.client('PAUSE', 2_000, 'ALL');

      const started = performance.now();
      const series = await registry.scrape();
      const tookMs = performance.now() - started;

      // Bounded by the 300 ms cap, not the 2 s pause (generous margin for a busy machine).
      expect(tookMs).toBeLessThan(1_500);
      expect(series.slice(0, 3).map((s) => s.values)).toEqual([[], [], []]);
      expect(valueOf(series, 'sy_queue_metrics_failures_total', {})).toBe(1);
      expect(errors[0]).toBeInstanceOf(QueueMetricsTimeoutError);
      // Let the pause run out before the next test's cleanup.
      await waitFor(async () => (await admin.ping()) === 'PONG', { timeoutMs: 5_000 });
    });
  });
});
