/** The built sandbox (apps/sandbox/dist/main.js) as a process: the downstream of process-level tests. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startApp, type AppProcess } from '@switchyard/testkit';

export const sandboxEntry = fileURLToPath(
  new URL('../../../../apps/sandbox/dist/main.js', import.meta.url),
);

export interface LedgerCall {
  service: string;
  idempotencyKey: string;
  repeats: number;
  body: unknown;
}

export interface Sandbox {
  app: AppProcess;
  url: string;
  ledger(): Promise<LedgerCall[]>;
  control(settings: Record<string, unknown>): Promise<void>;
}

export async function startSandbox(): Promise<Sandbox> {
  if (!existsSync(sandboxEntry)) {
    throw new Error(`${sandboxEntry} is missing: run \`pnpm turbo run build\` first`);
  }
  const port = await freePort();
  const app = await startApp({
    entry: sandboxEntry,
    env: { SANDBOX_PORT: String(port), LOG_LEVEL: 'warn' },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    url,
    async ledger() {
      const response = await fetch(`${url}/ledger`);
      return ((await response.json()) as { calls: LedgerCall[] }).calls;
    },
    async control(settings) {
      const response = await fetch(`${url}/control`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(settings),
      });
      if (!response.ok) throw new Error(`PUT /control: ${response.status}`);
    },
  };
}
