/**
 * The dunning sweep's publishing, against a publisher stand-in that keeps
 * the client's idempotency contract (a key seen before is answered
 * 'duplicate' and enqueues nothing); the ledger itself is tested in
 * packages/client.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '@switchyard/observability';
import type { ScheduleContext } from '@switchyard/runtime';
import { dunningReason, dunningSweepSchedule, runDunningSweep } from '../src/dunning-sweep.js';
import { billingEnvSchema, type DunningInvoice } from '../src/env.js';

interface Published {
  type: string;
  data: unknown;
  idempotencyKey: string;
}

/** Enqueued events in `enqueued`; every call (duplicates too) in `calls`. */
function recordingPublisher() {
  const enqueued: Published[] = [];
  const calls: Published[] = [];
  const publisher = {
    transport: 'redis' as const,
    publish: (type: string, data: unknown, options: { idempotencyKey: string }) => {
      const event = { type, data, idempotencyKey: options.idempotencyKey };
      calls.push(event);
      const seen = enqueued.some((e) => e.idempotencyKey === options.idempotencyKey);
      if (!seen) enqueued.push(event);
      return Promise.resolve({
        eventId: `e_${calls.length}`,
        idempotencyKey: options.idempotencyKey,
        status: seen ? 'duplicate' : 'accepted',
        queues: ['billing'],
      });
    },
    publishBatch: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
  return { publisher: publisher as unknown as ScheduleContext['publisher'], enqueued, calls };
}

const invoices: DunningInvoice[] = [
  { userId: 'u_ada', invoiceId: 'inv_1', amountCents: 4_999, currency: 'EUR' },
  { userId: 'u_bob', invoiceId: 'inv_2', amountCents: 1_200, currency: 'USD' },
  { userId: 'u_cy', invoiceId: 'inv_3', amountCents: 99, currency: 'GBP' },
];

function contextAt(publisher: ScheduleContext['publisher'], scheduledAt: string) {
  return {
    publisher,
    scheduledAt: new Date(scheduledAt),
    signal: new AbortController().signal,
    logger: createLogger({ name: 'test', level: 'silent' }),
  };
}

describe('dunning sweep', () => {
  describe('with DUNNING_SWEEP_INVOICES set', () => {
    it('publishes one payment.failed reminder per invoice', async () => {
      const { publisher, enqueued } = recordingPublisher();
      const accepted = await runDunningSweep(
        invoices,
        contextAt(publisher, '2030-01-31T03:00:00.000Z'),
      );
      expect(accepted).toBe(3);
      expect(enqueued).toEqual(
        invoices.map((invoice) => ({
          type: 'payment.failed',
          data: { ...invoice, reason: dunningReason },
          idempotencyKey: `dunning:${invoice.invoiceId}:2030-01-31`,
        })),
      );
    });

    it('publishes nothing twice when the same tick runs again', async () => {
      const { publisher, enqueued, calls } = recordingPublisher();
      const tick = '2030-01-31T03:00:00.000Z';
      await runDunningSweep(invoices, contextAt(publisher, tick));
      const again = await runDunningSweep(invoices, contextAt(publisher, tick));
      expect(again).toBe(0);
      expect(calls).toHaveLength(6);
      expect(enqueued).toHaveLength(3);
    });

    it("reminds again on the next day's tick", async () => {
      const { publisher, enqueued } = recordingPublisher();
      await runDunningSweep(invoices, contextAt(publisher, '2030-01-31T03:00:00.000Z'));
      await runDunningSweep(invoices, contextAt(publisher, '2030-02-01T03:00:00.000Z'));
      expect(enqueued).toHaveLength(6);
    });
  });

  describe('configuration', () => {
    it('defaults to a daily sweep of no invoices', () => {
      const env = billingEnvSchema.parse({});
      expect(env).toEqual({ DUNNING_SWEEP_EVERY_MS: 86_400_000, DUNNING_SWEEP_INVOICES: [] });
      const schedule = dunningSweepSchedule({
        everyMs: env.DUNNING_SWEEP_EVERY_MS,
        invoices: env.DUNNING_SWEEP_INVOICES,
      });
      expect(schedule).toMatchObject({
        subscriber: 'billing',
        name: 'dunning-sweep',
        every: 86_400_000,
      });
    });

    it('parses DUNNING_SWEEP_INVOICES as a JSON array of invoices', () => {
      const env = billingEnvSchema.parse({ DUNNING_SWEEP_INVOICES: JSON.stringify(invoices) });
      expect(env.DUNNING_SWEEP_INVOICES).toEqual(invoices);
    });

    it.each([
      ['not JSON', '[{'],
      ['not an array', '{}'],
      ['a bad currency', JSON.stringify([{ ...invoices[0], currency: 'eur' }])],
    ])('refuses DUNNING_SWEEP_INVOICES that is %s', (_label, value) => {
      expect(billingEnvSchema.safeParse({ DUNNING_SWEEP_INVOICES: value }).success).toBe(false);
    });
  });
});
