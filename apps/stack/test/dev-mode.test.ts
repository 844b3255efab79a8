/**
 * `pnpm dev` (main.ts --dev) as a process, as a developer runs it, against a
 * redis-server of its own and a throwaway repository: the sandbox and the
 * producer are the real app folders (symlinked), worker-billing is a copy
 * whose sources the test edits, and a tiny workspace package
 * (`@switchyard/dev-probe`, reached through a node_modules symlink and the
 * `@switchyard/source` condition, as packages/* are) is imported by that copy.
 * Nothing in the repository is modified.
 *
 * What must hold: every app comes up from source; a handled event shows as a
 * pretty-printed line behind the app's tag; an edit to the worker's source,
 * and one to the package it imports, restart that worker (and only it) with
 * the new code, which goes on handling events end to end.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import { freePorts, StackRun } from './helpers/run-stack.js';
import { TempDir } from './helpers/temp-dir.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = 'worker-billing';
const TAG = `[${WORKER}-1]`;
/** Generous: three apps compile from source under tsx on a shared two-core machine. */
const START_TIMEOUT_MS = 120_000;
const RESTART_TIMEOUT_MS = 60_000;
const EVENT_TIMEOUT_MS = 30_000;
/** Bound of one `it` that restarts the worker and then sends an event through. */
const RESTART_TEST_TIMEOUT_MS = RESTART_TIMEOUT_MS + 2 * EVENT_TIMEOUT_MS + 10_000;

const apiKey = `sy_${randomBytes(24).toString('base64url')}`;
const marker = randomBytes(4).toString('hex');

let redis: RedisHandle;
let root: TempDir;
let stack: StackRun;
let producerUrl = '';
let sandboxUrl = '';

/** The fake repository described in the header. */
function buildFakeRepo(dir: string): { workerDir: string; probeDir: string } {
  writeFileSync(
    join(dir, 'tsconfig.base.json'),
    readFileSync(join(REPO, 'tsconfig.base.json'), 'utf8'),
  );
  mkdirSync(join(dir, 'apps'));
  for (const app of ['sandbox', 'producer'])
    symlinkSync(join(REPO, 'apps', app), join(dir, 'apps', app), 'dir');

  const probeDir = join(dir, 'packages', 'dev-probe');
  mkdirSync(join(probeDir, 'src'), { recursive: true });
  writeFileSync(
    join(probeDir, 'package.json'),
    JSON.stringify({
      name: '@switchyard/dev-probe',
      private: true,
      type: 'module',
      exports: { '.': { '@switchyard/source': './src/index.ts', default: './dist/index.js' } },
    }),
  );
  writeFileSync(join(probeDir, 'src', 'index.ts'), `export const probeVersion = 'v1';\n`);

  const realWorker = join(REPO, 'apps', WORKER);
  const workerDir = join(dir, 'apps', WORKER);
  mkdirSync(workerDir);
  for (const entry of ['package.json', 'tsconfig.json', 'src'])
    cpSync(join(realWorker, entry), join(workerDir, entry), { recursive: true });
  // node_modules as pnpm lays it out: symlinks to the real dependencies, plus
  // one to the probe package.
  const modules = join(workerDir, 'node_modules');
  mkdirSync(join(modules, '@switchyard'), { recursive: true });
  for (const entry of readdirSync(join(realWorker, 'node_modules'))) {
    if (entry === '@switchyard' || entry.startsWith('.')) continue;
    symlinkSync(join(realWorker, 'node_modules', entry), join(modules, entry), 'dir');
  }
  for (const entry of readdirSync(join(realWorker, 'node_modules', '@switchyard')))
    symlinkSync(
      join(realWorker, 'node_modules', '@switchyard', entry),
      join(modules, '@switchyard', entry),
      'dir',
    );
  symlinkSync(probeDir, join(modules, '@switchyard', 'dev-probe'), 'dir');

  const main = join(workerDir, 'src', 'main.ts');
  writeFileSync(
    main,
    `import { probeVersion } from '@switchyard/dev-probe';\n` +
      `console.log(\`dev-probe \${probeVersion}\`);\n` +
      readFileSync(main, 'utf8'),
  );
  return { workerDir, probeDir };
}

/** Lines the stack printed for one tag. */
function linesOf(tag: string): string[] {
  return stack.stdout.lines().filter((line) => line.startsWith(`${tag} `));
}

/** How many times the worker's process has said it is ready. */
function readyCount(): number {
  return linesOf(TAG).filter((line) => / INFO: ready\b/.test(line)).length;
}

