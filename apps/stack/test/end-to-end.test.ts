/**
 * One event of each type travels producer -> Redis -> every subscribed
 * worker -> sandbox, with every app running as its own process, as users
 * run them. The sandbox ledger is the independent record of side effects.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
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

const apiKey = randomBytes(24).toString('base64url');
const prefix = `e2e${randomBytes(4).toString('hex')}`;
const subscriberQueues = ['notifications', 'provisioning', 'billing'];

const signup = {
  type: 'user.signed_up',
  version: 1,
  data: { userId: 'u_42', email: 'ada@example.com', plan: 'pro' },
};
const payment = {
  type: 'payment.failed',
  version: 1,
  data: {
    userId: 'u_42',
    invoiceId: 'in_7',
    amountCents: 4200,
    currency: 'EUR',
    reason: 'card_declined',
  },
};

let redis: RedisHandle;
const apps: AppProcess[] = [];
let producerUrl = '';
let sandbox: Sandbox;

async function publish(event: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${producerUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(event),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function queueCounts(): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const name of subscriberQueues) {
    const queue = new Queue(name, { connection: { url: redis.url }, prefix });
    try {
      out[name] = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'completed',
        'failed',
        'prioritized',
      );
    } finally {
      await queue.close();
    }
  }
  return out;
}

beforeAll(async () => {
  redis = await startRedis();
  const common = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' };
  sandbox = await startSandbox();
  apps.push(sandbox.app);
  const producerPort = await freePort();
  producerUrl = `http://127.0.0.1:${producerPort}`;
  apps.push(
    await startApp({
      entry: appEntry('producer'),
      env: { ...common, PRODUCER_PORT: String(producerPort), API_KEYS: apiKey },
      readyUrl: `${producerUrl}/readyz`,
    }),
  );
  for (const worker of ['worker-notifications', 'worker-provisioning', 'worker-billing']) {
    const healthPort = await freePort();
    apps.push(
      await startApp({
        entry: appEntry(worker),
        env: {
          ...common,
          SANDBOX_URL: sandbox.url,
          HEALTH_PORT: String(healthPort),
          WORKER_ID: `${worker}-e2e`,
        },
        readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  const codes = await Promise.all(apps.map((app) => app.stop('SIGTERM', 15_000)));
  await redis?.stop();
  // Every app exits 0 on SIGTERM: a graceful drain, not a crash.
  expect(codes).toEqual(apps.map(() => 0));
}, 60_000);

describe('an event published over HTTP', () => {
  let first: { signup: Record<string, unknown>; payment: Record<string, unknown> };

  it('is accepted into every subscriber queue', async () => {
    const [a, b] = await Promise.all([publish(signup), publish(payment)]);
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ status: 'accepted', queues: ['notifications', 'provisioning'] });
    expect(b.status).toBe(202);
    expect(b.body).toMatchObject({ status: 'accepted', queues: ['billing'] });
    first = { signup: a.body, payment: b.body };
  });

  it('causes each subscriber side effect exactly once', async () => {
    const calls = await waitFor(
      async () => {
        const current = await sandbox.ledger();
        return current.length >= 3 ? current : undefined;
      },
      { timeoutMs: 20_000, message: 'three side effects in the sandbox ledger' },
    );
    const byService = Object.fromEntries(calls.map((call) => [call.service, call]));
    expect(Object.keys(byService).sort()).toEqual(['billing-alerts', 'email', 'workspaces']);
    expect(calls).toHaveLength(3);
    expect(byService.email).toMatchObject({
      idempotencyKey: first.signup.idempotencyKey,
      repeats: 0,
    });
    expect(byService.email?.body).toMatchObject({ to: 'ada@example.com' });
    expect(byService.workspaces).toMatchObject({
      idempotencyKey: first.signup.idempotencyKey,
      repeats: 0,
    });
    expect(byService.workspaces?.body).toMatchObject({ ownerId: 'u_42' });
    expect(byService['billing-alerts']).toMatchObject({
      idempotencyKey: first.payment.idempotencyKey,
      repeats: 0,
    });
    expect(byService['billing-alerts']?.body).toMatchObject({
      invoiceId: 'in_7',
      amountCents: 4200,
    });
    await waitFor(
      async () => {
        const counts = await queueCounts();
        return subscriberQueues.every((q) => counts[q]?.completed === 1) ? counts : undefined;
      },
      { timeoutMs: 10_000, message: 'one completed job per subscriber queue' },
    );
  });

  it('changes nothing when published again with the same idempotency key', async () => {
    const [a, b] = await Promise.all([publish(signup), publish(payment)]);
    expect(a).toMatchObject({
      status: 202,
      body: { status: 'duplicate', eventId: first.signup.eventId },
    });
    expect(b).toMatchObject({
      status: 202,
      body: { status: 'duplicate', eventId: first.payment.eventId },
    });
    // Jobs are enqueued before the 202 is sent, so a wrongly added duplicate
    // would already show in the counts (waiting, active or completed: 2).
    const counts = await queueCounts();
    for (const queue of subscriberQueues) {
      expect(counts[queue]).toMatchObject({
        waiting: 0,
        active: 0,
        delayed: 0,
        completed: 1,
        failed: 0,
        prioritized: 0,
      });
    }
    const calls = await sandbox.ledger();
    expect(calls).toHaveLength(3);
    expect(calls.every((call) => call.repeats === 0)).toBe(true);
  });

  it('is refused with 409 when the same key carries a different payload', async () => {
    const conflict = await publish({
      ...signup,
      data: { ...signup.data, plan: 'free' },
      idempotencyKey: first.signup.idempotencyKey,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: { code: 'SY_ERR_IDEMPOTENCY_CONFLICT' } });
  });
});
