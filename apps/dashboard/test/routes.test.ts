/**
 * Every route and asset of the dashboard, enumerated from the server itself
 * (fastify's onRoute hook) and from @bull-board/ui's static files, so a new
 * route or asset cannot be left out: without credentials each answers 401,
 * a viewer gets 403 on each mutating one, and a cross-origin admin request
 * changes nothing. URLs the router refuses before any hook, requests for an
 * unknown Host, and floods of failed logins are checked here too. Real Redis,
 * server in process (app.inject).
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomPrefix, startRedis, unlinkPrefix, type RedisHandle } from '@switchyard/testkit';
import {
  bullBoardUiPath,
  maxParamLength,
  publicPaths,
  safeMethods,
  type DashboardServer,
  type RegisteredRoute,
} from '../src/build-server.js';
import { admin, basic, failedJob, startInProcess, viewer } from './support/dashboard-fixture.js';

type InjectMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

const host = 'dashboard.test:3001';
const ownOrigin = `http://${host}`;

let redisServer: RedisHandle;
let adminRedis: Redis;
let prefix: string;
let server: Awaited<ReturnType<typeof startInProcess>>;
let app: DashboardServer;
let failedJobId: string;

/** A concrete URL for a route pattern: parameters filled, wildcards pointed at a missing file. */
function concrete(url: string): string {
  return url
    .replace(':queueName', 'notifications')
    .replace(':jobId', failedJobId)
    .replace(':queueStatus', 'failed')
    .replace(':schedulerId', 'no-such-scheduler')
    .replace(/:[A-Za-z]+/g, 'x')
    .replace('*', 'no-such-file.js');
}

function staticFiles(): string[] {
  const root = join(bullBoardUiPath(), 'dist', 'static');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
    );
  return walk(root).map((file) => `/static/${relative(root, file).split('\\').join('/')}`);
}

/** The documented exceptions (docs/dashboard.md): they answer a status and nothing else. */
const documentedPublicPaths = ['/healthz', '/readyz'];

/** A fresh client address per call, so the sweeps stay under the per-client failure limit. */
let lastAddress = 0;
const nextAddress = (): string => {
  lastAddress += 1;
  return `198.51.${Math.floor(lastAddress / 250)}.${(lastAddress % 250) + 1}`;
};

/** URLs fastify's router refuses before any hook runs, with the status it gives a signed-in user. */
const refusedByRouter = [
  ['GET', '/queue/%', 400],
  ['GET', '/static/%', 400],
  ['GET', '/search%', 400],
  ['PUT', '/api/queues/notifications/%/retry', 400],
  ['GET', `/api/queues/${'q'.repeat(maxParamLength + 1)}/metrics`, 414],
  ['GET', `/queue/x/${'j'.repeat(maxParamLength + 1)}`, 414],
  ['PUT', `/api/queues/notifications/${'j'.repeat(maxParamLength + 1)}/retry`, 414],
] as const;

/** The headers onSend puts on every answer. */
function expectSecurityHeaders(response: { headers: Record<string, unknown> }, what: string) {
  expect(response.headers['content-security-policy'], what).toContain("default-src 'none'");
  expect(response.headers['x-content-type-options'], what).toBe('nosniff');
  expect(response.headers['x-frame-options'], what).toBe('DENY');
  expect(response.headers['referrer-policy'], what).toBe('same-origin');
  expect(response.headers['cache-control'], what).toBe('no-store');
}

const routes = (): readonly RegisteredRoute[] => app.registeredRoutes;
const isPublic = (route: RegisteredRoute) =>
  (route.method === 'GET' || route.method === 'HEAD') && documentedPublicPaths.includes(route.url);
const mutating = () => routes().filter((route) => !safeMethods.has(route.method));

