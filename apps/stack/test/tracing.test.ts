/**
 * Traces across processes: the producer and a worker run from dist as
 * processes, exporting OTLP/HTTP to a receiver in this test; one event
 * published with a W3C traceparent must yield one trace
 * HTTP -> enqueue -> process -> downstream, its traceparent must reach the
 * downstream, and its log lines and dead-letter records must carry the
 * trace id. With no endpoint configured, no SDK module is loaded, jobs carry
 * no trace context and log lines no trace id.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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
import { startHeaderRecorder, type HeaderRecorder } from './helpers/header-recorder.js';
import {
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from './helpers/otlp-receiver.js';
import { appEntry } from './helpers/app-entry.js';

const moduleRecorder = pathToFileURL(
  fileURLToPath(new URL('./helpers/record-modules.mjs', import.meta.url)),
).href;

const apiKey = randomBytes(24).toString('base64url');
const sdkModule = /@opentelemetry\/(sdk-trace|exporter-trace|resources|otlp-)/;

/** OTLP span kinds. */
const kind = { server: 2, client: 3, producer: 4, consumer: 5 } as const;

let redis: RedisHandle;
let sandbox: Sandbox;
let recorder: HeaderRecorder;
let receiver: OtlpReceiver;
let moduleLogs: string;

beforeAll(async () => {
  redis = await startRedis();
  sandbox = await startSandbox();
  recorder = await startHeaderRecorder(sandbox.url);
  receiver = await startOtlpReceiver();
  moduleLogs = mkdtempSync(join(tmpdir(), 'sy-modules-'));
}, 60_000);

afterAll(async () => {
  await recorder?.close();
  await receiver?.close();
  await sandbox?.stop();
  await redis?.stop();
  if (moduleLogs) rmSync(moduleLogs, { recursive: true, force: true });
}, 30_000);

/** Producer and worker-notifications as processes; `otel` is added to both environments. */
async function startPair(prefix: string, otel: Record<string, string>, tag: string) {
  const common = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'info',
    NODE_OPTIONS: `--import=${moduleRecorder}`,
    ...otel,
  };
  const producerPort = await freePort();
  const producerUrl = `http://127.0.0.1:${producerPort}`;
  const apps: AppProcess[] = [];
  try {
    apps.push(
      await startApp({
        entry: appEntry('producer'),
        env: {
          ...common,
          PRODUCER_PORT: String(producerPort),
          API_KEYS: apiKey,
          SY_TEST_MODULE_LOG: join(moduleLogs, `producer-${tag}.log`),
        },
        readyUrl: `${producerUrl}/readyz`,
      }),
    );
    const healthPort = await freePort();
    apps.push(
      await startApp({
        entry: appEntry('worker-notifications'),
        env: {
          ...common,
          SANDBOX_URL: recorder.url,
          HEALTH_PORT: String(healthPort),
          WORKER_ID: `notifications-${tag}`,
          SY_TEST_MODULE_LOG: join(moduleLogs, `worker-${tag}.log`),
        },
        readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
      }),
    );
  } catch (error) {
    await Promise.all(apps.map((app) => app.stop()));
    throw error;
  }
  const [producer, worker] = apps as [AppProcess, AppProcess];
  return { producer, worker, producerUrl };
}

async function publish(producerUrl: string, body: object, traceparent: string) {
  const response = await fetch(`${producerUrl}/v1/events`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      traceparent,
    },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as { eventId: string; idempotencyKey: string };
}

