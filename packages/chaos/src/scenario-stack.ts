/**
 * startScenarioStack: everything a chaos scenario needs on one Redis, so a
 * scenario is short to write:
 * - the sandbox (testkit startSandbox) as the downstream and the ledger;
 * - one fleet of worker processes per subscriber (startFleet), with an env
 *   tuned for fast recovery (short lock and stall-check intervals, see
 *   `fastRecoveryEnv`);
 * - a publisher on a path users have: @switchyard/client's createPublisher
 *   straight to Redis, and with `producer: true` also the producer app as a
 *   process and an HTTP publisher (createPublisher({ baseUrl, apiKey }));
 * - a delivery watch on every subscriber queue (delivery-watch.ts);
 * - helpers: wait for the queues to drain, read the DLQs, list a replica's
 *   in-flight jobs.
 *
 * Every Redis key lives under a random QUEUE_PREFIX, so stacks never meet.
 * stop() ends every process it started (fleets, producer, sandbox) and its
 * connections; it never stops the Redis (the scenario owns it).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublisher, type Publisher } from '@switchyard/client';
import { deadLetterQueueNameOf, type SubscriberName } from '@switchyard/events';
import {
  assertBuilt,
  freePort,
  startApp,
  startSandbox,
  type AppProcess,
  type Sandbox,
} from '@switchyard/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DlqEntry } from './checker.js';
import { watchDeliveries, type DeliveryWatch } from './delivery-watch.js';
import { ScenarioTimeoutError } from './errors.js';
import { startFleet, type Fleet } from './fleet.js';
import type { PublishFn } from './load-generator.js';

/** The worker app of each subscriber. */
export const workerAppOf: Readonly<Record<string, string>> = {
  notifications: 'worker-notifications',
  provisioning: 'worker-provisioning',
  billing: 'worker-billing',
};

/**
 * Worker env for fast recovery that stays sane on a loaded 2-core machine:
 * - LOCK_DURATION_MS 3000: a dead worker's jobs are free after 3 s; the lock
 *   is renewed every 1.5 s, far more often than a busy event loop stalls;
 * - STALLED_INTERVAL_MS 1000: stalled jobs are found within 1 s of that;
 * - MAX_STALLED_COUNT 3: a job may be in the hands of three killed workers
 *   in a row before it is dead-lettered as 'stalled' (the default 1 would
 *   dead-letter a job whose second worker is killed too, which a 10-kill
 *   scenario can do; that is a policy, not a loss, but not what it tests);
 * - SHUTDOWN_TIMEOUT_MS 5000: a rolling restart waits at most that per replica.
 */
export const fastRecoveryEnv: Readonly<Record<string, string>> = {
  LOCK_DURATION_MS: '3000',
  STALLED_INTERVAL_MS: '1000',
  MAX_STALLED_COUNT: '3',
  SHUTDOWN_TIMEOUT_MS: '5000',
  STARTUP_TIMEOUT_MS: '20000',
  WORKER_CONCURRENCY: '10',
  LOG_LEVEL: 'warn',
};

export interface StartScenarioStackOptions {
  /** A Redis the scenario started (never the shared one). */
  redisUrl: string;
  /** Subscribers with a fleet. Default ['notifications', 'provisioning'] (both consume user.signed_up). */
  subscribers?: readonly SubscriberName[];
  /** Replicas per fleet (1..32). Default 2. */
  replicas?: number;
  /** Over fastRecoveryEnv, for every fleet. Default {}. */
  workerEnv?: Record<string, string>;
  /** Run the producer app too and expose an HTTP publisher. Default false. */
  producer?: boolean;
  /** Over the producer's env. Default {}. */
  producerEnv?: Record<string, string>;
  /** QUEUE_PREFIX. Default a random `chaos<hex>`. */
  prefix?: string;
}

export interface ScenarioStack {
  redisUrl: string;
  prefix: string;
  sandbox: Sandbox;
  fleets: Record<string, Fleet>;
  /** Subscriber queue names watched and drained (the subscribers). */
  queues: string[];
  /** Publishes straight to Redis with @switchyard/client (createPublisher({ redis })). */
  publisher: PublishFn;
  /** The client publisher behind `publisher`, for batch or typed use. */
  client: Publisher;
  /** With `producer: true`: publishes over HTTP to the producer app (createPublisher({ baseUrl, apiKey })). */
  httpPublisher?: PublishFn;
  producer?: AppProcess;
  watch: DeliveryWatch;
  /** A Redis connection for the scenario's own reads (and poison writes). */
  admin: Redis;
  /**
   * Resolves once every subscriber queue has no waiting, delayed,
   * prioritized, paused or active job; throws ScenarioTimeoutError after
   * `timeoutMs` (default 120_000), naming the counts left.
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Every entry of every DLQ of the stack's subscribers. */
  deadLetters(): Promise<DlqEntry[]>;
  /** Ids of the jobs in `queue`'s active list that `workerId` holds (BullMQ processedBy). */
  inFlightOf(queue: string, workerId: string): Promise<string[]>;
  /** A BullMQ Queue handle on one of the stack's queues (closed by stop()). */
  queue(name: string): Queue;
  stop(): Promise<void>;
}

const repoRoot = new URL('../../../', import.meta.url);
const chaosApiKey = 'chaos-suite-api-key-0123456789abcdef';

