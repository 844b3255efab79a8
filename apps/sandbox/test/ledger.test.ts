import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildSandbox } from '../src/index.js';
import { callService, manualClock } from './helpers.js';

let app: FastifyInstance;
const clock = manualClock();

beforeEach(() => {
  app = buildSandbox({ clock: clock.now });
});

afterEach(async () => {
  await app.close();
});

const getLedger = async (): Promise<unknown> =>
  (await app.inject({ method: 'GET', url: '/ledger' })).json();

describe('the ledger', () => {
  describe('when calls were accepted', () => {
    it('lists them in acceptance order with their first time and body', async () => {
      const t0 = clock.now();
      await callService(app, 'workspaces', 'ws:u1', { userId: 'u1' });
      clock.advance(1_000);
      await callService(app, 'email', 'welcome:u1', { to: 'ada@example.com' });
      clock.advance(1_000);
      await callService(app, 'billing-alerts', 'alert:inv1', { invoiceId: 'inv1' });
      clock.advance(1_000);
      await callService(app, 'workspaces', 'ws:u1', { userId: 'u1' });

      expect(await getLedger()).toEqual({
        calls: [
          {
            service: 'workspaces',
            idempotencyKey: 'ws:u1',
            repeats: 1,
            firstAt: new Date(t0).toISOString(),
            body: { userId: 'u1' },
          },
          {
            service: 'email',
            idempotencyKey: 'welcome:u1',
            repeats: 0,
            firstAt: new Date(t0 + 1_000).toISOString(),
            body: { to: 'ada@example.com' },
          },
          {
            service: 'billing-alerts',
            idempotencyKey: 'alert:inv1',
            repeats: 0,
            firstAt: new Date(t0 + 2_000).toISOString(),
            body: { invoiceId: 'inv1' },
          },
        ],
      });
    });
  });

  describe('when it is deleted', () => {
    it('answers 204 and is empty afterwards', async () => {
      await callService(app, 'email', 'welcome:u1');

      const response = await app.inject({ method: 'DELETE', url: '/ledger' });

      expect(response.statusCode).toBe(204);
      expect(response.body).toBe('');
      expect(await getLedger()).toEqual({ calls: [] });
    });

    it('forgets the keys, so the same key is applied again', async () => {
      const before = await callService(app, 'email', 'welcome:u1');
      await app.inject({ method: 'DELETE', url: '/ledger' });

      const after = await callService(app, 'email', 'welcome:u1');

      expect(after.statusCode).toBe(201);
      expect(after.json<{ id: string }>().id).not.toBe(before.json<{ id: string }>().id);
      expect(await getLedger()).toMatchObject({
        calls: [{ idempotencyKey: 'welcome:u1', repeats: 0 }],
      });
    });
  });
});