beforeAll(async () => {
  redisServer = await startRedis();
  adminRedis = new Redis(redisServer.url);
  prefix = randomPrefix();
  failedJobId = await failedJob(redisServer.url, prefix, 'notifications', {
    jobId: 'route-sweep-1',
    data: { type: 'user.signed_up' },
    message: 'boom',
  });
  server = await startInProcess(redisServer.url, prefix);
  app = server.app;
});

afterAll(async () => {
  await server?.close();
  if (adminRedis !== undefined) {
    await unlinkPrefix(adminRedis, prefix);
    adminRedis.disconnect();
  }
  await redisServer?.stop();
});

describe('the route list', () => {
  it('holds Bull Board, its API and assets, our pages and the health endpoints', () => {
    const listed = new Set(routes().map((route) => `${route.method} ${route.url}`));
    for (const expected of [
      'GET /',
      'GET /queue/:queueName/:jobId',
      'GET /api/queues',
      'PUT /api/queues/:queueName/:jobId/retry',
      'PUT /api/queues/:queueName/obliterate',
      'POST /api/queues/:queueName/add',
      'PATCH /api/queues/:queueName/:jobId/update-data',
      'GET /static/*',
      'GET /search',
      'GET /favicon.ico',
      'GET /healthz',
      'GET /readyz',
      'HEAD /search',
    ]) {
      expect(listed, expected).toContain(expected);
    }
    expect(staticFiles().length).toBeGreaterThan(20);
  });
});

describe('without credentials', () => {
  it('lets in nothing but the documented health endpoints, for GET and HEAD only', () => {
    expect([...publicPaths].sort()).toEqual(documentedPublicPaths);
    expect([...safeMethods].sort()).toEqual(['GET', 'HEAD']);
  });

  it('answers 401 with a Basic challenge on every route but /healthz and /readyz', async () => {
    const answers: string[] = [];
    for (const route of routes()) {
      const response = await app.inject({
        method: route.method as InjectMethod,
        url: concrete(route.url),
        headers: { host },
      });
      if (isPublic(route)) {
        expect(response.statusCode, `${route.method} ${route.url} ${response.body}`).toBe(200);
        continue;
      }
      answers.push(`${route.method} ${route.url} -> ${response.statusCode}`);
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(401);
      expect(response.headers['www-authenticate']).toBe(
        'Basic realm="Switchyard dashboard", charset="UTF-8"',
      );
    }
    expect(answers.length).toBeGreaterThan(50);
  });

  it('answers 401 for every static file of Bull Board (which an admin gets with 200, privately cached)', async () => {
    for (const path of staticFiles()) {
      const anonymous = await app.inject({ method: 'GET', url: path });
      expect(anonymous.statusCode, path).toBe(401);
      expect(anonymous.body, path).not.toContain('function');
      const signedIn = await app.inject({
        method: 'GET',
        url: path,
        headers: { authorization: basic(admin.user, admin.password) },
      });
      expect(signedIn.statusCode, path).toBe(200);
      // No shared cache may store an answer to a login.
      expect(signedIn.headers['cache-control'], path).toMatch(/^private\b/);
      expect(signedIn.headers['cache-control'], path).not.toContain('public');
    }
  });

  it('answers 401 for unknown paths and the index page, and does not reveal them', async () => {
    for (const url of ['/no-such-page', '/static/', '/api/', '/queue/notifications', '/.env']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(401);
    }
  });
});

describe('with wrong credentials', () => {
  const wrong = [
    ['a wrong admin password', basic(admin.user, 'not-the-password')],
    ['a wrong viewer password (scrypt user)', basic(viewer.user, 'not-the-password')],
    ['an unknown user', basic('nobody', admin.password)],
    ['a malformed header', 'Basic !!!'],
    ['a bearer token', `Bearer ${admin.password}`],
  ] as const;

  it.each(wrong)('answers 401 on every route for %s', async (_name, authorization) => {
    for (const route of routes()) {
      if (isPublic(route)) continue;
      const response = await app.inject({
        method: route.method as InjectMethod,
        url: concrete(route.url),
        headers: { host, origin: ownOrigin, authorization },
        remoteAddress: nextAddress(),
      });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(401);
    }
  });
});

