import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildSandbox, type BuildSandboxOptions, type ControlView } from '../src/index.js';
import { callService, manualClock, putControl, scripted, seeded } from './helpers.js';

let app: FastifyInstance | undefined;

function sandbox(opts: BuildSandboxOptions = {}): FastifyInstance {
  app = buildSandbox(opts);
  return app;
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function getControl(target: FastifyInstance): Promise<ControlView> {
  return (await target.inject({ method: 'GET', url: '/control' })).json<ControlView>();
}

async function ledgerKeys(target: FastifyInstance): Promise<string[]> {
  const { calls } = (await target.inject({ method: 'GET', url: '/ledger' })).json<{
    calls: { idempotencyKey: string }[];
  }>();
  return calls.map((call) => call.idempotencyKey);
}

describe('control', () => {
  describe('when nothing was set', () => {
    it('shows a healthy, instant API and zeroed stats', async () => {
      const target = sandbox();

      expect(await getControl(target)).toEqual({
        latencyMs: 0,
        errorRate: 0,
        status429Rate: 0,
        retryAfterSeconds: 1,
        downUntil: null,
        stats: { accepted: 0, repeats: 0, status429: 0, status500: 0, status503: 0 },
      });
    });
  });

  describe('when settings are PUT', () => {
    it('merges them with the current ones and answers the result', async () => {
      const target = sandbox();
      await putControl(target, { errorRate: 0.5 });

      const response = await putControl(target, { latencyMs: 10 });

      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ errorRate: 0.5, latencyMs: 10, status429Rate: 0 });
      expect(await getControl(target)).toMatchObject({ errorRate: 0.5, latencyMs: 10 });
    });
  });

  describe('when the body is invalid', () => {
    it.each([
      ['an unknown key', { errorrate: 0.5 }, 'unrecognized_keys'],
      ['a wrong type', { latencyMs: '100' }, 'invalid_type'],
      ['a rate above 1', { errorRate: 1.5 }, 'too_big'],
      ['a negative duration', { downForMs: -1 }, 'too_small'],
      ['a fractional duration', { latencyMs: 1.5 }, 'invalid_type'],
      ['an absurd latency', { latencyMs: 600_000 }, 'too_big'],
      ['an array', [], 'invalid_type'],
    ])('answers 400 with zod issues for %s, changing nothing', async (_case, body, issueCode) => {
      const target = sandbox();

      const response = await putControl(target, body);

      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: {
          code: 'SY_ERR_SCHEMA_INVALID',
          message: 'invalid control settings',
          details: { issues: [expect.objectContaining({ code: issueCode }) as unknown] },
        },
      });
      expect(await getControl(target)).toMatchObject({
        latencyMs: 0,
        errorRate: 0,
        downUntil: null,
      });
    });

    it('answers 415 to a body that is not JSON', async () => {
      const target = sandbox();

      const response = await target.inject({
        method: 'PUT',
        url: '/control',
        headers: { 'content-type': 'text/plain' },
        payload: 'errorRate=1',
      });

      expect(response.statusCode).toBe(415);
    });
  });

  describe('when downForMs is set', () => {
    it('answers every service call 503 with Retry-After rounded up, until the window ends', async () => {
      const clock = manualClock();
      const target = sandbox({ clock: clock.now });
      await putControl(target, { downForMs: 2_500 });
      expect((await getControl(target)).downUntil).toBe(
        new Date(clock.now() + 2_500).toISOString(),
      );

      const during = await callService(target, 'email', 'k1');
      clock.advance(1_000);
      const later = await callService(target, 'billing-alerts', 'k2');
      clock.advance(1_500);
      const after = await callService(target, 'email', 'k1');

      expect(during.statusCode).toBe(503);
      expect(during.headers['retry-after']).toBe('3');
      expect(during.json()).toMatchObject({ error: { code: 'SY_ERR_SANDBOX_DOWN' } });
      expect(later.statusCode).toBe(503);
      expect(later.headers['retry-after']).toBe('2');
      expect(after.statusCode).toBe(201);
      expect(await ledgerKeys(target)).toEqual(['k1']);
      expect(await getControl(target)).toMatchObject({
        downUntil: null,
        stats: { status503: 2, accepted: 1 },
      });
    });

    it('ends the outage early when set to 0', async () => {
      const target = sandbox();
      await putControl(target, { downForMs: 60_000 });

      await putControl(target, { downForMs: 0 });

      expect((await callService(target, 'email', 'k')).statusCode).toBe(201);
    });

    it('ends on its own with the real clock', async () => {
      const target = sandbox();
      await putControl(target, { downForMs: 100 });
      expect((await callService(target, 'email', 'k')).statusCode).toBe(503);

      await new Promise((resolve) => setTimeout(resolve, 150));

      expect((await callService(target, 'email', 'k')).statusCode).toBe(201);
    });
  });

  describe('when status429Rate is set', () => {
    it('answers that share 429 with Retry-After (default 1 s) and applies the retry', async () => {
      const target = sandbox({ random: scripted([0.2, 0.7]) });
      await putControl(target, { status429Rate: 0.5 });

      const limited = await callService(target, 'email', 'k');
      const retried = await callService(target, 'email', 'k');

      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('1');
      expect(limited.json()).toMatchObject({ error: { code: 'SY_ERR_SANDBOX_RATE_LIMITED' } });
      expect(retried.statusCode).toBe(201);
      expect(await ledgerKeys(target)).toEqual(['k']);
      expect((await getControl(target)).stats).toMatchObject({
        status429: 1,
        accepted: 1,
        repeats: 0,
      });
    });

    it('sends the configured retryAfterSeconds', async () => {
      const target = sandbox();
      await putControl(target, { status429Rate: 1, retryAfterSeconds: 7 });

      const response = await callService(target, 'workspaces', 'k');

      expect(response.statusCode).toBe(429);
      expect(response.headers['retry-after']).toBe('7');
    });
  });

  describe('when errorRate is set', () => {
    it('answers 500 exactly to the calls whose draw falls under the rate', async () => {
      const target = sandbox({ random: scripted([0.5, 0.1, 0.29, 0.3]) });
      await putControl(target, { errorRate: 0.3 });

      const statuses = [];
      for (const key of ['a', 'b', 'c', 'd'])
        statuses.push((await callService(target, 'email', key)).statusCode);

      expect(statuses).toEqual([201, 500, 500, 201]);
      expect(await ledgerKeys(target)).toEqual(['a', 'd']);
      expect((await getControl(target)).stats).toMatchObject({ status500: 2, accepted: 2 });
    });

    it('fails about that share of calls, the same ones for the same seed', async () => {
      const run = async (): Promise<number[]> => {
        const target = buildSandbox({ random: seeded(42) });
        await putControl(target, { errorRate: 0.25 });
        const statuses: number[] = [];
        for (let i = 0; i < 400; i += 1)
          statuses.push((await callService(target, 'email', `k${i}`)).statusCode);
        await target.close();
        return statuses;
      };

      const first = await run();
      const second = await run();

      const failures = first.filter((status) => status === 500).length;
      expect(failures).toBeGreaterThan(70);
      expect(failures).toBeLessThan(130);
      expect(second).toEqual(first);
    });
  });

  describe('when latencyMs is set', () => {
    it('delays each answer by at least that long', async () => {
      const target = sandbox();
      await putControl(target, { latencyMs: 200 });
      const startedAt = performance.now();

      const response = await callService(target, 'email', 'k');

      expect(response.statusCode).toBe(201);
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(195);
    });

    it('does not record a call whose client disconnects while it waits', async () => {
      const target = sandbox();
      await putControl(target, { latencyMs: 300 });
      await target.listen({ port: 0, host: '127.0.0.1' });
      const { port } = target.server.address() as { port: number };

      // A plain socket that goes away mid-call, as a killed worker's would.
      const abandoned = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/email',
        agent: false,
        headers: { 'content-type': 'application/json', 'idempotency-key': 'gone' },
      });
      abandoned.on('error', () => undefined);
      abandoned.end('{}');
      await new Promise((resolve) => setTimeout(resolve, 50));
      abandoned.destroy();
      await new Promise((resolve) => setTimeout(resolve, 400));

      expect(await ledgerKeys(target)).toEqual([]);
      expect((await getControl(target)).stats.accepted).toBe(0);
    });

    it('cuts the wait short when the sandbox closes', async () => {
      const target = sandbox();
      await putControl(target, { latencyMs: 60_000 });
      await target.listen({ port: 0, host: '127.0.0.1' });
      const { port } = target.server.address() as { port: number };
      const pending = fetch(`http://127.0.0.1:${port}/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
        body: '{}',
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const startedAt = performance.now();

      await target.close();
      const response = await pending;

      // Far below the 60 s latency; loose for a loaded machine.
      expect(performance.now() - startedAt).toBeLessThan(10_000);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: 'SY_ERR_SHUTTING_DOWN' } });
    });
  });

  describe('when several faults are on at once', () => {
    it('checks down before 429, and 429 before 500', async () => {
      const clock = manualClock();
      const target = sandbox({ clock: clock.now, random: scripted([0, 0]) });
      await putControl(target, { downForMs: 1_000, status429Rate: 1, errorRate: 1 });

      const down = await callService(target, 'email', 'k');
      clock.advance(1_000);
      const limited = await callService(target, 'email', 'k');
      await putControl(target, { status429Rate: 0 });
      const failed = await callService(target, 'email', 'k');

      expect([down.statusCode, limited.statusCode, failed.statusCode]).toEqual([503, 429, 500]);
    });
  });

  describe('when a key that was applied comes again', () => {
    it('answers it with the first answer while 429s and 500s are on, counts it and draws nothing', async () => {
      // One draw, for the one new key: a repeat that drew would exhaust the script.
      const target = sandbox({ random: scripted([0.5]) });
      const first = await callService(target, 'email', 'k');
      await putControl(target, { status429Rate: 1, errorRate: 1 });

      const repeats = [
        await callService(target, 'email', 'k'),
        await callService(target, 'email', 'k'),
      ];

      for (const repeat of repeats) {
        expect(repeat.statusCode).toBe(201);
        expect(repeat.headers['idempotent-replayed']).toBe('true');
        expect(repeat.json()).toEqual(first.json());
      }
      expect((await callService(target, 'email', 'new')).statusCode).toBe(429);
      expect((await getControl(target)).stats).toMatchObject({
        accepted: 1,
        repeats: 2,
        status429: 1,
        status500: 0,
      });
      const { calls } = (await target.inject({ method: 'GET', url: '/ledger' })).json<{
        calls: { idempotencyKey: string; repeats: number }[];
      }>();
      expect(calls).toEqual([expect.objectContaining({ idempotencyKey: 'k', repeats: 2 })]);
    });

    it('still answers 503 during an outage, and the first answer once it ends', async () => {
      const clock = manualClock();
      const target = sandbox({ clock: clock.now });
      const first = await callService(target, 'email', 'k');
      await putControl(target, { downForMs: 1_000 });

      const during = await callService(target, 'email', 'k');
      clock.advance(1_000);
      const after = await callService(target, 'email', 'k');

      expect(during.statusCode).toBe(503);
      expect(after.statusCode).toBe(201);
      expect(after.json()).toEqual(first.json());
      expect((await getControl(target)).stats).toMatchObject({
        accepted: 1,
        repeats: 1,
        status503: 1,
      });
    });

    it('waits out the latency before answering it', async () => {
      const target = sandbox();
      await callService(target, 'email', 'k');
      await putControl(target, { latencyMs: 200 });
      const startedAt = performance.now();

      const repeat = await callService(target, 'email', 'k');

      expect(repeat.headers['idempotent-replayed']).toBe('true');
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(195);
    });
  });
});
