/**
 * The CLI as users run it (the built bin) against a real worker app process
 * (apps/worker-notifications) whose side effects land in the sandbox's
 * ledger: a paced replay re-processes each entry once, and `sy find` follows
 * an event into the DLQ and back.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jobIndexKey, type FoundJob } from '@switchyard/client';
import { numberedEnvelope } from '@switchyard/testkit';
import {
  assertBuilt,
  freePort,
  startApp,
  startSandbox,
  waitFor,
  type AppProcess,
  type Sandbox,
} from '@switchyard/testkit';
import { parseJson, useCliHarness, type CliRun } from './support/cli-harness.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const cliEntry = join(appDir, 'dist', 'main.js');
const workerEntry = fileURLToPath(
  new URL('../../worker-notifications/dist/main.js', import.meta.url),
);
const cli = useCliHarness();
let sandbox: Sandbox;
let worker: AppProcess | undefined;

beforeAll(async () => {
  assertBuilt(cliEntry, join(appDir, 'src'), 'pnpm --filter @switchyard/cli build');
  assertBuilt(
    workerEntry,
    fileURLToPath(new URL('../../worker-notifications/src', import.meta.url)),
    'pnpm --filter @switchyard/worker-notifications... build',
  );
  sandbox = await startSandbox();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await sandbox.reset();
});
afterAll(async () => {
  await sandbox?.stop();
});

async function startWorker(): Promise<void> {
  const port = await freePort();
  worker = await startApp({
    entry: workerEntry,
    name: 'worker-notifications',
    env: {
      REDIS_URL: cli.url,
      QUEUE_PREFIX: cli.prefix(),
      SANDBOX_URL: sandbox.url,
      HEALTH_PORT: String(port),
      WORKER_CONCURRENCY: '20',
      LOG_LEVEL: 'warn',
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: 20_000,
  });
}

/** `node apps/cli/dist/main.js ...args` against this test's Redis and prefix. */
function sy(args: string[], timeoutMs = 60_000): Promise<CliRun & { elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliEntry, ...args],
      {
        env: { PATH: process.env.PATH ?? '', REDIS_URL: cli.url, QUEUE_PREFIX: cli.prefix() },
        timeout: timeoutMs,
        maxBuffer: 10 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr, elapsedMs: performance.now() - started });
      },
    );
  });
}