describe('URLs the router refuses before any hook', () => {
  it('answer 401 with a Basic challenge and the security headers without a valid login', async () => {
    for (const [method, url] of refusedByRouter) {
      for (const authorization of [undefined, basic(admin.user, 'not-the-password')]) {
        const response = await app.inject({
          method,
          url,
          headers: { host, ...(authorization === undefined ? {} : { authorization }) },
          remoteAddress: nextAddress(),
        });
        const what = `${method} ${url.slice(0, 40)} ${authorization === undefined ? 'anonymous' : 'wrong password'}`;
        expect(response.statusCode, what).toBe(401);
        expect(response.headers['www-authenticate'], what).toBe(
          'Basic realm="Switchyard dashboard", charset="UTF-8"',
        );
        expect(response.json<{ error: { code: string } }>().error.code).toBe('SY_ERR_UNAUTHORIZED');
        expectSecurityHeaders(response, what);
      }
    }
  });

  it('answer 400 or 414 with the security headers to a signed-in user, and 421 to an unknown Host', async () => {
    for (const [method, url, status] of refusedByRouter) {
      const what = `${method} ${url.slice(0, 40)}`;
      const response = await app.inject({
        method,
        url,
        headers: { host, authorization: basic(viewer.user, viewer.password) },
      });
      expect(response.statusCode, what).toBe(status);
      expect(response.json<{ error: { code: string } }>().error.code).toBe(
        status === 414 ? 'SY_ERR_URL_TOO_LONG' : 'SY_ERR_BAD_URL',
      );
      expect(response.body, what).not.toContain('q'.repeat(50));
      expectSecurityHeaders(response, what);
      const misdirected = await app.inject({
        method,
        url,
        headers: { host: 'evil.example:3001', authorization: basic(viewer.user, viewer.password) },
      });
      expect(misdirected.statusCode, what).toBe(421);
      expectSecurityHeaders(misdirected, what);
    }
  });

  it('route a job id of maxParamLength characters like any other', async () => {
    const response = await app.inject({
      method: 'GET',
      url: `/api/queues/notifications/${'j'.repeat(maxParamLength)}`,
      headers: { authorization: basic(viewer.user, viewer.password) },
    });
    expect(response.statusCode).not.toBe(414);
    expect(response.statusCode).toBeLessThan(500);
  });
});

