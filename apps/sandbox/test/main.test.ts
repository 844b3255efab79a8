import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppStartError, freePort, startApp, type AppProcess } from '@switchyard/testkit';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const entry = join(appDir, 'dist', 'main.js');
const apps: AppProcess[] = [];

function newestMtime(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((item) =>
      item.isDirectory()
        ? newestMtime(join(dir, item.name))
        : statSync(join(dir, item.name)).mtimeMs,
    ),
  );
}

beforeAll(() => {
  // This suite runs what users run: the build. A stale one would test old code.
  const built = statSync(entry, { throwIfNoEntry: false });
  if (built === undefined || built.mtimeMs < newestMtime(join(appDir, 'src'))) {
    throw new Error(
      `${entry} is missing or older than src/: run \`pnpm --filter @switchyard/sandbox build\` first`,
    );
  }
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.kill()));
});

describe('the sandbox process', () => {
  describe('when started with a valid environment', () => {
    it('serves the contract on SANDBOX_PORT and exits 0 on SIGTERM', async () => {
      const port = await freePort();
      const app = await startApp({
        entry,
        env: { SANDBOX_PORT: String(port), LOG_LEVEL: 'info' },
        readyUrl: `http://127.0.0.1:${port}/readyz`,
      });
      apps.push(app);

      const call = (): Promise<Response> =>
        fetch(`${app.url}/email`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'welcome:u1' },
          body: JSON.stringify({ to: 'ada@example.com' }),
        });
      const first = await call();
      const repeat = await call();
      const ledger = (await (await fetch(`${app.url}/ledger`)).json()) as { calls: unknown[] };

      expect(first.status).toBe(201);
      expect(await repeat.json()).toEqual(await first.json());
      expect(ledger.calls).toEqual([
        expect.objectContaining({ service: 'email', idempotencyKey: 'welcome:u1', repeats: 1 }),
      ]);
      expect(await app.stop('SIGTERM')).toBe(0);
      expect(app.output()).toMatch(/"msg":"closing"/);
    });
  });

  describe('when an environment variable is bad', () => {
    it('exits 1 with a message naming the variable', async () => {
      const error = await startApp({
        entry,
        env: { SANDBOX_PORT: 'not-a-port' },
        readyUrl: `http://127.0.0.1:${await freePort()}/readyz`,
        readyTimeoutMs: 10_000,
      }).then(
        () => undefined,
        (reason: unknown) => reason,
      );

      expect(error).toBeInstanceOf(AppStartError);
      expect((error as AppStartError).message).toMatch(/exited with code 1/);
      expect((error as AppStartError).output).toMatch(/SANDBOX_PORT: must be a port number/);
    });
  });
});