export async function startScenarioStack(opts: StartScenarioStackOptions): Promise<ScenarioStack> {
  const subscribers = [...(opts.subscribers ?? ['notifications', 'provisioning'])];
  const prefix = opts.prefix ?? `chaos${randomBytes(4).toString('hex')}`;
  const toStop: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of toStop.reverse()) await stop().catch(() => undefined);
    toStop.length = 0;
  };

  try {
    const sandbox = await startSandbox({ logLevel: 'error' });
    toStop.push(() => sandbox.stop());
    const admin = new Redis(opts.redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    admin.on('error', () => undefined);
    // Every BullMQ Queue handle below shares this connection and adds a listener.
    admin.setMaxListeners(100);
    toStop.push(() => Promise.resolve(admin.disconnect()));
    const watch = await watchDeliveries({ redisUrl: opts.redisUrl, prefix, queues: subscribers });
    toStop.push(() => watch.stop());

    const env = {
      REDIS_URL: opts.redisUrl,
      SANDBOX_URL: sandbox.url,
      QUEUE_PREFIX: prefix,
      ...fastRecoveryEnv,
      ...opts.workerEnv,
    };
    const fleets: Record<string, Fleet> = {};
    for (const subscriber of subscribers) {
      const app = workerAppOf[subscriber]!;
      const fleet = await startFleet({ app, replicas: opts.replicas ?? 2, env });
      fleets[subscriber] = fleet;
      toStop.push(() => fleet.stop());
    }

    const client = createPublisher({ redis: opts.redisUrl, prefix });
    toStop.push(() => client.close());
    const viaClient =
      (publisher: Publisher): PublishFn =>
      (type, data, options) =>
        (publisher as unknown as { publish: PublishFn }).publish(type, data, options);

    let producer: AppProcess | undefined;
    let httpPublisher: PublishFn | undefined;
    if (opts.producer === true) {
      const entry = fileURLToPath(new URL('apps/producer/dist/main.js', repoRoot));
      assertBuilt(
        entry,
        fileURLToPath(new URL('apps/producer/src/', repoRoot)),
        'pnpm --filter @switchyard/producer build',
      );
      const port = await freePort();
      producer = await startApp({
        entry,
        env: {
          REDIS_URL: opts.redisUrl,
          PRODUCER_PORT: String(port),
          API_KEYS: chaosApiKey,
          QUEUE_PREFIX: prefix,
          API_KEY_RATE_LIMIT_PER_MINUTE: '0',
          LOG_LEVEL: 'warn',
          ...opts.producerEnv,
        },
        readyUrl: `http://127.0.0.1:${port}/readyz`,
        readyTimeoutMs: 20_000,
      });
      const started = producer;
      toStop.push(() => started.stop());
      const http = createPublisher({
        baseUrl: producer.url,
        apiKey: chaosApiKey,
        timeoutMs: 5_000,
        retries: 2,
      });
      toStop.push(() => http.close());
      httpPublisher = viaClient(http);
    }

    const queues = new Map<string, Queue>();
    const queue = (name: string): Queue => {
      let q = queues.get(name);
      if (q === undefined) {
        q = new Queue(name, { connection: admin, prefix });
        queues.set(name, q);
      }
      return q;
    };
    toStop.push(async () => {
      await Promise.all([...queues.values()].map((q) => q.close()));
    });

    return {
      redisUrl: opts.redisUrl,
      prefix,
      sandbox,
      fleets,
      queues: subscribers,
      publisher: viaClient(client),
      client,
      ...(httpPublisher === undefined ? {} : { httpPublisher }),
      ...(producer === undefined ? {} : { producer }),
      watch,
      admin,
      queue,
      async drain(timeoutMs = 120_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          let total = 0;
          const left: Record<string, number> = {};
          for (const name of subscribers) {
            const counts = await queue(name).getJobCounts(
              'waiting',
              'delayed',
              'prioritized',
              'active',
              'waiting-children',
            );
            const sum = Object.values(counts).reduce((a, b) => a + b, 0);
            left[name] = sum;
            total += sum;
          }
          if (total === 0) return;
          if (Date.now() > deadline) {
            throw new ScenarioTimeoutError(
              `queues not drained within ${timeoutMs} ms: ${JSON.stringify(left)}`,
            );
          }
          await sleep(250);
        }
      },
      async deadLetters() {
        const entries: DlqEntry[] = [];
        for (const subscriber of subscribers) {
          const dlq = queue(deadLetterQueueNameOf(subscriber));
          const jobs = await dlq.getJobs(
            ['wait', 'delayed', 'prioritized', 'active', 'completed', 'failed'],
            0,
            -1,
          );
          for (const job of jobs) {
            // The record's jobId is the original job's id (the DLQ job's id may be `job-<n>`).
            const data = job.data as { reason?: unknown; eventId?: unknown; jobId?: unknown };
            entries.push({
              subscriber,
              jobId: typeof data.jobId === 'string' ? data.jobId : (job.id ?? ''),
              reason: typeof data.reason === 'string' ? data.reason : '(none)',
              eventId: typeof data.eventId === 'string' ? data.eventId : undefined,
            });
          }
        }
        return entries;
      },
      async inFlightOf(name, workerId) {
        const jobs = await queue(name).getActive(0, -1);
        return jobs.filter((job) => job.processedBy === workerId).map((job) => job.id ?? '');
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
