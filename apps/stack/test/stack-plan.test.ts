import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveCredentials } from '../src/credentials.js';
import { parseStackEnv } from '../src/env.js';
import { discoverWorkerApps, planStack, withRedis } from '../src/stack-plan.js';
import { FakeRepo } from './helpers/fake-repo.js';

// Keys a producer would accept (16+ visible characters), as parseStackEnv guarantees.
const KEY_1 = 'sy_test-key-one-0123456789';
const KEY_2 = 'sy_test-key-two-0123456789';

describe('planStack', () => {
  let repo: FakeRepo;
  const credentials = resolveCredentials({
    apiKeys: [KEY_1, KEY_2],
    dashboardUser: 'ops',
    dashboardPassword: 'a-dashboard-password',
  });

  beforeEach(() => {
    repo = new FakeRepo()
      .app('sandbox')
      .app('producer')
      .app('worker-notifications')
      .app('worker-billing');
  });

  afterEach(() => repo.remove());

  /** What the user's shell exported: the stack's variables and any app's. */
  const userEnv = {
    PATH: '/bin',
    HOME: '/home/me',
    BODY_LIMIT_BYTES: '4096',
    WORKER_CONCURRENCY: '3',
    QUEUE_PREFIX: 'mine',
    SHUTDOWN_TIMEOUT_MS: '2500',
    NODE_OPTIONS: '--enable-source-maps',
  };

  const plan = (
    vars: Record<string, string> = {},
    parentEnv: Record<string, string | undefined> = { ...userEnv, ...vars },
  ) =>
    planStack({
      root: repo.path,
      env: parseStackEnv(vars),
      credentials,
      execPath: '/usr/bin/node',
      parentEnv,
    });

  describe('when every app is built', () => {
    it('runs the sandbox, the producer, then WORKER_REPLICAS replicas of each worker app in name order', () => {
      expect(plan({ WORKER_REPLICAS: '3' }).children.map((child) => child.name)).toEqual([
        'sandbox',
        'producer',
        'worker-billing-1',
        'worker-billing-2',
        'worker-billing-3',
        'worker-notifications-1',
        'worker-notifications-2',
        'worker-notifications-3',
      ]);
    });

    it('gives each worker replica its own health port, id and the sandbox URL', () => {
      const workers = plan({ SANDBOX_PORT: '4002' }).children.filter(
        (child) => child.kind === 'worker',
      );
      expect(workers.map((w) => [w.env.WORKER_ID, w.env.HEALTH_PORT, w.readyUrl])).toEqual([
        ['worker-billing-1', '3100', 'http://127.0.0.1:3100/readyz'],
        ['worker-billing-2', '3101', 'http://127.0.0.1:3101/readyz'],
        ['worker-notifications-1', '3200', 'http://127.0.0.1:3200/readyz'],
        ['worker-notifications-2', '3201', 'http://127.0.0.1:3201/readyz'],
      ]);
      for (const worker of workers) expect(worker.env.SANDBOX_URL).toBe('http://127.0.0.1:4002');
    });

    it('passes the producer its port and every API key, and every child LOG_LEVEL and HOST', () => {
      const { children } = plan({ LOG_LEVEL: 'debug' });
      expect(children.find((child) => child.name === 'producer')?.env).toMatchObject({
        PRODUCER_PORT: '3000',
        API_KEYS: `${KEY_1},${KEY_2}`,
      });
      for (const child of children)
        expect(child.env).toMatchObject({ LOG_LEVEL: 'debug', HOST: '127.0.0.1' });
    });

    it('runs each app with this Node from its own folder', () => {
      const producer = plan().children.find((child) => child.name === 'producer');
      expect(producer).toMatchObject({
        command: '/usr/bin/node',
        args: [join(repo.path, 'apps/producer/dist/main.js')],
        cwd: join(repo.path, 'apps/producer'),
      });
    });

    it('passes its whole environment on, so app settings such as BODY_LIMIT_BYTES reach the apps', () => {
      for (const child of plan().children) {
        expect(child.env).toMatchObject(userEnv);
      }
    });

    it("overrides inherited values with the stack's own", () => {
      const { children } = withRedisOf(
        plan(
          {},
          {
            ...userEnv,
            HOST: '0.0.0.0',
            PRODUCER_PORT: '9',
            SANDBOX_PORT: '9',
            SANDBOX_URL: 'http://elsewhere',
            HEALTH_PORT: '9',
            WORKER_ID: 'me',
          },
        ),
        'redis://127.0.0.1:6390',
      );
      const producer = children.find((child) => child.name === 'producer');
      const worker = children.find((child) => child.name === 'worker-billing-2');
      expect(producer?.env).toMatchObject({
        HOST: '127.0.0.1',
        PRODUCER_PORT: '3000',
        REDIS_URL: 'redis://127.0.0.1:6390',
      });
      expect(worker?.env).toMatchObject({
        HOST: '127.0.0.1',
        SANDBOX_URL: 'http://127.0.0.1:3002',
        HEALTH_PORT: '3101',
        WORKER_ID: 'worker-billing-2',
        REDIS_URL: 'redis://127.0.0.1:6390',
      });
      expect(children.find((child) => child.name === 'sandbox')?.env).toMatchObject({
        SANDBOX_PORT: '3002',
      });
    });

    it('hands secrets only to the children that use them', () => {
      repo.app('dashboard');
      const { children } = withRedisOf(
        plan(
          {},
          {
            ...userEnv,
            REDIS_URL: 'redis://:hunter2@elsewhere:6379',
            API_KEYS: 'from-the-shell-0123456789',
            DASHBOARD_USER: 'shell-user',
            DASHBOARD_PASSWORD: 'shell-password',
          },
        ),
        'redis://:pw@127.0.0.1:6390',
      );
      const envOf = (name: string) => children.find((child) => child.name === name)?.env ?? {};
      expect(envOf('sandbox')).not.toHaveProperty('REDIS_URL');
      expect(envOf('producer').API_KEYS).toBe(`${KEY_1},${KEY_2}`);
      expect(envOf('dashboard')).toMatchObject({
        DASHBOARD_USER: 'ops',
        DASHBOARD_PASSWORD: 'a-dashboard-password',
      });
      for (const child of children) {
        expect(child.env.REDIS_URL ?? 'redis://:pw@127.0.0.1:6390').toBe(
          'redis://:pw@127.0.0.1:6390',
        );
        if (child.kind !== 'producer') expect(child.env).not.toHaveProperty('API_KEYS');
        if (child.kind !== 'dashboard') {
          expect(child.env).not.toHaveProperty('DASHBOARD_USER');
          expect(child.env).not.toHaveProperty('DASHBOARD_PASSWORD');
        }
      }
    });

    it('stops the sandbox after the workers that call it', () => {
      const phases = Object.fromEntries(
        plan().children.map((child) => [child.name, child.stopPhase ?? 0]),
      );
      expect(phases.sandbox).toBeGreaterThan(phases['worker-billing-1'] ?? 0);
    });

    it('adds REDIS_URL to every child that talks to Redis once it is known', () => {
      const children = withRedis(plan().children, 'redis://127.0.0.1:6390');
      expect(
        children
          .filter((child) => child.env.REDIS_URL === 'redis://127.0.0.1:6390')
          .map((c) => c.name),
      ).toEqual(children.filter((child) => child.name !== 'sandbox').map((c) => c.name));
    });
  });

  describe('when the dashboard is not built (or not written yet)', () => {
    it('leaves it out', () => {
      expect(plan().children.map((child) => child.kind)).not.toContain('dashboard');
    });
  });

  describe('when the dashboard is built', () => {
    it('runs it with its port and login', () => {
      repo.app('dashboard');
      expect(
        plan({ DASHBOARD_PORT: '4001' }).children.find((child) => child.kind === 'dashboard')?.env,
      ).toMatchObject({
        DASHBOARD_PORT: '4001',
        DASHBOARD_USER: 'ops',
        DASHBOARD_PASSWORD: 'a-dashboard-password',
      });
    });
  });

  describe('when an app is not built', () => {
    it('names every unbuilt app once, and how to build', () => {
      repo.app('producer', '', false).app('worker-provisioning', '', false);
      expect(() => plan()).toThrow(
        expect.objectContaining({
          message: expect.not.stringMatching(/(worker-provisioning is)[\s\S]*\1/) as unknown,
        }),
      );
      expect(() => plan()).toThrow(
        expect.objectContaining({
          code: 'SY_ERR_APP_NOT_BUILT',
          message: expect.stringMatching(
            /apps\/producer is not built[\s\S]*apps\/worker-provisioning is not built[\s\S]*pnpm turbo run build/,
          ) as unknown,
        }),
      );
    });
  });

  describe('when two children would share a port', () => {
    it('names the variable', () => {
      expect(() => plan({ PRODUCER_PORT: '3002' })).toThrow(
        expect.objectContaining({
          code: 'SY_ERR_PORT_IN_USE',
          message: expect.stringContaining('PRODUCER_PORT') as unknown,
        }),
      );
    });
  });
});

function withRedisOf(
  stackPlan: ReturnType<typeof planStack>,
  redisUrl: string,
): ReturnType<typeof planStack> {
  return { ...stackPlan, children: withRedis(stackPlan.children, redisUrl) };
}

describe('discoverWorkerApps', () => {
  describe('when apps/ holds worker folders and others', () => {
    it('lists the worker-* packages only, sorted', () => {
      const repo = new FakeRepo().app('producer').app('worker-b').app('worker-a');
      try {
        mkdirSync(join(repo.path, 'apps', 'worker-not-a-package'));
        expect(discoverWorkerApps(repo.path)).toEqual(['worker-a', 'worker-b']);
      } finally {
        repo.remove();
      }
    });
  });
});
