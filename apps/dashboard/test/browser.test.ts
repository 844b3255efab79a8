/**
 * The built dashboard (dist/main.js, as users run it) in headless Chromium
 * from Debian's package: job data and error text render as text in Bull
 * Board and on our search page, the board's own same-origin XHRs pass the
 * CSRF check, a cross-site form does not, and the CSP blocks nothing the UI
 * needs. Needs `pnpm --filter @switchyard/dashboard... build` and
 * `apt-get install -y chromium`.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisPublisher } from '@switchyard/client';
import {
  assertBuilt,
  freePort,
  randomPrefix,
  signedUpRequest,
  startApp,
  startRedis,
  unlinkPrefix,
  waitReady,
  type AppProcess,
  type RedisHandle,
} from '@switchyard/testkit';
import {
  admin,
  dashboardEnv,
  failExistingJob,
  failedJob,
  imgPayload,
  scriptPayload,
  viewer,
} from './support/dashboard-fixture.js';

/** A Chromium or Chrome binary: SY_CHROMIUM, else Debian's package. */
const chromiumPath = process.env.SY_CHROMIUM ?? '/usr/bin/chromium';
const entry = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const srcDir = fileURLToPath(new URL('../src', import.meta.url));

let redisServer: RedisHandle;
let adminRedis: Redis;
let prefix: string;
let app: AppProcess;
let browser: Browser;
let base: string;