/** The JSON lines of a process's output (other lines are skipped). */
function jsonLines(app: AppProcess): Record<string, unknown>[] {
  return app
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function modulesLoaded(file: string): string[] {
  try {
    return readFileSync(join(moduleLogs, file), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function jobOpts(prefix: string, queue: string, jobId: string) {
  const q = new Queue(queue, { connection: { url: redis.url }, prefix });
  try {
    return (await q.getJob(jobId))?.opts;
  } finally {
    await q.close();
  }
}

describe('with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  const prefix = `tr${randomBytes(4).toString('hex')}`;
  const traceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  let pair: Awaited<ReturnType<typeof startPair>>;
  let eventId = '';
  let trace: Map<string, ReceivedSpan>;

  beforeAll(async () => {
    pair = await startPair(
      prefix,
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
      'on',
    );
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all([pair?.producer.stop(), pair?.worker.stop()]);
    expect(codes).toEqual([0, 0]);
  }, 30_000);

  it('links HTTP -> enqueue -> process -> downstream in one trace across both services', async () => {
    ({ eventId } = await publish(
      pair.producerUrl,
      signedUpRequest('u_trace_on'),
      `00-${traceId}-${callerSpanId}-01`,
    ));
    trace = await waitFor(
      () => {
        const spans = receiver.spans.filter((span) => span.traceId === traceId);
        const names = new Set(spans.map((span) => span.name));
        return names.has('POST /v1/events') &&
          names.has('process notifications') &&
          names.has('POST /email')
          ? new Map(spans.map((span) => [span.spanId, span]))
          : undefined;
      },
      { timeoutMs: 20_000, message: 'server, consumer and client spans of the trace' },
    );
    const spans = [...trace.values()];
    const one = (name: string) => {
      const found = spans.filter((span) => span.name === name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    const server = one('POST /v1/events');
    const bulk = one('addBulkFlows');
    const enqueue = one('addNode notifications');
    const process = one('process notifications');
    const downstream = one('POST /email');

    expect(server).toMatchObject({
      service: 'producer',
      kind: kind.server,
      parentSpanId: callerSpanId,
      attributes: { 'http.route': '/v1/events', 'http.response.status_code': 202 },
    });
    expect(bulk).toMatchObject({
      service: 'producer',
      kind: kind.producer,
      parentSpanId: server.spanId,
    });
    expect(enqueue).toMatchObject({
      service: 'producer',
      kind: kind.producer,
      parentSpanId: bulk.spanId,
      attributes: { 'bullmq.job.id': eventId },
    });
    // The fan-out to the other subscriber is in the same trace.
    expect(one('addNode provisioning').parentSpanId).toBe(bulk.spanId);
    expect(process).toMatchObject({
      service: 'worker-notifications',
      kind: kind.consumer,
      parentSpanId: enqueue.spanId,
      attributes: { 'bullmq.job.id': eventId },
    });
    expect(downstream).toMatchObject({
      service: 'worker-notifications',
      kind: kind.client,
      parentSpanId: process.spanId,
      attributes: { 'http.request.method': 'POST', 'http.response.status_code': 201 },
    });
  });

  it('sends the client span as traceparent to the downstream', () => {
    const downstream = [...trace.values()].find((span) => span.name === 'POST /email')!;
    const calls = recorder.requests.filter(
      (request) =>
        request.path === '/email' && String(request.headers.traceparent ?? '').includes(traceId),
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.traceparent).toBe(`00-${traceId}-${downstream.spanId}-01`);
  });

  it("puts the trace id on the event's log lines in both services", async () => {
    await waitFor(
      () => jsonLines(pair.worker).some((l) => l.eventId === eventId && l.msg === 'job succeeded'),
      { timeoutMs: 10_000, message: 'the worker logged the job' },
    );
    const workerLines = jsonLines(pair.worker).filter((line) => line.eventId === eventId);
    // At info a job logs its outcome ('job received' is at debug).
    expect(workerLines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['downstream call', 'job succeeded']),
    );
    for (const line of workerLines) expect(line, String(line.msg)).toMatchObject({ traceId });
    const published = jsonLines(pair.producer).find(
      (line) => line.msg === 'event published' && line.eventId === eventId,
    );
    expect(published).toMatchObject({ traceId });
    // Lines outside any span carry none.
    const started = jsonLines(pair.worker).find((line) => line.msg === 'worker started');
    expect(started).toBeDefined();
    expect(started).not.toHaveProperty('traceId');
  });

  it('stores the trace context in the jobs it enqueues', async () => {
    const opts = await jobOpts(prefix, 'provisioning', eventId);
    expect(opts?.telemetry?.metadata).toContain(traceId);
  });

  it('puts the trace id of the failing attempt on the dead-letter record', async () => {
    const queue = new Queue('notifications', { connection: { url: redis.url }, prefix });
    const dlq = new Queue('notifications.dlq', { connection: { url: redis.url }, prefix });
    try {
      await queue.add('user.signed_up', { not: 'an envelope' }, { jobId: 'broken-1' });
      const record = await waitFor(
        async () => (await dlq.getJob('broken-1'))?.data as Record<string, unknown> | undefined,
        { timeoutMs: 15_000, message: 'the broken job in the DLQ' },
      );
      expect(record.reason).toBe('schema_invalid');
      expect(record.traceId).toMatch(/^[0-9a-f]{32}$/);
      const processed = await waitFor(
        () =>
          receiver.spans.find(
            (span) =>
              span.name === 'process notifications' &&
              span.attributes['bullmq.job.id'] === 'broken-1',
          ),
        { timeoutMs: 10_000, message: 'the process span of the broken job' },
      );
      expect(record.traceId).toBe(processed.traceId);
    } finally {
      await queue.close();
      await dlq.close();
    }
  });

  it('loads the SDK (the control for the test with tracing off)', () => {
    expect(modulesLoaded('producer-on.log').some((url) => sdkModule.test(url))).toBe(true);
    expect(modulesLoaded('worker-on.log').some((url) => sdkModule.test(url))).toBe(true);
  });
});

describe('without an OTLP endpoint', () => {
  const prefix = `tr${randomBytes(4).toString('hex')}`;
  const traceId = randomBytes(16).toString('hex');
  let pair: Awaited<ReturnType<typeof startPair>>;

  beforeAll(async () => {
    pair = await startPair(prefix, {}, 'off');
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all([pair?.producer.stop(), pair?.worker.stop()]);
    expect(codes).toEqual([0, 0]);
  }, 30_000);

  it('loads no SDK, writes no trace context and no trace ids, exports nothing', async () => {
    const before = receiver.requests();
    const { eventId, idempotencyKey } = await publish(
      pair.producerUrl,
      signedUpRequest('u_trace_off'),
      `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    );
    await waitFor(
      async () => (await sandbox.ledger()).some((call) => call.idempotencyKey === idempotencyKey),
      { timeoutMs: 20_000, message: 'the e-mail call in the sandbox ledger' },
    );
    await waitFor(
      () => jsonLines(pair.worker).some((l) => l.eventId === eventId && l.msg === 'job succeeded'),
      { timeoutMs: 10_000, message: 'the worker logged the job' },
    );

    // The recorder saw the apps' modules, and none of the SDK's.
    for (const file of ['producer-off.log', 'worker-off.log']) {
      const urls = modulesLoaded(file);
      expect(
        urls.some((url) => url.includes('/bullmq/')),
        file,
      ).toBe(true);
      expect(
        urls.filter((url) => sdkModule.test(url)),
        file,
      ).toEqual([]);
    }
    expect((await jobOpts(prefix, 'provisioning', eventId))?.telemetry).toBeUndefined();
    const call = recorder.requests.find(
      (request) =>
        request.path === '/email' && request.headers['idempotency-key'] === idempotencyKey,
    );
    expect(call).toBeDefined();
    expect(call!.headers).not.toHaveProperty('traceparent');
    for (const app of [pair.producer, pair.worker]) {
      for (const line of jsonLines(app)) expect(line).not.toHaveProperty('traceId');
    }
    expect(receiver.spans.filter((span) => span.traceId === traceId)).toEqual([]);
    // The traced pair was stopped (flushed) before this pair started.
    expect(receiver.requests()).toBe(before);
  });
});
