/**
 * Shared set-up of the dashboard suites: users (an admin with a plain
 * password, a viewer with a cheap scrypt hash so sweeps stay fast), an
 * in-process server on a real Redis, and failed jobs made by a real BullMQ
 * worker.
 */
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { parseEnv, createLogger } from '@switchyard/observability';
import { waitReady } from '@switchyard/testkit';
import { buildServer, type DashboardServer } from '../../src/build-server.js';
import { createRedisConnection } from '@switchyard/client';
import { dashboardEnvSchema } from '../../src/env.js';
import { hashPassword } from '../../src/password-hash.js';

export const admin = { user: 'ops-admin', password: 'admin-password-1' } as const;
export const viewer = { user: 'ops-viewer', password: 'viewer-password-1' } as const;

/** The payloads of the XSS checks: an attribute-borne handler and a script element. */
export const imgPayload = '<img src=x onerror="window.__xss=1">';
export const scriptPayload = '<script>window.__xss=2</script>';

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** `name:viewer:hash` for DASHBOARD_USERS; N=2^12 keeps the many failed checks of a sweep quick. */
export async function viewerEntry(): Promise<string> {
  return `${viewer.user}:viewer:${await hashPassword(viewer.password, { N: 4096 })}`;
}

export async function dashboardEnv(
  redisUrl: string,
  prefix: string,
): Promise<Record<string, string>> {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    DASHBOARD_USER: admin.user,
    DASHBOARD_PASSWORD: admin.password,
    DASHBOARD_USERS: await viewerEntry(),
    // The name the in-process suites address the dashboard by; loopback names are always allowed.
    DASHBOARD_HOSTS: 'dashboard.test',
    LOG_LEVEL: 'silent',
  };
}

/** The server as main.ts builds it, on its own Redis connection; close() closes both. */
export interface InProcessDashboard {
  app: DashboardServer;
  close(): Promise<void>;
}

export async function startInProcess(
  redisUrl: string,
  prefix: string,
): Promise<InProcessDashboard> {
  const config = parseEnv(dashboardEnvSchema, await dashboardEnv(redisUrl, prefix));
  const redis = createRedisConnection({
    url: redisUrl,
    profile: 'fail-fast',
    commandTimeoutMs: 5_000,
  });
  const app = buildServer({
    config,
    redis,
    logger: createLogger({ name: 'dashboard', level: 'silent' }),
  });
  await app.ready();
  await waitReady(redis);
  return {
    app,
    async close() {
      await app.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * Adds a job to `queueName` and lets a real worker fail it once with
 * `message`; resolves with its id once it is in the failed set.
 */
export async function failedJob(
  redisUrl: string,
  prefix: string,
  queueName: string,
  options: { jobId: string; data: unknown; message: string },
): Promise<string> {
  const url = new URL(redisUrl);
  const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  const queue = new Queue(queueName, { connection, prefix });
  const worker = new Worker(queueName, () => Promise.reject(new Error(options.message)), {
    connection,
    prefix,
    autorun: false,
  });
  try {
    const failed = new Promise<void>((resolve) => {
      worker.on('failed', (job) => {
        if (job?.id === options.jobId) resolve();
      });
    });
    await queue.add('user.signed_up', options.data, { jobId: options.jobId, attempts: 1 });
    void worker.run();
    await failed;
    return options.jobId;
  } finally {
    await worker.close();
    await queue.close();
  }
}

/** Fails an existing job for good (e.g. one the publisher fanned out); other jobs it meets complete. */
export async function failExistingJob(
  redisUrl: string,
  prefix: string,
  queueName: string,
  jobId: string,
  message: string,
): Promise<void> {
  const url = new URL(redisUrl);
  const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  const worker = new Worker(
    queueName,
    // Unrecoverable: straight to failed, whatever attempts and backoff the job has.
    (job) =>
      job.id === jobId ? Promise.reject(new UnrecoverableError(message)) : Promise.resolve(),
    { connection, prefix, autorun: false },
  );
  try {
    const failed = new Promise<void>((resolve) => {
      worker.on('failed', (job) => {
        if (job?.id === jobId) resolve();
      });
    });
    void worker.run();
    await failed;
  } finally {
    await worker.close();
  }
}
