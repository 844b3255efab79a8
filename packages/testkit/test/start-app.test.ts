import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppStartError, freePort, startApp, type AppProcess } from '../src/index.js';

// Throwaway apps, written per run: plain ESM so Node runs them as they are.
const scripts = {
  // Serves /ready and /env; exits 7 on SIGTERM so the code can be told apart.
  server: `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(req.url === '/env' ? JSON.stringify(process.env) : '{"status":"ok"}');
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on', process.env.PORT));
process.on('SIGTERM', () => server.close(() => process.exit(7)));
`,
  // Like server, but shrugs SIGTERM off.
  stubborn: `
import { createServer } from 'node:http';
createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
`,
  crashing: `
console.error('boom: missing DATABASE_URL');
process.exit(3);
`,
  silent: `
setInterval(() => undefined, 1000);
`,
};

let dir: string;
const entry = (name: keyof typeof scripts): string => join(dir, `${name}.mjs`);
const apps: AppProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-testkit-app-'));
  await Promise.all(
    Object.entries(scripts).map(([name, source]) => writeFile(join(dir, `${name}.mjs`), source)),
  );
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.kill()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startApp', () => {
  describe('when the app becomes ready', () => {
    it('resolves once readyUrl answers 200, with the app serving', async () => {
      const port = await freePort();
      const app = await startApp({
        entry: entry('server'),
        env: { PORT: String(port) },
        readyUrl: `http://127.0.0.1:${port}/ready`,
      });
      apps.push(app);

      expect(app.url).toBe(`http://127.0.0.1:${port}`);
      expect(await (await fetch(`${app.url}/ready`)).json()).toEqual({ status: 'ok' });
      expect(app.output()).toContain(`listening on ${port}`);
    });

    it('gives the app its env over PATH and HOME, and nothing else from this process', async () => {
      process.env.SY_TEST_LEAK = 'must-not-leak';
      try {
        const port = await freePort();
        const app = await startApp({
          entry: entry('server'),
          env: { PORT: String(port), GREETING: 'hi' },
          readyUrl: `http://127.0.0.1:${port}/ready`,
        });
        apps.push(app);

        const env = (await (await fetch(`${app.url}/env`)).json()) as Record<string, string>;

        expect(env.GREETING).toBe('hi');
        expect(env.PATH).toBe(process.env.PATH);
        expect(env.SY_TEST_LEAK).toBeUndefined();
      } finally {
        delete process.env.SY_TEST_LEAK;
      }
    });
  });

  describe('when stopped', () => {
    it('sends SIGTERM and resolves with the exit code', async () => {
      const port = await freePort();
      const app = await startApp({
        entry: entry('server'),
        env: { PORT: String(port) },
        readyUrl: `http://127.0.0.1:${port}/ready`,
      });
      apps.push(app);

      expect(await app.stop()).toBe(7);
      expect(await app.exited).toBe(7);
      expect(await app.stop()).toBe(7);
    });

    it('SIGKILLs an app that ignores the signal once timeoutMs has passed', async () => {
      const port = await freePort();
      const app = await startApp({
        entry: entry('stubborn'),
        env: { PORT: String(port) },
        readyUrl: `http://127.0.0.1:${port}/`,
      });
      apps.push(app);
      const startedAt = Date.now();

      const code = await app.stop('SIGTERM', 300);

      expect(code).toBeNull();
      expect(Date.now() - startedAt).toBeLessThan(3_000);
      expect(app.output()).toContain('ignoring SIGTERM');
      expect(isAlive(app.pid)).toBe(false);
    });
  });

  describe('when the app exits before it is ready', () => {
    it('rejects with its exit code and output', async () => {
      const port = await freePort();

      const failure = startApp({
        entry: entry('crashing'),
        env: {},
        readyUrl: `http://127.0.0.1:${port}/ready`,
        name: 'crasher',
      });

      await expect(failure).rejects.toBeInstanceOf(AppStartError);
      await expect(failure).rejects.toMatchObject({
        code: 'SY_ERR_TESTKIT_APP_START',
        message: expect.stringMatching(
          /crasher .* exited with code 3[\s\S]*boom: missing DATABASE_URL/,
        ) as unknown,
        output: expect.stringContaining('boom: missing DATABASE_URL') as unknown,
      });
    });
  });

  describe('when the app never becomes ready', () => {
    it('kills it after readyTimeoutMs and rejects', async () => {
      const port = await freePort();

      const error = await startApp({
        entry: entry('silent'),
        env: {},
        readyUrl: `http://127.0.0.1:${port}/ready`,
        readyTimeoutMs: 500,
      }).then(
        () => undefined,
        (reason: unknown) => reason,
      );

      expect(error).toBeInstanceOf(AppStartError);
      const { pid, message } = error as AppStartError;
      expect(message).toMatch(/not ready within 500 ms/);
      expect(pid).toBeTypeOf('number');
      expect(isAlive(pid!)).toBe(false);
    });
  });
});
