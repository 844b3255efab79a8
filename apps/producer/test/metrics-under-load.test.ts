/**
 * Metrics as operators scrape them: Redis, the sandbox, the producer and
 * worker-notifications run as processes from their dist/, a few hundred
 * events go in over HTTP, and both /metrics are parsed (Prometheus text
 * format 0.0.4) and checked against what was published and processed.
 * Needs builds first: `pnpm --filter @switchyard/producer... --filter
 * @switchyard/worker-notifications... build`.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  freePort,
  signedUpRequest,
  startApp,
  startRedis,
  startSandbox,
  waitFor,
  type AppProcess,
  type RedisHandle,
  type Sandbox,
} from '@switchyard/testkit';

const appPath = (app: string, path: string) =>
  fileURLToPath(new URL(`../../${app}/${path}`, import.meta.url));

const apiKey = randomBytes(24).toString('base64url');
const prefix = `m${randomBytes(4).toString('hex')}`;
/** 5 batches of 50 and 50 single publishes. */
const batches = 5;
const batchSize = 50;
const singles = 50;
const published = batches * batchSize + singles;
const invalid = 3;

let redis: RedisHandle;
let sandbox: Sandbox;
let producer: AppProcess;
let worker: AppProcess;
let producerText = '';
let workerText = '';
let producerSamples: Sample[] = [];
let workerSamples: Sample[] = [];
let producerTypes = new Map<string, string>();
let workerTypes = new Map<string, string>();