async function publishPaymentFailed(invoiceId: string): Promise<string> {
  const response = await fetch(`${producerUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'payment.failed',
      version: 1,
      data: { userId: 'u_dev', invoiceId, amountCents: 1234, currency: 'EUR', reason: 'expired' },
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { eventId?: string };
  expect(response.status, JSON.stringify(body)).toBe(202);
  expect(typeof body.eventId).toBe('string');
  return body.eventId ?? '';
}

/** Waits for the worker's pretty `job succeeded` line for this event. */
async function handled(eventId: string): Promise<string> {
  const pattern = new RegExp(
    `^\\[${WORKER}-1\\] +\\[\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\] INFO: job succeeded \\{.*"eventId":"${eventId}"`,
    'm',
  );
  const match = await stack.stdout.waitFor(pattern, EVENT_TIMEOUT_MS);
  return match[0];
}

async function ledgerInvoices(): Promise<string[]> {
  const response = await fetch(`${sandboxUrl}/ledger`, { signal: AbortSignal.timeout(5_000) });
  const { calls } = (await response.json()) as {
    calls: { service: string; body: { invoiceId?: string } }[];
  };
  return calls
    .filter((call) => call.service === 'billing-alerts')
    .map((call) => call.body.invoiceId ?? '');
}

/** Edits `file` and waits until the worker has restarted once more; returns the time taken. */
async function editAndAwaitRestart(file: string, edit: (source: string) => string) {
  const before = readyCount();
  const startedAt = Date.now();
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  await waitFor(() => readyCount() > before, {
    timeoutMs: RESTART_TIMEOUT_MS,
    intervalMs: 50,
    message: `${TAG} ready again after editing ${file}\n${stack?.output}`,
  });
  return Date.now() - startedAt;
}

beforeAll(async () => {
  redis = await startRedis({ forceProcess: true });
  root = new TempDir();
  const first = await freePorts(4);
  producerUrl = `http://127.0.0.1:${first}`;
  sandboxUrl = `http://127.0.0.1:${first + 2}`;
  buildFakeRepo(root.path);
  stack = new StackRun(
    {
      STACK_ROOT: root.path,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `dev${marker}`,
      API_KEYS: apiKey,
      PRODUCER_PORT: String(first),
      DASHBOARD_PORT: String(first + 1),
      SANDBOX_PORT: String(first + 2),
      WORKER_HEALTH_PORT_BASE: String(first + 3),
      LOG_LEVEL: 'info',
      STACK_SHUTDOWN_TIMEOUT_MS: '10000',
      STACK_READY_TIMEOUT_MS: String(START_TIMEOUT_MS),
    },
    ['--dev'],
  );
  await stack.stdout.waitFor(/Switchyard is running: 3 processes/, START_TIMEOUT_MS);
}, START_TIMEOUT_MS + 30_000);

afterAll(async () => {
  if (stack !== undefined) {
    try {
      if (stack.process.exitCode === null) stack.signal('SIGINT');
      const code = await Promise.race([
        stack.exited,
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000)),
      ]);
      // Ctrl-C stops everything in order and exits 0.
      expect(code, stack.output).toBe(0);
      expect(stack.stdout.text).toMatch(/^\[stack\] +stopped$/m);
    } finally {
      await stack.kill();
    }
  }
  await redis?.stop();
  root?.remove();
}, 60_000);

describe('pnpm dev', () => {
  it('runs every app from source, one replica per worker', () => {
    const started = [...stack.stdout.text.matchAll(/started (\S+) \(pid \d+\)/g)].map((m) => m[1]);
    expect(started.sort()).toEqual(['producer', 'sandbox', `${WORKER}-1`]);
    expect(linesOf(TAG)).toContain(`${TAG} dev-probe v1`);
  });

  describe('when an event is published', () => {
    it(
      'prints the handler’s log line pretty and behind the app’s tag',
      async () => {
        const eventId = await publishPaymentFailed(`in_${marker}_1`);
        const line = await handled(eventId);
        expect(line).toContain('"subscriber":"billing"');
        // Pretty, not JSON, and no colour: the output is a pipe, not a terminal.
        expect(linesOf(TAG).filter((l) => l.slice(TAG.length).trimStart().startsWith('{'))).toEqual(
          [],
        );
        expect(stack.stdout.text).not.toContain('\u001b[');
        await waitFor(
          async () => {
            const invoices = await ledgerInvoices();
            return invoices.length === 1 && invoices[0] === `in_${marker}_1`;
          },
          { timeoutMs: EVENT_TIMEOUT_MS, message: 'the first billing alert in the sandbox ledger' },
        );
      },
      2 * EVENT_TIMEOUT_MS + 10_000,
    );
  });

  describe('when a source file of the worker changes', () => {
    it(
      'restarts the worker with the new code, which still handles events',
      async () => {
        const main = join(root.path, 'apps', WORKER, 'src', 'main.ts');
        const tookMs = await editAndAwaitRestart(
          main,
          (source) => `console.log('edited ${marker}');\n${source}`,
        );
        process.stdout.write(`dev-mode: worker restarted ${tookMs} ms after its main.ts changed\n`);
        expect(linesOf(TAG)).toContain(`${TAG} edited ${marker}`);
        expect(linesOf(TAG).some((line) => /\[tsx\] change in \.\/src\/main\.ts/.test(line))).toBe(
          true,
        );

        const eventId = await publishPaymentFailed(`in_${marker}_2`);
        await handled(eventId);
        await waitFor(async () => (await ledgerInvoices()).length === 2, {
          timeoutMs: EVENT_TIMEOUT_MS,
          message: 'the second billing alert in the sandbox ledger',
        });
      },
      RESTART_TEST_TIMEOUT_MS,
    );
  });

  describe('when a workspace package the worker imports changes', () => {
    it(
      'restarts the worker, and only the worker, with the package’s new code',
      async () => {
        const listening = (tag: string) =>
          linesOf(tag).filter((line) => line.includes('Server listening')).length;
        const before = { producer: listening('[producer]'), sandbox: listening('[sandbox]') };
        const probe = join(root.path, 'packages', 'dev-probe', 'src', 'index.ts');
        const tookMs = await editAndAwaitRestart(probe, (source) => source.replace("'v1'", "'v2'"));
        process.stdout.write(`dev-mode: worker restarted ${tookMs} ms after a package changed\n`);
        expect(linesOf(TAG)).toContain(`${TAG} dev-probe v2`);
        expect({ producer: listening('[producer]'), sandbox: listening('[sandbox]') }).toEqual(
          before,
        );

        const eventId = await publishPaymentFailed(`in_${marker}_3`);
        await handled(eventId);
        await waitFor(async () => (await ledgerInvoices()).length === 3, {
          timeoutMs: EVENT_TIMEOUT_MS,
          message: 'the third billing alert in the sandbox ledger',
        });
      },
      RESTART_TEST_TIMEOUT_MS,
    );
  });
});
