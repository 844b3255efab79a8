/**
 * The log stream of one event's whole journey: the producer's HTTP request,
 * the fan-out, each subscriber worker's attempts (a downstream outage makes
 * the first ones fail) and every downstream call, with every app running
 * from dist as its own process at LOG_LEVEL=debug. Every line about the
 * event carries the event's correlationId, and no output of any process
 * holds an e-mail address or the API key.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startApp,
  startRedis,
  startSandbox,
  waitFor,
  type AppProcess,
  type RedisHandle,
  type Sandbox,
} from '@switchyard/testkit';
import { appEntry } from './helpers/app-entry.js';

const apiKey = `sk_${randomBytes(24).toString('hex')}`;
const prefix = `lc${randomBytes(4).toString('hex')}`;
const correlationId = `journey-${randomBytes(6).toString('hex')}`;
const email = `grace.hopper.${randomBytes(3).toString('hex')}@example.org`;
/** Anything shaped like an e-mail address. */
const emailPattern = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
const workers = ['worker-notifications', 'worker-provisioning'] as const;

let redis: RedisHandle;
let sandbox: Sandbox;
let producer: AppProcess;
const workerApps = new Map<string, AppProcess>();
let producerUrl = '';
let eventId = '';
let exitCodes: (number | null)[] = [];

type Line = Record<string, unknown>;

function parse(app: AppProcess): { lines: Line[]; other: string[] } {
  const lines: Line[] = [];
  const other: string[] = [];
  for (const text of app.output().split('\n')) {
    if (text.trim() === '') continue;
    try {
      lines.push(JSON.parse(text) as Line);
    } catch {
      other.push(text);
    }
  }
  return { lines, other };
}

const mentions = (line: Line, value: string) => JSON.stringify(line).includes(value);

beforeAll(async () => {
  redis = await startRedis();
  sandbox = await startSandbox({ logLevel: 'debug' });
  const common = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'debug' };
  const producerPort = await freePort();
  producerUrl = `http://127.0.0.1:${producerPort}`;
  producer = await startApp({
    entry: appEntry('producer'),
    env: { ...common, PRODUCER_PORT: String(producerPort), API_KEYS: apiKey },
    readyUrl: `${producerUrl}/readyz`,
  });
  for (const worker of workers) {
    const healthPort = await freePort();
    workerApps.set(
      worker,
      await startApp({
        entry: appEntry(worker),
        env: {
          ...common,
          SANDBOX_URL: sandbox.url,
          HEALTH_PORT: String(healthPort),
          WORKER_ID: `${worker}-lc`,
        },
        readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
      }),
    );
  }

  // The first attempts meet an outage, so the journey holds failures and retries too.
  await sandbox.control({ downForMs: 1_000 });
  const response = await fetch(`${producerUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'user.signed_up',
      version: 1,
      correlationId,
      data: { userId: 'u_journey', email, plan: 'pro' },
    }),
  });
  expect(response.status).toBe(202);
  ({ eventId } = (await response.json()) as { eventId: string });
  await waitFor(
    async () => {
      const calls = await sandbox.ledger();
      return calls.length === 2 ? calls : undefined;
    },
    { timeoutMs: 30_000, message: 'the e-mail and workspace calls in the sandbox ledger' },
  );
  await waitFor(
    () =>
      [...workerApps.values()].every((app) =>
        parse(app).lines.some((l) => l.eventId === eventId && l.msg === 'job succeeded'),
      ),
    { timeoutMs: 10_000, message: 'both workers logged the success' },
  );
  // Stopped, so every line is written; their shutdown lines are captured too.
  exitCodes = await Promise.all(
    [producer, ...workerApps.values()].map((app) => app.stop('SIGTERM', 15_000)),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([producer, ...workerApps.values()].map((app) => app?.stop()));
  await sandbox?.stop();
  await redis?.stop();
}, 30_000);

describe("one event's log stream", () => {
  it('is JSON lines only, from processes that exited cleanly', () => {
    expect(exitCodes).toEqual([0, 0, 0]);
    for (const app of [producer, ...workerApps.values()]) {
      expect(parse(app).other).toEqual([]);
    }
  });

  it("carries the correlationId on every producer line of the event's request", () => {
    const { lines } = parse(producer);
    const published = lines.find((l) => l.msg === 'event published' && l.eventId === eventId);
    expect(published).toMatchObject({ correlationId, eventId, eventType: 'user.signed_up' });
    const request = lines.filter(
      (l) => l.reqId === published!.reqId || mentions(l, eventId) || mentions(l, correlationId),
    );
    // fastify's own request lines are off: the producer writes one
    // `request completed` line per request, after the answer.
    expect(request.map((l) => l.msg)).toEqual(['event published', 'request completed']);
    expect(request[1]).toMatchObject({ method: 'POST', route: '/v1/events', statusCode: 202 });
    for (const line of request) {
      expect(line, String(line.msg)).toMatchObject({ correlationId, eventId });
    }
  });

  it('carries the correlationId on every worker line about the event, downstream calls included', () => {
    for (const [worker, app] of workerApps) {
      const { lines } = parse(app);
      const about = lines.filter(
        (l) =>
          l.eventId === eventId ||
          l.jobId === eventId ||
          mentions(l, eventId) ||
          mentions(l, correlationId) ||
          typeof l.attempt === 'number',
      );
      const messages = about.map((l) => l.msg);
      expect(messages, worker).toEqual(
        expect.arrayContaining(['job received', 'downstream call', 'job succeeded']),
      );
      // The outage's answer was logged as a warning (rate limited or failed attempt).
      expect(
        about.some((l) => l.level === 40),
        worker,
      ).toBe(true);
      expect(messages.filter((m) => m === 'job received').length, worker).toBeGreaterThanOrEqual(2);
      for (const line of about) {
        expect(line, `${worker}: ${String(line.msg)}`).toMatchObject({
          correlationId,
          eventId,
          eventType: 'user.signed_up',
        });
        expect(typeof line.attempt, `${worker}: ${String(line.msg)}`).toBe('number');
      }
      // Every downstream call of the journey was logged inside it.
      const calls = about.filter((l) => l.msg === 'downstream call');
      expect(calls.map((l) => l.status)).toContain(201);
      expect(
        calls.some((l) => l.status === 503),
        worker,
      ).toBe(true);
    }
  });

  it('holds no e-mail address and no API key in any output', () => {
    for (const app of [producer, ...workerApps.values(), sandbox.app]) {
      const output = app.output();
      expect(output.length).toBeGreaterThan(0);
      expect(output).not.toContain(email);
      expect(output.match(emailPattern)?.[0]).toBeUndefined();
      expect(output).not.toContain(apiKey);
    }
  });
});
