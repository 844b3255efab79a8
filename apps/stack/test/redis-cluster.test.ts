/**
 * Switchyard on a local 3-master Redis Cluster (redis-server processes in
 * cluster mode on loopback ports), every app a process from dist as users
 * run them, QUEUE_PREFIX hash-tagged: publish over the producer's HTTP API
 * -> fan-out to every subscriber queue -> worker processes call the sandbox
 * -> a downstream failing for good dead-letters an event -> `sy dlq replay`
 * -> processed; `sy find` across the cluster; and the start-time refusal of
 * a cluster URL with an un-tagged prefix. Then one event end to end through
 * a local Sentinel.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  freePort,
  signedUpRequest,
  startApp,
  startRedisCluster,
  startRedisSentinel,
  startSandbox,
  waitFor,
  type AppProcess,
  type RedisClusterHandle,
  type RedisSentinelHandle,
  type Sandbox,
} from '@switchyard/testkit';
import { appEntry } from './helpers/app-entry.js';

const appSource = (app: string) => fileURLToPath(new URL(`../../${app}/src`, import.meta.url));

const apiKey = randomBytes(24).toString('base64url');
const prefix = `{sy${randomBytes(4).toString('hex')}}`;

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a built app or the `sy` bin to its end (bounded), as a user would. */
function runToEnd(entry: string, args: string[], env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [entry, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function publish(producerUrl: string, userId: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${producerUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(signedUpRequest(userId)),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 202)
    throw new Error(`publish ${userId}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function startWorker(
  app: string,
  env: Record<string, string>,
  sandbox: Sandbox,
): Promise<AppProcess> {
  const healthPort = await freePort();
  return startApp({
    entry: appEntry(app),
    env: {
      ...env,
      SANDBOX_URL: sandbox.url,
      HEALTH_PORT: String(healthPort),
      WORKER_ID: `${app}-cluster`,
      LOG_LEVEL: 'warn',
      // Every attempt fails while the sandbox answers 500: keep the breaker
      // closed so the attempts run out (and the event is dead-lettered)
      // instead of the queue being held.
      BREAKER_VOLUME_THRESHOLD: '1000000',
    },
    readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
  });
}

async function startProducer(
  env: Record<string, string>,
): Promise<{ app: AppProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await startApp({
    entry: appEntry('producer'),
    env: { ...env, PRODUCER_PORT: String(port), API_KEYS: apiKey, LOG_LEVEL: 'warn' },
    readyUrl: `${url}/readyz`,
  });
  return { app, url };
}

beforeAll(() => {
  for (const app of ['producer', 'worker-notifications', 'worker-provisioning', 'cli']) {
    assertBuilt(appEntry(app), appSource(app), `pnpm --filter ./apps/${app} build`);
  }
});

describe('on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let admin: Cluster;
  let sandbox: Sandbox;
  let producerUrl = '';
  const apps: AppProcess[] = [];
  let env: Record<string, string>;

  const sy = (...args: string[]) => runToEnd(appEntry('cli'), args, env);
  const queue = (name: string) => new Queue(name, { connection: admin, prefix });

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    admin = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: null } });
    env = { REDIS_URL: cluster.url, QUEUE_PREFIX: prefix };
    sandbox = await startSandbox();
    apps.push(sandbox.app);
    const producer = await startProducer(env);
    apps.push(producer.app);
    producerUrl = producer.url;
    for (const worker of ['worker-notifications', 'worker-provisioning']) {
      apps.push(await startWorker(worker, env, sandbox));
    }
  }, 120_000);

  afterAll(async () => {
    const codes = await Promise.all(apps.map((app) => app.stop('SIGTERM', 15_000)));
    admin?.disconnect();
    await cluster?.stop();
    // Every app exits 0 on SIGTERM: a graceful drain, not a crash.
    expect(codes).toEqual(apps.map(() => 0));
  }, 60_000);

  it('spreads the slots over three masters and keeps one prefix in one slot', async () => {
    const masters = admin.nodes('master');
    expect(masters).toHaveLength(3);
    const slots = new Set(
      await Promise.all(
        [
          `${prefix}:notifications:wait`,
          `${prefix}:idempotency:/k`,
          `${prefix}:sy:index:eventId:e`,
        ].map((key) => masters[0]!.call('CLUSTER', 'KEYSLOT', key)),
      ),
    );
    expect(slots.size).toBe(1);
  });

  let eventId = '';

  it('fans an event published over HTTP out to every subscriber queue, and the workers process it', async () => {
    const accepted = await publish(producerUrl, 'u_cluster');
    expect(accepted).toMatchObject({
      status: 'accepted',
      queues: ['notifications', 'provisioning'],
    });
    eventId = accepted.eventId as string;
    const calls = await waitFor(
      async () => {
        const ledger = await sandbox.ledger();
        return ledger.length >= 2 ? ledger : undefined;
      },
      { timeoutMs: 30_000, message: 'both side effects in the sandbox ledger' },
    );
    expect(calls.map((call) => call.service).sort()).toEqual(['email', 'workspaces']);
    for (const name of ['notifications', 'provisioning']) {
      const subscriberQueue = queue(name);
      await waitFor(
        async () =>
          (await subscriberQueue.getJobState(eventId)) === 'completed' ? true : undefined,
        {
          timeoutMs: 10_000,
          message: `${name} job completed`,
        },
      );
      await subscriberQueue.close();
    }
  }, 60_000);

  it('finds the event across the cluster with `sy find`', async () => {
    const { code, stdout, stderr } = await sy('find', eventId, '--json');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const answer = JSON.parse(stdout) as { jobs: { queue: string; state: string }[] };
    expect(answer.jobs.map((job) => `${job.queue}:${job.state}`).sort()).toEqual([
      'notifications:completed',
      'provisioning:completed',
    ]);
  });

  it('dead-letters an event the downstream keeps failing, and `sy dlq replay` gets it processed', async () => {
    await sandbox.reset();
    await sandbox.control({ errorRate: 1 });
    const failing = await publish(producerUrl, 'u_failing');
    const failingId = failing.eventId as string;
    const deadLetters = queue('notifications.dlq');
    try {
      // 5 attempts with 1, 2, 4, 8 s backoff (less jitter) before the last one fails.
      const entry = await waitFor(async () => (await deadLetters.getJob(failingId)) ?? undefined, {
        timeoutMs: 60_000,
        intervalMs: 250,
        message: 'the failing event in notifications.dlq',
      });
      expect(entry.data).toMatchObject({ reason: 'attempts_exhausted', attempts: 5 });
    } finally {
      await deadLetters.close();
    }
    const listed = await sy('dlq', 'ls', 'notifications', '--json');
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { total: number }).total).toBe(1);

    // The downstream is fixed; the operator replays.
    await sandbox.control({ errorRate: 0 });
    const replay = await sy('dlq', 'replay', 'notifications', '--all', '--json');
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ matched: 1, replayed: 1, failed: [] });
    const email = await waitFor(
      async () => (await sandbox.ledger()).find((call) => call.service === 'email'),
      { timeoutMs: 30_000, message: 'the replayed event reaching the sandbox' },
    );
    expect(email.body).toMatchObject({ userId: 'u_failing' });
    const found = await sy('find', failingId, '--json');
    const jobs = (
      JSON.parse(found.stdout) as { jobs: { queue: string; jobId: string; state: string }[] }
    ).jobs;
    expect(jobs).toContainEqual(
      expect.objectContaining({
        queue: 'notifications',
        jobId: `${failingId}-r1`,
        state: 'completed',
      }),
    );
  }, 120_000);

  it('refuses to start any app on a cluster URL with an un-tagged QUEUE_PREFIX', async () => {
    const untagged = { REDIS_URL: cluster.url, QUEUE_PREFIX: 'syplain' };
    const producer = await runToEnd(appEntry('producer'), [], { ...untagged, API_KEYS: apiKey });
    expect(producer.code).toBe(1);
    expect(producer.stderr).toMatch(
      /QUEUE_PREFIX: "syplain" has no hash tag, but REDIS_URL is a Redis Cluster URL/,
    );
    expect(producer.stderr).toMatch(/QUEUE_PREFIX=\{syplain\}/);
    const worker = await runToEnd(appEntry('worker-notifications'), [], untagged);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toMatch(/QUEUE_PREFIX: "syplain" has no hash tag/);
    const cli = await runToEnd(appEntry('cli'), ['queues'], untagged);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(
      /QUEUE_PREFIX "syplain" has no hash tag, but REDIS_URL is a Redis Cluster URL/,
    );
  }, 60_000);
});

describe('through Redis Sentinel', () => {
  let sentinel: RedisSentinelHandle;
  let sandbox: Sandbox;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    sandbox = await startSandbox();
    apps.push(sandbox.app);
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all(apps.map((app) => app.stop('SIGTERM', 15_000)));
    await sentinel?.stop();
    expect(codes).toEqual(apps.map(() => 0));
  }, 60_000);

  it('takes one event from the producer to a worker, both connected through Sentinel', async () => {
    const env = { REDIS_URL: sentinel.url, QUEUE_PREFIX: `sn${randomBytes(4).toString('hex')}` };
    const producer = await startProducer(env);
    apps.push(producer.app);
    apps.push(await startWorker('worker-notifications', env, sandbox));
    await publish(producer.url, 'u_sentinel');
    const email = await waitFor(
      async () => (await sandbox.ledger()).find((call) => call.service === 'email'),
      { timeoutMs: 30_000, message: 'the event reaching the sandbox through Sentinel' },
    );
    expect(email.body).toMatchObject({ userId: 'u_sentinel' });
  }, 90_000);
});
