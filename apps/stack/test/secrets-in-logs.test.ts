/**
 * Known secrets and e-mail addresses, seeded into a run of the producer, two
 * workers, the dashboard and the sandbox (each its own process, from dist,
 * at LOG_LEVEL=debug, output captured whole), appear zero times in any of
 * their output.
 *
 * Seeded secrets: the API key (used, and also a wrong key), the dashboard
 * password (right and wrong, plain and in its Basic form), the Redis
 * password (in REDIS_URL: an ACL user of the suite's own Redis). Seeded
 * e-mail addresses, one per path an event can take: an accepted event's
 * `data.email`; a free-text field (`reason`); the caller's correlationId
 * and Idempotency-Key (visible ASCII, so an address is a legal value); an
 * event the producer refuses (400) and one a wrong key sends (401); a job
 * that fails the worker's schema check and goes to the DLQ; a dashboard
 * search for an address.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
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

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const apiKey = `sk_live_${hex(20)}`;
const wrongApiKey = `sk_wrong_${hex(20)}`;
const dashboardUser = 'ops';
const dashboardPassword = `dpw-${hex(12)}`;
const wrongDashboardPassword = `dpw-wrong-${hex(12)}`;
const redisUser = 'sy-app';
const redisPassword = `rpw${hex(16)}`;
const prefix = `sl${hex(4)}`;
const tag = hex(3);
/** One address per path; each must appear zero times. */
const emails = {
  accepted: `ada.accepted.${tag}@example.com`,
  freeText: `grace.reason.${tag}@example.org`,
  correlationId: `linus.corr.${tag}@example.net`,
  idempotencyKey: `ken.idem.${tag}@example.com`,
  refused: `barbara.refused.${tag}@example.com`,
  unauthorized: `dennis.unauth.${tag}@example.com`,
  deadLettered: `margaret.dlq.${tag}@example.com`,
  searched: `edsger.search.${tag}@example.com`,
};
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const secrets = {
  apiKey,
  wrongApiKey,
  dashboardPassword,
  wrongDashboardPassword,
  dashboardBasic: basic(dashboardUser, dashboardPassword).slice(6),
  wrongDashboardBasic: basic(dashboardUser, wrongDashboardPassword).slice(6),
  redisPassword,
};
/** Anything shaped like an e-mail address. */
const emailPattern = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
/** Output kept per process: far more than a run writes, so nothing is dropped. */
const outputLimitBytes = 32 * 1_048_576;

let redis: RedisHandle;
let admin: Redis;
let sandbox: Sandbox;
const apps = new Map<string, AppProcess>();
let producerUrl = '';
let dashboardUrl = '';
let exitCodes: (number | null)[] = [];

