/**
 * The built producer as users run it: `node apps/producer/dist/main.js`.
 * Needs a build first: `pnpm --filter @switchyard/producer... build` (turbo's
 * `test` task depends on `build`, so `pnpm test` does it).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startApp,
  startRedis,
  type AppProcess,
  type RedisHandle,
} from '@switchyard/testkit';
import { apiKey, signedUp } from './support/producer-fixture.js';

const entry = fileURLToPath(new URL('../dist/main.js', import.meta.url));

let server: RedisHandle;
let app: AppProcess | undefined;

beforeAll(async () => {
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run "pnpm --filter @switchyard/producer... build" first`);
  }
  server = await startRedis({ forceProcess: true });
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await app?.kill();
  app = undefined;
});

async function startConfigured(env: Record<string, string> = {}): Promise<AppProcess> {
  const port = await freePort();
  return startApp({
    entry,
    env: {
      REDIS_URL: server.url,
      PRODUCER_PORT: String(port),
      API_KEYS: apiKey,
      QUEUE_PREFIX: 'proc',
      ...env,
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
}

function publish(url: string, userId: string): Promise<Response> {
  return fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(signedUp(userId)),
  });
}

/** Holds every write on the server for `ms`, so a publish stays in flight. */
async function pauseWrites(ms: number): Promise<void> {
  const admin = new Redis(server.url);
  await admin.call('CLIENT', 'PAUSE', String(ms), 'WRITE');
  admin.disconnect();
}

describe('producer process (dist/main.js)', () => {
  describe('when API_KEYS is missing', () => {
    it('refuses to start: exits 1 with a message naming API_KEYS', async () => {
      app = await startApp({
        entry,
        env: { REDIS_URL: server.url, PRODUCER_PORT: String(await freePort()) },
      });

      expect(await app.exited).toBe(1);
      expect(app.output()).toMatch(/API_KEYS: is required/);
    });
  });

  describe('when a key is too short', () => {
    it('exits 1 naming API_KEYS without printing the key', async () => {
      app = await startApp({
        entry,
        env: {
          REDIS_URL: server.url,
          PRODUCER_PORT: String(await freePort()),
          API_KEYS: `${apiKey},short-secret`,
        },
      });

      expect(await app.exited).toBe(1);
      expect(app.output()).toMatch(/API_KEYS\.1: every key must be at least 16 characters/);
      expect(app.output()).not.toContain('short-secret');
    });
  });

  describe('when configured', () => {
    it('starts, answers 202, and exits 0 on SIGTERM', async () => {
      app = await startConfigured();

      const response = await publish(app.url, 'u_proc');
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({
        status: 'accepted',
        queues: ['notifications', 'provisioning'],
      });

      expect(await app.stop('SIGTERM')).toBe(0);
      expect(app.output()).toContain('"msg":"stopped"');
      expect(app.output()).not.toContain(apiKey);
    });
  });

  describe('when SIGTERM arrives while a publish is in flight', () => {
    it('finishes that request with 202 before exiting 0', async () => {
      app = await startConfigured();
      await pauseWrites(700);
      const inFlight = publish(app.url, 'u_drain');
      await new Promise((resolve) => setTimeout(resolve, 200));

      const exit = app.stop('SIGTERM');

      expect((await inFlight).status).toBe(202);
      expect(await exit).toBe(0);
      expect(app.output()).toContain('"msg":"event published"');
    });
  });

  describe('when draining outlasts SHUTDOWN_TIMEOUT_MS', () => {
    it('exits 1 once the timeout passes', async () => {
      app = await startConfigured({ SHUTDOWN_TIMEOUT_MS: '300', REDIS_COMMAND_TIMEOUT_MS: '5000' });
      await pauseWrites(3_000);
      const inFlight = publish(app.url, 'u_slow').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));

      const started = performance.now();
      expect(await app.stop('SIGTERM')).toBe(1);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(app.output()).toContain('shutdown did not finish in time');
      await inFlight;
    });
  });

  describe('when a second signal arrives while draining', () => {
    it('exits 1 at once', async () => {
      app = await startConfigured({ REDIS_COMMAND_TIMEOUT_MS: '5000' });
      await pauseWrites(3_000);
      const inFlight = publish(app.url, 'u_twice').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      process.kill(app.pid, 'SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 100));

      const started = performance.now();
      expect(await app.stop('SIGINT')).toBe(1);
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(app.output()).toContain('second signal');
      await inFlight;
    });
  });
});