beforeAll(async () => {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is missing at ${chromiumPath}: the XSS checks need a real browser. Install Debian's package: apt-get install -y chromium`,
    );
  }
  assertBuilt(entry, srcDir, 'pnpm --filter @switchyard/dashboard... build');
  redisServer = await startRedis();
  adminRedis = new Redis(redisServer.url);
  prefix = randomPrefix();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  app = await startApp({
    entry,
    env: {
      ...(await dashboardEnv(redisServer.url, prefix)),
      DASHBOARD_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    readyUrl: `${base}/readyz`,
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  const code = await app?.stop();
  if (app !== undefined) expect(code, app.output()).toBe(0);
  if (adminRedis !== undefined) {
    await unlinkPrefix(adminRedis, prefix);
    adminRedis.disconnect();
  }
  await redisServer?.stop();
});

interface Session {
  context: BrowserContext;
  page: Page;
  /** Console errors about CSP, other than the blocked third-party font stylesheet. */
  cspViolations: string[];
  pageErrors: string[];
}

async function open(who: { user: string; password: string }): Promise<Session> {
  const context = await browser.newContext({
    httpCredentials: { username: who.user, password: who.password },
  });
  const page = await context.newPage();
  const session: Session = { context, page, cspViolations: [], pageErrors: [] };
  page.on('console', (message) => {
    const text = message.text();
    if (/content security policy/i.test(text) && !text.includes('fonts.googleapis.com')) {
      session.cspViolations.push(text);
    }
  });
  page.on('pageerror', (error) => session.pageErrors.push(error.message));
  return session;
}

/** Nothing of the payloads ran or became markup. */
async function expectInert(page: Page): Promise<void> {
  expect(await page.evaluate(() => (globalThis as { __xss?: unknown }).__xss)).toBeUndefined();
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  const scripts = await page.locator('script').allTextContents();
  expect(scripts.filter((text) => text.includes('__xss'))).toEqual([]);
}

describe('Bull Board', () => {
  it("shows a job's data and error text as text, for admin and viewer", async () => {
    const jobId = await failedJob(redisServer.url, prefix, 'notifications', {
      jobId: 'xss-job',
      data: { type: 'user.signed_up', data: { userId: imgPayload, note: scriptPayload } },
      message: `${imgPayload} ${scriptPayload}`,
    });
    for (const who of [admin, viewer]) {
      const { context, page, cspViolations, pageErrors } = await open(who);
      try {
        await page.goto(`${base}/queue/notifications/${jobId}`);
        // The Error tab opens first for a failed job.
        await expect
          .poll(() => page.getByText(`${imgPayload} ${scriptPayload}`).first().isVisible(), {
            timeout: 15_000,
          })
          .toBe(true);
        await page.getByRole('tab', { name: 'Data' }).click();
        await expect
          .poll(() => page.getByText('window.__xss=2').first().isVisible(), { timeout: 15_000 })
          .toBe(true);
        await expect.poll(() => page.getByText('onerror').first().isVisible()).toBe(true);
        await expectInert(page);
        expect(cspViolations).toEqual([]);
        expect(pageErrors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });

  it("lets an admin's own XHR change a job, and refuses a viewer's", async () => {
    const jobId = await failedJob(redisServer.url, prefix, 'notifications', {
      jobId: 'browser-retry',
      data: { type: 'user.signed_up' },
      message: 'boom',
    });
    const queue = new Queue('notifications', { connection: adminRedis, prefix });
    try {
      for (const [who, expected, state] of [
        [viewer, 403, 'failed'],
        [admin, 204, 'waiting'],
      ] as const) {
        const { context, page } = await open(who);
        try {
          await page.goto(`${base}/queue/notifications/${jobId}`);
          // A same-origin fetch from the board's page, as its Retry button sends it.
          const status = await page.evaluate(
            async (url) => (await fetch(url, { method: 'PUT' })).status,
            `/api/queues/notifications/${jobId}/retry`,
          );
          expect(
            status === expected || (expected === 204 && status === 200),
            `${who.user}: ${status}`,
          ).toBe(true);
          expect(await queue.getJobState(jobId)).toBe(state);
        } finally {
          await context.close();
        }
      }
    } finally {
      await queue.close();
    }
  });

  it('refuses a cross-site form post from another origin, even with the admin signed in', async () => {
    const attackerPort = await freePort();
    const attacker: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(`<!DOCTYPE html><form id="f" method="post" action="${base}/api/queues/notifications/add">
<input name="name" value="evil"><input name="data" value="{}"></form>
<script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(attackerPort, '127.0.0.1', resolve));
    const queue = new Queue('notifications', { connection: adminRedis, prefix });
    const { context, page } = await open(admin);
    try {
      const before = await queue.getJobCounts();
      const answered = page.waitForResponse(
        (response) =>
          response.url().endsWith('/api/queues/notifications/add') && response.status() !== 401,
      );
      await page.goto(`http://localhost:${attackerPort}/`);
      const response = await answered;
      expect(response.status()).toBe(403);
      expect(await response.text()).toContain('SY_ERR_CROSS_ORIGIN');
      expect(await queue.getJobCounts()).toEqual(before);
    } finally {
      await context.close();
      await queue.close();
      await new Promise((resolve) => attacker.close(resolve));
    }
  });
});

describe('the search page', () => {
  it('finds a job by correlation id and shows every value as text, linking to Bull Board', async () => {
    const correlationId = '<img/src=x/onerror=window.__xss=1>';
    const idempotencyKey = '<script>window.__xss=2</script>';
    const connection = new Redis(redisServer.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    await waitReady(connection);
    const publisher = createRedisPublisher({ connection, prefix });
    let eventId: string;
    try {
      ({ eventId } = await publisher.publish(
        signedUpRequest('u_search', { correlationId, idempotencyKey }),
      ));
    } finally {
      await publisher.close();
      connection.disconnect();
    }
    await failExistingJob(redisServer.url, prefix, 'notifications', eventId, imgPayload);

    const { context, page, cspViolations, pageErrors } = await open(viewer);
    try {
      await page.goto(`${base}/search?q=${encodeURIComponent(correlationId)}`);
      const results = page.locator('#results');
      await expect.poll(() => results.isVisible()).toBe(true);
      const rows = results.locator('tbody tr');
      expect(await rows.count()).toBe(2); // notifications and provisioning
      const text = await results.innerText();
      expect(text).toContain(correlationId);
      expect(text).toContain(idempotencyKey);
      expect(text).toContain(imgPayload);
      expect(await page.locator('input[name=q]').inputValue()).toBe(correlationId);
      await expectInert(page);

      await page.locator(`a[href="/queue/notifications/${eventId}"]`).first().click();
      await page.waitForURL(`${base}/queue/notifications/${eventId}`);
      await expect
        .poll(() => page.getByText(imgPayload).first().isVisible(), { timeout: 15_000 })
        .toBe(true);
      await expectInert(page);
      expect(cspViolations).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is linked from Bull Board', async () => {
    const { context, page } = await open(viewer);
    try {
      const response = await page.goto(`${base}/`);
      expect(response?.status()).toBe(200);
      const config = JSON.parse((await page.locator('#__UI_CONFIG__').textContent()) ?? '{}') as {
        miscLinks?: { url: string }[];
      };
      expect(config.miscLinks?.map((link) => link.url)).toContain('/search');
    } finally {
      await context.close();
    }
  });
});