describe('sy dlq replay with a worker running', () => {
  // WALL CLOCK: this test measures pacing in real time on purpose (200/s), so
  // it takes about 5 s plus the worker's start.
  it('replays 1,000 entries at 200/s in about 5 s, and the worker re-processes each once', async () => {
    const records = await cli.deadLetters(
      'notifications',
      Array.from({ length: 1_000 }, () => ({})),
    );
    await startWorker();

    const run = await sy(['dlq', 'replay', 'notifications', '--all', '--rate', '200/s']);
    expect(run.stderr.split('\n').at(-2)).toMatch(/^replayed 1000\/1000 100% \d+\/s$/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^replayed 1000 of 1000 selected from notifications\.dlq into notifications in \d+s \(skipped 0, failed 0, missing 0\)\n$/,
    );

    // Every entry became one job, and the worker completed each in one attempt.
    const queue = cli.queue('notifications');
    const done = await waitFor(
      async () => {
        const jobs = await queue.getJobs(['completed'], 0, -1);
        return jobs.length >= 1_000 ? jobs : undefined;
      },
      { timeoutMs: 30_000, message: '1,000 replayed jobs completed' },
    );
    expect(new Set(done.map((job) => job.id))).toEqual(
      new Set(records.map((r) => `${r.eventId}-r1`)),
    );
    expect(done.every((job) => job.attemptsMade === 1)).toBe(true);
    expect(await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'failed')).toBe(0);

    // Pacing, measured from the data: the jobs were added over ~5 s (999 gaps of 5 ms), not in a burst.
    const added = done.map((job) => job.timestamp).sort((a, b) => a - b);
    const spreadMs = added.at(-1)! - added[0]!;
    expect(spreadMs).toBeGreaterThanOrEqual(4_900);
    expect(spreadMs).toBeLessThanOrEqual(8_000);
    // No second in which more than ~200 went in (a burst would show here).
    const perSecond = new Map<number, number>();
    for (const at of added) {
      const second = Math.floor((at - added[0]!) / 1_000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(205);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(4_900);
    console.log(
      `[replay] 1,000 entries at 200/s: added over ${spreadMs} ms, command took ${Math.round(run.elapsedMs)} ms, busiest second ${Math.max(...perSecond.values())}`,
    );

    // Each side effect happened exactly once: one welcome e-mail per event, never repeated.
    const ledger = await waitFor(
      async () => {
        const calls = (await sandbox.ledger()).filter((call) => call.service === 'email');
        return calls.length >= 1_000 ? calls : undefined;
      },
      { timeoutMs: 10_000, message: '1,000 e-mails in the ledger' },
    );
    expect(ledger).toHaveLength(1_000);
    expect(ledger.filter((call) => call.repeats > 0)).toEqual([]);
    expect(new Set(ledger.map((call) => call.idempotencyKey))).toEqual(
      new Set(records.map((r) => r.idempotencyKey)),
    );
    expect(await cli.queue('notifications.dlq').count()).toBe(0);
  });
});

describe('sy find with a worker running', () => {
  it('follows an event from its queue into the DLQ and through a replay', async () => {
    await startWorker();
    // Version 99 of a known type: the worker dead-letters it at once (unknown_event).
    const envelope = { ...numberedEnvelope('user.signed_up', 7, 'acme'), version: 99 };
    await cli.queue('notifications').add(envelope.type, envelope, { jobId: envelope.id });
    await waitFor(async () => (await cli.queue('notifications.dlq').count()) === 1, {
      timeoutMs: 15_000,
      message: 'the job dead-lettered',
    });

    const found = await sy(['find', envelope.idempotencyKey, '--json']);
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
    expect(parseJson<{ jobs: FoundJob[] }>(found.stdout).jobs).toEqual([
      expect.objectContaining({
        queue: 'notifications.dlq',
        jobId: envelope.id,
        deadLetter: true,
        state: 'waiting',
        matchedBy: ['idempotencyKey'],
        eventId: envelope.id,
        tenantId: 'acme',
        attemptsMade: 1,
        failedReason: expect.stringMatching(/^unknown_event: /) as unknown,
      }),
    ]);
    // The runtime indexes a DLQ entry for 30 days (entries stay until replayed or
    // purged), not for the queue jobs' 24 h: its member and its key outlive a day.
    const day = 86_400_000;
    const key = jobIndexKey(cli.prefix(), 'idempotencyKey', envelope.idempotencyKey);
    const expiry = Number(await cli.admin.zscore(key, `notifications.dlq/${envelope.id}`));
    expect(expiry - Date.now()).toBeGreaterThan(29 * day);
    expect(expiry - Date.now()).toBeLessThanOrEqual(30 * day);
    expect(await cli.admin.pttl(key)).toBeGreaterThan(29 * day);

    // Replayed, it fails again: the replay job and its own DLQ entry are found too.
    const replay = await sy(['dlq', 'replay', 'notifications', envelope.id]);
    expect(replay.code).toBe(0);
    await waitFor(
      async () => (await cli.queue('notifications.dlq').getJob(`${envelope.id}-r1`)) !== undefined,
      { timeoutMs: 15_000, message: 'the replay dead-lettered' },
    );
    const table = await sy(['find', envelope.id]);
    expect(table.code).toBe(0);
    const rows = table.stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      // Table rows only; the dead-letter notes under the table say "<queue> <id>: <reason>".
      .filter((line) => line.startsWith('notifications') && !/^\S+ \S+: /.test(line))
      .map((line) => line.split(/\s+/).slice(0, 3).join(' '))
      .sort();
    expect(rows).toEqual([
      `notifications ${envelope.id}-r1 failed`,
      `notifications.dlq ${envelope.id} gone`,
      `notifications.dlq ${envelope.id}-r1 waiting`,
    ]);
    expect(table.stdout).toContain(`sy dlq show notifications ${envelope.id}-r1`);
  });
});