describe('a request addressed to an unknown Host (DNS rebinding)', () => {
  it('answers 421 with the reason, before any login check, and changes nothing', async () => {
    const rebound = 'attacker.example:3001';
    for (const route of routes()) {
      if (isPublic(route)) continue;
      const response = await app.inject({
        method: route.method as InjectMethod,
        url: concrete(route.url),
        // What a rebound page sends: its own name as Host and Origin, and a valid login.
        headers: {
          host: rebound,
          origin: `http://${rebound}`,
          authorization: basic(admin.user, admin.password),
        },
        payload: {},
      });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(421);
      if (route.method === 'HEAD') continue;
      expect(response.json<{ error: { code: string; message: string } }>().error).toEqual({
        code: 'SY_ERR_UNKNOWN_HOST',
        message: 'Host "attacker.example" is not a name of this dashboard (DASHBOARD_HOSTS)',
      });
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
    await expectNothingChanged();
  });

  it('still answers the health endpoints, and the loopback names and DASHBOARD_HOSTS', async () => {
    for (const url of ['/healthz', '/readyz']) {
      const response = await app.inject({ method: 'GET', url, headers: { host: 'a.example' } });
      expect(response.statusCode, url).toBe(200);
    }
    for (const name of ['localhost:3001', '127.0.0.1:3001', '[::1]:3001', 'DASHBOARD.test']) {
      const response = await app.inject({
        method: 'GET',
        url: '/api/queues',
        headers: { host: name, authorization: basic(viewer.user, viewer.password) },
      });
      expect(response.statusCode, name).toBe(200);
    }
  });
});

describe('failed logins', () => {
  it('from one address: after 10 in a minute, 429 with Retry-After and nothing checked', async () => {
    const address = nextAddress();
    const attempt = (password: string) =>
      app.inject({
        method: 'GET',
        url: '/api/queues',
        headers: { host, authorization: basic(viewer.user, password) },
        remoteAddress: address,
      });
    for (let failure = 1; failure <= 10; failure += 1) {
      expect((await attempt(`guess-${failure}`)).statusCode, `guess ${failure}`).toBe(401);
    }
    const refused = await attempt('guess-11');
    expect(refused.statusCode).toBe(429);
    expect(refused.json<{ error: { code: string } }>().error.code).toBe(
      'SY_ERR_TOO_MANY_FAILED_LOGINS',
    );
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['www-authenticate']).toBeUndefined();
    expect(refused.headers['content-security-policy']).toContain("default-src 'none'");
    // Another address is not affected.
    const other = await app.inject({
      method: 'GET',
      url: '/api/queues',
      headers: { host, authorization: basic(viewer.user, 'guess-12') },
      remoteAddress: nextAddress(),
    });
    expect(other.statusCode).toBe(401);
  });

  it('in a burst: beyond the check slots, 503 with Retry-After instead of more scrypt work', async () => {
    const responses = await Promise.all(
      Array.from({ length: 24 }, (_, index) =>
        app.inject({
          method: 'GET',
          url: '/api/queues',
          headers: { host, authorization: basic(`made-up-${index}`, `guess-${index}`) },
          remoteAddress: nextAddress(),
        }),
      ),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(
      statuses.every((status) => status === 401 || status === 503),
      String(statuses),
    ).toBe(true);
    expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(2);
    const busy = responses.filter((response) => response.statusCode === 503);
    expect(busy.length, String(statuses)).toBeGreaterThan(0);
    for (const response of busy) {
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json<{ error: { code: string } }>().error.code).toBe('SY_ERR_LOGIN_BUSY');
    }
  });
});

describe('the viewer role', () => {
  it('gets 403 on every mutating route, even same-origin', async () => {
    expect(mutating().length).toBeGreaterThan(20);
    for (const route of mutating()) {
      const response = await app.inject({
        method: route.method as InjectMethod,
        url: concrete(route.url),
        headers: { host, origin: ownOrigin, authorization: basic(viewer.user, viewer.password) },
        payload: {},
      });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(403);
      expect(response.json<{ error: { code: string } }>().error.code).toBe('SY_ERR_READ_ONLY');
    }
    await expectNothingChanged();
  });

  it('reads the board, and sees every queue read-only', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/api/queues',
      headers: { authorization: basic(viewer.user, viewer.password) },
    });
    expect(response.statusCode).toBe(200);
    const { queues } = response.json<{
      queues: { name: string; readOnlyMode: boolean; allowRetries: boolean }[];
    }>();
    expect(queues.map((queue) => queue.name)).toEqual([
      'notifications',
      'notifications.dlq',
      'notifications.schedules',
      'provisioning',
      'provisioning.dlq',
      'provisioning.schedules',
      'billing',
      'billing.dlq',
      'billing.schedules',
    ]);
    expect(queues.every((queue) => queue.readOnlyMode && !queue.allowRetries)).toBe(true);

    const asAdmin = await app.inject({
      method: 'GET',
      url: '/api/queues',
      headers: { authorization: basic(admin.user, admin.password) },
    });
    const adminQueues = asAdmin.json<{ queues: { readOnlyMode: boolean }[] }>().queues;
    expect(adminQueues.every((queue) => !queue.readOnlyMode)).toBe(true);
  });
});

