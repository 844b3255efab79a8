import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveCredentials, type Credentials } from '../src/credentials.js';
import { parseStackEnv } from '../src/env.js';
import { planStack, type PlannedChild } from '../src/stack-plan.js';
import { formatSummary, redactUrl } from '../src/summary.js';
import { FakeRepo } from './helpers/fake-repo.js';

const CURL =
  `curl -sS -X POST http://127.0.0.1:3000/v1/events -H "Authorization: Bearer $KEY" -H 'content-type: application/json' ` +
  `-d '{"type":"user.signed_up","version":1,"data":{"userId":"u_1","email":"ada@example.com","plan":"pro"}}'`;

describe('formatSummary', () => {
  let repo: FakeRepo;
  let children: PlannedChild[];

  beforeEach(() => {
    repo = new FakeRepo().app('sandbox').app('producer').app('worker-billing').app('dashboard');
  });

  afterEach(() => repo.remove());

  const summary = (credentials: Credentials, notReady: string[] = []): string => {
    children = planStack({
      root: repo.path,
      env: parseStackEnv({ WORKER_REPLICAS: '2' }),
      credentials,
    }).children;
    return formatSummary({
      children,
      notReady: new Set(notReady),
      readyTimeoutMs: 30_000,
      redis: { url: 'redis://127.0.0.1:6379', origin: 'started by the stack on 127.0.0.1:6379' },
      credentials,
    });
  };

  describe('when the credentials were generated', () => {
    it('lists every URL, the Redis and its origin, the credentials and a curl to paste', () => {
      const credentials = resolveCredentials({ dashboardUser: 'admin' });
      const text = summary(credentials);
      for (const url of [
        'http://127.0.0.1:3000',
        'http://127.0.0.1:3001',
        'http://127.0.0.1:3002',
        'http://127.0.0.1:3100/healthz',
        'http://127.0.0.1:3101/healthz',
        'redis://127.0.0.1:6379   started by the stack',
      ]) {
        expect(text).toContain(url);
      }
      expect(text).toContain(credentials.apiKeys[0]);
      expect(text).toContain(`admin / ${credentials.dashboardPassword}`);
      const lines = text.split('\n').map((line) => line.trim());
      expect(lines).toContain(`export KEY='${credentials.apiKeys[0] ?? ''}'`);
      expect(lines).toContain(CURL);
    });
  });

  describe('when the credentials came from the environment', () => {
    it('prints none of them, and the curl reads the key from API_KEYS', () => {
      const credentials = resolveCredentials({
        apiKeys: ['sy_mine_0123456789'],
        dashboardUser: 'ops',
        dashboardPassword: 'correct-horse-battery',
      });
      const text = summary(credentials);
      expect(text).not.toContain('sy_mine_0123456789');
      expect(text).not.toContain('correct-horse-battery');
      expect(text.split('\n').map((line) => line.trim())).toContain('export KEY="${API_KEYS%%,*}"');
    });
  });

  describe('when a child did not become ready', () => {
    it('says which', () => {
      const text = summary(resolveCredentials({ dashboardUser: 'admin' }), ['worker-billing-2']);
      expect(text).toMatch(/worker-billing-2 .*NOT READY after 30s/);
      expect(text).toContain('1 of 5 processes are not ready');
    });
  });
});

describe('redactUrl', () => {
  it('hides a password in a Redis URL', () => {
    expect(redactUrl('redis://:hunter2@h:6379/0')).toBe('redis://:****@h:6379/0');
    expect(redactUrl('rediss://user:hunter2@h:6379')).toBe('rediss://user:****@h:6379');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