// ---- exposition parsing -------------------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses Prometheus text format 0.0.4: `# TYPE name type` lines into a map,
 * samples into name, labels (escapes \\ \" \n undone) and value (+Inf, -Inf,
 * NaN included, in any case). Throws on a line that is neither, so a malformed exposition
 * fails the test.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let consumed = 0;
    for (const label of labelText.matchAll(labelPattern)) {
      labels[label[1]!] = label[2]!.replace(/\\(["\\n])/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      );
      consumed += label[0].length;
    }
    if (consumed !== labelText.length) throw new Error(`bad labels: ${line}`);
    // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
    const raw = match[3]!.toLowerCase();
    const value = /^[+-]?inf$/.test(raw)
      ? raw.startsWith('-')
        ? -Infinity
        : Infinity
      : raw === 'nan'
        ? NaN
        : Number(raw);
    if (Number.isNaN(value) && raw !== 'nan') throw new Error(`bad value: ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  return { types, samples };
}

/** Samples of `name` whose labels include `labels`. */
function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The one sample of `name` matching `labels`; fails when there are none or several. */
function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = find(samples, name, labels);
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!.value;
}

/**
 * Checks one histogram series: buckets cumulative and non-decreasing by
 * `le`, the +Inf bucket equal to _count, _sum >= 0. Returns _count.
 */
function histogram(samples: Sample[], name: string, labels: Record<string, string>): number {
  const buckets = find(samples, `${name}_bucket`, labels)
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), value: s.value }))
    .sort((a, b) => a.le - b.le);
  expect(buckets.length, `${name} buckets`).toBeGreaterThan(1);
  for (let i = 1; i < buckets.length; i += 1) {
    expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
  }
  const count = one(samples, `${name}_count`, labels);
  expect(buckets.at(-1)).toEqual({ le: Infinity, value: count });
  expect(one(samples, `${name}_sum`, labels)).toBeGreaterThanOrEqual(0);
  return count;
}

// ---- the stack ------------------------------------------------------------

async function post(path: string, body: unknown): Promise<number> {
  const response = await fetch(`${producer.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.body?.cancel();
  return response.status;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

beforeAll(async () => {
  const producerEntry = appPath('producer', 'dist/main.js');
  const workerEntry = appPath('worker-notifications', 'dist/main.js');
  assertBuilt(
    producerEntry,
    appPath('producer', 'src'),
    'pnpm --filter @switchyard/producer build',
  );
  assertBuilt(
    workerEntry,
    appPath('worker-notifications', 'src'),
    'pnpm --filter @switchyard/worker-notifications build',
  );
  redis = await startRedis();
  sandbox = await startSandbox();
  const producerPort = await freePort();
  producer = await startApp({
    entry: producerEntry,
    env: {
      REDIS_URL: redis.url,
      PRODUCER_PORT: String(producerPort),
      API_KEYS: apiKey,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    },
    readyUrl: `http://127.0.0.1:${producerPort}/readyz`,
  });
  const healthPort = await freePort();
  worker = await startApp({
    entry: workerEntry,
    env: {
      REDIS_URL: redis.url,
      SANDBOX_URL: sandbox.url,
      HEALTH_PORT: String(healthPort),
      QUEUE_PREFIX: prefix,
      WORKER_ID: 'metrics-test-1',
      LOG_LEVEL: 'warn',
    },
    readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
  });

  // The load: batches and singles in parallel, a duplicate, invalid events, an unknown route.
  const statuses = await Promise.all([
    ...Array.from({ length: batches }, (_, b) =>
      post(
        '/v1/events/batch',
        Array.from({ length: batchSize }, (_, i) => signedUpRequest(`u_b${b}_${i}`)),
      ),
    ),
    ...Array.from({ length: singles }, (_, i) => post('/v1/events', signedUpRequest(`u_s${i}`))),
  ]);
  expect(statuses.every((status) => status === 202)).toBe(true);
  expect(await post('/v1/events', signedUpRequest('u_s0'))).toBe(202);
  for (let i = 0; i < invalid; i += 1) {
    expect(await post('/v1/events', { type: 'user.signed_up', version: 1, data: {} })).toBe(400);
  }
  expect(await post('/v1/no-such-route/123', {})).toBe(404);

  const loadedAt = performance.now();
  // Drained: the worker sent every welcome e-mail, once.
  await waitFor(
    async () =>
      (await sandbox.ledger()).filter((call) => call.service === 'email').length === published,
    { timeoutMs: 60_000, intervalMs: 250, message: `${published} e-mails in the sandbox ledger` },
  );
  // The completion is recorded just after the downstream call returns.
  await waitFor(
    async () =>
      one(parseExposition(await scrape(producer.url)).samples, 'sy_queue_jobs', {
        queue: 'notifications',
        state: 'completed',
      }) === published,
    { timeoutMs: 10_000, message: 'every notifications job completed' },
  );

  const drainedMs = performance.now() - loadedAt;

  const scrapeStarted = performance.now();
  producerText = await scrape(producer.url);
  const scrapeMs = performance.now() - scrapeStarted;
  console.info(
    `metrics under load: ${published} events drained by one worker ${Math.round(drainedMs)} ms ` +
      `after the last publish; producer /metrics (6 queues) scraped in ${Math.round(scrapeMs)} ms`,
  );
  workerText = await scrape(worker.url);
  ({ samples: producerSamples, types: producerTypes } = parseExposition(producerText));
  ({ samples: workerSamples, types: workerTypes } = parseExposition(workerText));
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await producer?.stop();
  await sandbox?.stop();
  await redis?.stop();
});

// ---- assertions ----------------------------------------------------------------

describe('metrics under load', () => {
  describe('producer /metrics', () => {
    it('declares every series with its type', () => {
      expect(Object.fromEntries(producerTypes)).toMatchObject({
        sy_http_request_duration_seconds: 'histogram',
        sy_http_requests_total: 'counter',
        sy_events_published_total: 'counter',
        sy_rate_limited_requests_total: 'counter',
        sy_queue_jobs: 'gauge',
        sy_queue_backlog: 'gauge',
        sy_queue_oldest_waiting_age_seconds: 'gauge',
        sy_queue_metrics_failures_total: 'counter',
        process_cpu_user_seconds_total: 'counter',
        process_resident_memory_bytes: 'gauge',
        nodejs_eventloop_lag_seconds: 'gauge',
      });
      // Every sample belongs to a declared family and carries the service label.
      for (const sample of producerSamples) {
        const family = sample.name.replace(/_(bucket|count|sum)$/, '');
        expect(producerTypes.has(sample.name) || producerTypes.has(family), sample.name).toBe(true);
        expect(sample.labels.service).toBe('producer');
      }
    });

    it('counts the published events by type and outcome', () => {
      const events = { type: 'user.signed_up' };
      expect(
        one(producerSamples, 'sy_events_published_total', { ...events, status: 'accepted' }),
      ).toBe(published);
      expect(
        one(producerSamples, 'sy_events_published_total', { ...events, status: 'duplicate' }),
      ).toBe(1);
      expect(
        one(producerSamples, 'sy_events_published_total', { ...events, status: 'rejected' }),
      ).toBe(invalid);
    });

    it('counts requests and their durations by route pattern and status, equal to what was sent', () => {
      const cases: [Record<string, string>, number][] = [
        [{ method: 'POST', route: '/v1/events/batch', status: '202' }, batches],
        [{ method: 'POST', route: '/v1/events', status: '202' }, singles + 1],
        [{ method: 'POST', route: '/v1/events', status: '400' }, invalid],
        [{ method: 'POST', route: 'unmatched', status: '404' }, 1],
      ];
      for (const [labels, sent] of cases) {
        expect(one(producerSamples, 'sy_http_requests_total', labels), JSON.stringify(labels)).toBe(
          sent,
        );
        expect(histogram(producerSamples, 'sy_http_request_duration_seconds', labels)).toBe(sent);
      }
      expect(producerText).not.toContain('no-such-route');
      expect(
        one(producerSamples, 'sy_http_request_duration_seconds_sum', {
          route: '/v1/events/batch',
          status: '202',
        }),
      ).toBeGreaterThan(0);
    });

    it('reports the queues: notifications drained and completed, provisioning (no worker) holding every event', () => {
      const jobs = (queue: string, state: string) =>
        one(producerSamples, 'sy_queue_jobs', { queue, state });
      expect(jobs('notifications', 'completed')).toBe(published);
      expect(jobs('notifications', 'waiting')).toBe(0);
      expect(jobs('notifications', 'active')).toBe(0);
      expect(jobs('notifications', 'failed')).toBe(0);
      expect(one(producerSamples, 'sy_queue_backlog', { queue: 'notifications' })).toBe(0);
      expect(
        one(producerSamples, 'sy_queue_oldest_waiting_age_seconds', { queue: 'notifications' }),
      ).toBe(0);

      expect(jobs('provisioning', 'waiting')).toBe(published);
      expect(one(producerSamples, 'sy_queue_backlog', { queue: 'provisioning' })).toBe(published);
      const age = one(producerSamples, 'sy_queue_oldest_waiting_age_seconds', {
        queue: 'provisioning',
      });
      expect(age).toBeGreaterThan(0);
      expect(age).toBeLessThan(120);

      // Every subscriber queue and DLQ, every state, once.
      const queues = new Set(find(producerSamples, 'sy_queue_jobs').map((s) => s.labels.queue));
      expect([...queues].sort()).toEqual([
        'billing',
        'billing.dlq',
        'notifications',
        'notifications.dlq',
        'provisioning',
        'provisioning.dlq',
      ]);
      expect(find(producerSamples, 'sy_queue_jobs')).toHaveLength(6 * 8);
      expect(one(producerSamples, 'sy_queue_metrics_failures_total')).toBe(0);
    });
  });

  describe('worker /metrics (worker-notifications)', () => {
    it('declares the worker series with their types', () => {
      expect(Object.fromEntries(workerTypes)).toMatchObject({
        sy_jobs_total: 'counter',
        sy_handler_duration_seconds: 'histogram',
        sy_time_in_queue_seconds: 'histogram',
        sy_job_attempts: 'histogram',
        sy_job_retries_total: 'counter',
        sy_job_timeouts_total: 'counter',
        sy_dead_letters_total: 'counter',
        sy_queue_jobs: 'gauge',
        sy_queue_backlog: 'gauge',
        sy_queue_oldest_waiting_age_seconds: 'gauge',
        process_cpu_user_seconds_total: 'counter',
        nodejs_eventloop_lag_seconds: 'gauge',
      });
      for (const sample of workerSamples) {
        expect(sample.labels.service, sample.name).toBe('worker-notifications');
      }
    });

    it('counts every processed job once, with a handler duration each', () => {
      const subscriber = { subscriber: 'notifications' };
      expect(one(workerSamples, 'sy_jobs_total', { ...subscriber, outcome: 'succeeded' })).toBe(
        published,
      );
      expect(find(workerSamples, 'sy_jobs_total', { outcome: 'failed' })).toEqual([]);
      expect(histogram(workerSamples, 'sy_handler_duration_seconds', subscriber)).toBe(published);
      expect(one(workerSamples, 'sy_handler_duration_seconds_sum', subscriber)).toBeGreaterThan(0);
      // Every job started once, on its first attempt, and succeeded with it.
      expect(histogram(workerSamples, 'sy_time_in_queue_seconds', subscriber)).toBe(published);
      expect(one(workerSamples, 'sy_time_in_queue_seconds_sum', subscriber)).toBeGreaterThan(0);
      expect(
        histogram(workerSamples, 'sy_job_attempts', { ...subscriber, result: 'succeeded' }),
      ).toBe(published);
      expect(
        one(workerSamples, 'sy_job_attempts_sum', { ...subscriber, result: 'succeeded' }),
      ).toBe(published);
      expect(find(workerSamples, 'sy_job_retries_total').every((s) => s.value === 0)).toBe(true);
      expect(find(workerSamples, 'sy_dead_letters_total').every((s) => s.value === 0)).toBe(true);
    });

    it('reports its own queue and DLQ, drained', () => {
      const queues = new Set(find(workerSamples, 'sy_queue_backlog').map((s) => s.labels.queue));
      expect([...queues].sort()).toEqual(['notifications', 'notifications.dlq']);
      expect(one(workerSamples, 'sy_queue_backlog', { queue: 'notifications' })).toBe(0);
      expect(
        one(workerSamples, 'sy_queue_jobs', { queue: 'notifications', state: 'completed' }),
      ).toBe(published);
      expect(
        one(workerSamples, 'sy_queue_oldest_waiting_age_seconds', { queue: 'notifications' }),
      ).toBeGreaterThanOrEqual(0);
    });

    it('reports its downstream’s breaker closed and declares the rate-limit wait series', () => {
      expect(workerTypes.get('sy_breaker_state')).toBe('gauge');
      expect(one(workerSamples, 'sy_breaker_state', { downstream: 'sandbox' })).toBe(0);
      expect(workerTypes.get('sy_breaker_transitions_total')).toBe('counter');
      // No downstream asked to wait: declared, no samples yet.
      expect(workerTypes.get('sy_rate_limit_waits_total')).toBe('counter');
      expect(workerTypes.get('sy_rate_limit_wait_seconds')).toBe('histogram');
      expect(find(workerSamples, 'sy_rate_limit_waits_total')).toEqual([]);
    });

    it('reads its queue figures on one kept connection, not a new one per scrape', async () => {
      for (let i = 0; i < 3; i += 1) await scrape(worker.url);
      const admin = new Redis(redis.url);
      try {
        const clients = ((await admin.call('CLIENT', 'LIST')) as string)
          .split('\n')
          .filter((line) => line.includes(' name=sy-queue-metrics '));
        expect(clients).toHaveLength(1);
        const totalConnections = Number(
          /total_connections_received:(\d+)/.exec(await admin.info('stats'))?.[1],
        );
        for (let i = 0; i < 3; i += 1) await scrape(worker.url);
        const after = Number(
          /total_connections_received:(\d+)/.exec(await admin.info('stats'))?.[1],
        );
        // Three more scrapes open no connection (the admin's own INFO calls reuse one).
        expect(after).toBe(totalConnections);
      } finally {
        admin.disconnect();
      }
    });
  });
});