async function post(path: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${producerUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  await response.body?.cancel();
  return response.status;
}

beforeAll(async () => {
  redis = await startRedis({ forceProcess: true });
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  await admin.call('ACL', 'SETUSER', redisUser, 'on', `>${redisPassword}`, '~*', '&*', '+@all');
  const [host, port] = [redis.host, redis.port];
  const redisUrl = `redis://${redisUser}:${redisPassword}@${host}:${port}`;
  sandbox = await startSandbox({ logLevel: 'debug' });
  const common = { REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, LOG_LEVEL: 'debug' };

  const producerPort = await freePort();
  producerUrl = `http://127.0.0.1:${producerPort}`;
  apps.set(
    'producer',
    await startApp({
      entry: appEntry('producer'),
      env: { ...common, PRODUCER_PORT: String(producerPort), API_KEYS: apiKey },
      readyUrl: `${producerUrl}/readyz`,
      outputLimitBytes,
    }),
  );
  for (const worker of ['worker-notifications', 'worker-billing']) {
    const healthPort = await freePort();
    apps.set(
      worker,
      await startApp({
        entry: appEntry(worker),
        env: {
          ...common,
          SANDBOX_URL: sandbox.url,
          HEALTH_PORT: String(healthPort),
          WORKER_ID: `${worker}-secrets`,
        },
        readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
        outputLimitBytes,
      }),
    );
  }
  const dashboardPort = await freePort();
  dashboardUrl = `http://127.0.0.1:${dashboardPort}`;
  apps.set(
    'dashboard',
    await startApp({
      entry: appEntry('dashboard'),
      env: {
        ...common,
        DASHBOARD_PORT: String(dashboardPort),
        DASHBOARD_USER: dashboardUser,
        DASHBOARD_PASSWORD: dashboardPassword,
      },
      readyUrl: `${dashboardUrl}/readyz`,
      outputLimitBytes,
    }),
  );

  const auth = { authorization: `Bearer ${apiKey}` };
  // Accepted: e-mail in data, in a free-text field, as correlationId and Idempotency-Key.
  expect(
    await post(
      '/v1/events',
      JSON.stringify({
        type: 'user.signed_up',
        version: 1,
        correlationId: emails.correlationId,
        data: { userId: `u_${tag}`, email: emails.accepted, plan: 'pro' },
      }),
      { ...auth, 'idempotency-key': emails.idempotencyKey },
    ),
  ).toBe(202);
  expect(
    await post(
      '/v1/events',
      JSON.stringify({
        type: 'payment.failed',
        version: 1,
        data: {
          userId: `u_${tag}`,
          invoiceId: `in_${tag}`,
          amountCents: 1_999,
          currency: 'EUR',
          reason: `card declined; contact ${emails.freeText}`,
        },
      }),
      auth,
    ),
  ).toBe(202);
  // Refused by the schema (an unknown plan), with an address in it.
  expect(
    await post(
      '/v1/events',
      JSON.stringify({
        type: 'user.signed_up',
        version: 1,
        data: { userId: `u_${tag}`, email: emails.refused, plan: 'gold' },
      }),
      auth,
    ),
  ).toBe(400);
  // A wrong key.
  expect(
    await post(
      '/v1/events',
      JSON.stringify({
        type: 'user.signed_up',
        version: 1,
        data: { userId: `u_${tag}`, email: emails.unauthorized, plan: 'free' },
      }),
      { authorization: `Bearer ${wrongApiKey}` },
    ),
  ).toBe(401);
  // A job that fails the worker's schema check: dead-lettered at once.
  const queue = new Queue('notifications', { connection: admin, prefix });
  await queue.add('user.signed_up', {
    id: '01900000-0000-7000-8000-000000000001',
    type: 'user.signed_up',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: `c_${tag}`,
    idempotencyKey: `k_${tag}`,
    data: { userId: `u_${tag}`, email: emails.deadLettered, plan: 'gold' },
  });
  await queue.close();
  // The dashboard: a wrong password, then a search for an address with the right one.
  const refused = await fetch(`${dashboardUrl}/search?q=x`, {
    headers: { authorization: basic(dashboardUser, wrongDashboardPassword) },
  });
  expect(refused.status).toBe(401);
  await refused.body?.cancel();
  const search = await fetch(`${dashboardUrl}/search?q=${encodeURIComponent(emails.searched)}`, {
    headers: { authorization: basic(dashboardUser, dashboardPassword) },
  });
  expect(search.status).toBe(200);
  await search.body?.cancel();

  await waitFor(
    async () => {
      const calls = await sandbox.ledger();
      return calls.length >= 2 ? calls : undefined;
    },
    { timeoutMs: 30_000, message: 'the e-mail and the billing alert in the sandbox ledger' },
  );
  await waitFor(
    async () => ((await admin.llen(`${prefix}:notifications.dlq:wait`)) > 0 ? true : undefined),
    { timeoutMs: 30_000, message: 'the poison job in the notifications DLQ' },
  ).catch(async (error: unknown) => {
    // Name the DLQ keys that exist, to tell a naming mismatch from a missing move.
    throw new Error(`${String(error)}; keys: ${(await admin.keys(`${prefix}:*dlq*`)).join(', ')}`);
  });
  // Stopped, so every line is written, shutdown lines included.
  exitCodes = await Promise.all([...apps.values()].map((app) => app.stop('SIGTERM', 15_000)));
}, 180_000);

afterAll(async () => {
  await Promise.all([...apps.values()].map((app) => app.stop()));
  admin?.disconnect();
  await sandbox?.stop();
  await redis?.stop();
}, 30_000);

describe('secrets and e-mail addresses in logs', () => {
  it('captured every process whole, each exiting cleanly', () => {
    expect(exitCodes).toEqual([0, 0, 0, 0]);
    for (const [name, app] of apps) {
      const output = app.output();
      expect(output.length, name).toBeGreaterThan(0);
      expect(output.length, name).toBeLessThan(outputLimitBytes);
    }
  });

  it('the seeded paths were taken: the run logged the refusals and the dead letter', () => {
    const all = [...apps.values()].map((app) => app.output()).join('\n');
    expect(all).toMatch(/"statusCode":400/);
    expect(all).toMatch(/"statusCode":401/);
    expect(apps.get('worker-notifications')!.output()).toMatch(/dead.?letter/i);
  });

  for (const [what, secret] of Object.entries(secrets)) {
    it(`never writes the ${what}`, () => {
      for (const [name, app] of [...apps, ['sandbox', sandbox.app] as const]) {
        expect(app.output().split(secret).length - 1, `${name} holds the ${what}`).toBe(0);
      }
    });
  }

  for (const [path, email] of Object.entries(emails)) {
    it(`never writes the address seeded as ${path}`, () => {
      for (const [name, app] of apps) {
        expect(app.output().split(email).length - 1, `${name} holds it`).toBe(0);
      }
    });
  }

  it('writes nothing shaped like an e-mail address at all', () => {
    for (const [name, app] of apps) {
      expect(app.output().match(emailPattern)?.[0], name).toBeUndefined();
    }
  });
});
