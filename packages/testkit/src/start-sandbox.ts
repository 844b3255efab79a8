import { fileURLToPath } from 'node:url';
import { assertBuilt } from './assert-built.js';
import { SandboxRequestError } from './errors.js';
import { freePort } from './free-port.js';
import { startApp, type AppProcess } from './start-app.js';

/**
 * The repo root, from this file's own place (packages/testkit/src/ or
 * packages/testkit/dist/), so the sandbox is found wherever tests run from.
 * The testkit imports no app's code: it only runs the sandbox's built file.
 */
const repoRoot = new URL('../../../', import.meta.url);
const sandboxEntry = fileURLToPath(new URL('apps/sandbox/dist/main.js', repoRoot));
const sandboxSrc = fileURLToPath(new URL('apps/sandbox/src/', repoRoot));

/** One service call the sandbox applied (GET /ledger). */
export interface LedgerCall {
  /** The sandbox service called: 'email', 'workspaces', 'billing-alerts'. */
  service: string;
  idempotencyKey: string;
  /** How often the same idempotency key came again after the first call. */
  repeats: number;
  /** ISO time of the first call. */
  firstAt: string;
  body: unknown;
}

export interface StartSandboxOptions {
  /** The sandbox's LOG_LEVEL. Default 'warn'. */
  logLevel?: string;
  /** Bound on readiness, passed to startApp. Default startApp's (15_000 ms). */
  readyTimeoutMs?: number;
}

/** The built sandbox (apps/sandbox/dist/main.js) running as its own process. */
export interface Sandbox {
  app: AppProcess;
  /** Its origin, e.g. http://127.0.0.1:41234 (SANDBOX_URL for workers). */
  url: string;
  /** Every call in its ledger, oldest first. */
  ledger(): Promise<LedgerCall[]>;
  /** PUT /control with `patch` (any subset of the sandbox's control knobs). */
  control(patch: Record<string, unknown>): Promise<void>;
  /** Ends any outage (`downForMs: 0`) and clears the ledger; other knobs stay as set. */
  reset(): Promise<void>;
  /** Stops the process (SIGTERM, then SIGKILL); resolves with its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs the built sandbox on a free port, the way users run it, and resolves
 * once /readyz answers 200. Throws AppNotBuiltError, naming the build
 * command, when dist is missing or older than the sandbox's src.
 */
export async function startSandbox(opts: StartSandboxOptions = {}): Promise<Sandbox> {
  assertBuilt(sandboxEntry, sandboxSrc, 'pnpm --filter @switchyard/sandbox build');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await startApp({
    entry: sandboxEntry,
    env: { SANDBOX_PORT: String(port), LOG_LEVEL: opts.logLevel ?? 'warn' },
    readyUrl: `${url}/readyz`,
    ...(opts.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: opts.readyTimeoutMs }),
  });

  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const response = await fetch(`${url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new SandboxRequestError(`${method} ${path}: ${response.status}`);
    }
    return response;
  };
  const control = async (patch: Record<string, unknown>): Promise<void> => {
    await (await call('PUT', '/control', patch)).body?.cancel();
  };

  return {
    app,
    url,
    async ledger() {
      return ((await (await call('GET', '/ledger')).json()) as { calls: LedgerCall[] }).calls;
    },
    control,
    async reset() {
      await control({ downForMs: 0 });
      await (await call('DELETE', '/ledger')).body?.cancel();
    },
    stop: () => app.stop(),
  };
}