describe('an admin', () => {
  const adminAuth = basic(admin.user, admin.password);

  it('gets 403 on every mutating route without an Origin, and with a foreign one', async () => {
    for (const headers of [
      { host, authorization: adminAuth },
      { host, authorization: adminAuth, origin: 'https://evil.example' },
      { host, authorization: adminAuth, origin: 'null' },
      { host, authorization: adminAuth, 'sec-fetch-site': 'cross-site' },
      { host, authorization: adminAuth, referer: 'https://evil.example/page' },
    ]) {
      for (const route of mutating()) {
        const response = await app.inject({
          method: route.method as InjectMethod,
          url: concrete(route.url),
          headers,
          payload: {},
        });
        expect(response.statusCode, `${route.method} ${route.url} ${JSON.stringify(headers)}`).toBe(
          403,
        );
        expect(response.json<{ error: { code: string } }>().error.code).toBe('SY_ERR_CROSS_ORIGIN');
      }
    }
    await expectNothingChanged();
  });

  it('retries a failed job with a same-origin Origin', async () => {
    const queue = new Queue('notifications', { connection: adminRedis, prefix });
    try {
      const id = await failedJob(redisServer.url, prefix, 'notifications', {
        jobId: 'retry-me',
        data: { type: 'user.signed_up' },
        message: 'boom',
      });
      const response = await app.inject({
        method: 'PUT',
        url: `/api/queues/notifications/${id}/retry`,
        headers: { host, origin: ownOrigin, authorization: adminAuth },
      });
      expect(response.statusCode).toBeLessThan(300);
      expect(await queue.getJobState(id)).toBe('waiting');
    } finally {
      await queue.close();
    }
  });

  it('passes the CSRF check with Sec-Fetch-Site: same-origin or a same-origin Referer when Origin is absent', async () => {
    for (const headers of [
      { 'sec-fetch-site': 'same-origin' },
      { referer: `${ownOrigin}/queue/notifications` },
    ]) {
      const response = await app.inject({
        method: 'PUT',
        url: '/api/queues/billing.schedules/pause',
        headers: { host, authorization: adminAuth, ...headers },
      });
      expect(response.statusCode, JSON.stringify(headers)).toBeLessThan(300);
    }
  });
});

describe('every response', () => {
  it('carries the security headers, whatever its status', async () => {
    const requests = [
      { method: 'GET', url: '/healthz', headers: {} },
      { method: 'GET', url: '/', headers: {} },
      { method: 'GET', url: '/', headers: { authorization: basic(admin.user, admin.password) } },
      {
        method: 'GET',
        url: '/api/queues',
        headers: { authorization: basic(viewer.user, viewer.password) },
      },
      {
        method: 'GET',
        url: '/search?q=x',
        headers: { authorization: basic(viewer.user, viewer.password) },
      },
      {
        method: 'GET',
        url: '/static/favicon.ico',
        headers: { authorization: basic(viewer.user, viewer.password) },
      },
      {
        method: 'GET',
        url: '/nope',
        headers: { authorization: basic(viewer.user, viewer.password) },
      },
      {
        method: 'PUT',
        url: '/api/queues/pause',
        headers: { authorization: basic(viewer.user, viewer.password) },
      },
    ] as const;
    for (const request of requests) {
      const response = await app.inject({ ...request, headers: { ...request.headers } });
      const csp = response.headers['content-security-policy'];
      expect(csp, request.url).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe/);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['referrer-policy']).toBe('same-origin');
    }
  });
});

/** The failed job is still failed, no queue is paused, nothing was added. */
async function expectNothingChanged(): Promise<void> {
  const queue = new Queue('notifications', { connection: adminRedis, prefix });
  try {
    expect(await queue.getJobState(failedJobId)).toBe('failed');
    expect(await queue.isPaused()).toBe(false);
    const counts = await queue.getJobCounts();
    const backlog = ['waiting', 'active', 'delayed', 'prioritized'].map(
      (state) => counts[state] ?? 0,
    );
    expect(backlog).toEqual([0, 0, 0, 0]);
  } finally {
    await queue.close();
  }
}
