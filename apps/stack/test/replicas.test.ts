/**
 * Several replicas of one worker app on one queue, as `npm start`, compose
 * and Kubernetes run them: every event is processed exactly once, each
 * replica takes a share, and a rolling restart (SIGTERM one replica at a
 * time, start its successor) under load loses nothing and spends no
 * attempt. The sandbox ledger is the record of side effects; every app is
 * its own process.
 */
import { randomBytes } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
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
import { appEntry } from './helpers/app-entry.js';

const apiKey = randomBytes(24).toString('base64url');
const prefix = `rep${randomBytes(4).toString('hex')}`;
const replicaCount = 3;

let redis: RedisHandle;
let sandbox: Sandbox;
let producer: AppProcess;
let producerUrl = '';
let queue: Queue;
const replicas: AppProcess[] = [];
const stopped: AppProcess[] = [];
let replicaSerial = 0;

async function startReplica(): Promise<AppProcess> {
  replicaSerial += 1;
  const healthPort = await freePort();
  return startApp({
    entry: appEntry('worker-notifications'),
    name: `worker-notifications replica ${replicaSerial}`,
    env: {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      SANDBOX_URL: sandbox.url,
      HEALTH_PORT: String(healthPort),
      WORKER_ID: `replica-${replicaSerial}`,
      WORKER_CONCURRENCY: '4',
      SHUTDOWN_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'warn',
    },
    readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
  });
}

/** Publishes one signed-up event; resolves with its idempotency key when accepted. */
async function publish(userId: string): Promise<string> {
  const response = await fetch(`${producerUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(signedUpRequest(userId)),
  });
  const body = (await response.json()) as { idempotencyKey?: string };
  if (response.status !== 202 || body.idempotencyKey === undefined) {
    throw new Error(`publish ${userId}: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.idempotencyKey;
}

/** Waits until every accepted event's job completed, then returns the jobs. */
async function drained(accepted: number): Promise<Job[]> {
  await waitFor(async () => (await queue.getJobCounts('completed')).completed === accepted, {
    timeoutMs: 60_000,
    intervalMs: 100,
    message: `${accepted} completed jobs`,
  });
  return queue.getJobs(['completed'], 0, -1);
}

/** Checks exactly-once from the sandbox ledger and BullMQ: one e-mail per event, one attempt each. */
async function expectOnceEach(keys: string[], jobs: Job[]): Promise<void> {
  const emails = (await sandbox.ledger()).filter((call) => call.service === 'email');
  expect(emails.map((call) => call.idempotencyKey).sort()).toEqual([...keys].sort());
  expect(emails.filter((call) => call.repeats > 0)).toEqual([]);
  expect(jobs).toHaveLength(keys.length);
  // BullMQ counts the successful attempt itself: 1 means no attempt was spent before it.
  expect(jobs.filter((job) => job.attemptsMade !== 1).map((job) => job.id)).toEqual([]);
  const counts = await queue.getJobCounts('failed', 'waiting', 'active', 'delayed');
  expect(counts).toEqual({ failed: 0, waiting: 0, active: 0, delayed: 0 });
  const deadLetters = new Queue('notifications.dlq', { connection: { url: redis.url }, prefix });
  try {
    expect(await deadLetters.count()).toBe(0);
  } finally {
    await deadLetters.close();
  }
}

beforeAll(async () => {
  redis = await startRedis();
  sandbox = await startSandbox();
  // A little latency per call, so work overlaps and every replica gets some.
  await sandbox.control({ latencyMs: 5 });
  const producerPort = await freePort();
  producerUrl = `http://127.0.0.1:${producerPort}`;
  producer = await startApp({
    entry: appEntry('producer'),
    env: {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      PRODUCER_PORT: String(producerPort),
      API_KEYS: apiKey,
      LOG_LEVEL: 'warn',
    },
    readyUrl: `${producerUrl}/readyz`,
  });
  queue = new Queue('notifications', { connection: { url: redis.url }, prefix });
  for (let i = 0; i < replicaCount; i += 1) replicas.push(await startReplica());
}, 120_000);

afterAll(async () => {
  await queue?.close();
  const codes = await Promise.all(
    [...replicas, producer, sandbox?.app]
      .filter((app): app is AppProcess => app !== undefined)
      .map((app) => app.stop('SIGTERM', 15_000)),
  );
  await redis?.stop();
  expect(codes.every((code) => code === 0)).toBe(true);
}, 60_000);

describe(`${replicaCount} replicas of worker-notifications on one queue`, () => {
  it('process every event exactly once, each replica taking a share', async () => {
    const keys: string[] = [];
    for (let batch = 0; batch < 30; batch += 1) {
      keys.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, (_, i) => publish(`u_share_${batch}_${i}`)),
        )),
      );
    }
    const jobs = await drained(keys.length);
    await expectOnceEach(keys, jobs);

    const shares = new Map<string, number>();
    for (const job of jobs) {
      shares.set(job.processedBy ?? '?', (shares.get(job.processedBy ?? '?') ?? 0) + 1);
    }
    console.log('[replicas] jobs per replica:', Object.fromEntries(shares));
    expect([...shares.keys()].sort()).toEqual(['replica-1', 'replica-2', 'replica-3']);
    // Each takes a real share, not a token one: at least 10% of 300.
    for (const [replica, count] of shares) expect(count, replica).toBeGreaterThanOrEqual(30);
  }, 120_000);

  it('lose nothing and spend no attempt through a rolling restart under load', async () => {
    await sandbox.reset();
    await queue.obliterate({ force: true });
    const keys: string[] = [];
    let publishing = true;
    let serial = 0;
    // Steady load, about 100 events/s, for the whole restart.
    const load = (async () => {
      while (publishing) {
        const batch = Array.from({ length: 5 }, () => publish(`u_roll_${(serial += 1)}`));
        keys.push(...(await Promise.all(batch)));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      await waitFor(() => keys.length >= 100, { timeoutMs: 20_000, message: 'load started' });
      for (let i = 0; i < replicaCount; i += 1) {
        const old = replicas.shift()!;
        // Graceful: the replica drains its jobs and exits 0; the others keep going.
        expect(await old.stop('SIGTERM', 20_000)).toBe(0);
        stopped.push(old);
        replicas.push(await startReplica());
      }
      await waitFor(() => keys.length >= 100 + 200, { timeoutMs: 20_000, message: 'more load' });
    } finally {
      publishing = false;
      await load;
    }
    console.log(`[replicas] rolling restart: ${keys.length} events published during it`);
    const jobs = await drained(keys.length);
    await expectOnceEach(keys, jobs);
    // The successors did work too: the queue kept moving after each restart.
    const bySuccessors = jobs.filter((job) =>
      ['replica-4', 'replica-5', 'replica-6'].includes(job.processedBy ?? ''),
    );
    expect(bySuccessors.length).toBeGreaterThan(0);
  }, 180_000);
});
