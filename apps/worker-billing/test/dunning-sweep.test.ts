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

/**
 * Enqueued events in `enqueued`; every item (duplicates too) in `calls`.
 * `refuse` lists invoice ids whose item is answered 'rejected', as the real
 * publisher answers a conflict or a full backlog.
 */
function recordingPublisher(refuse: readonly string[] = []) {
  const enqueued: Published[] = [];
  const calls: Published[] = [];
  const publishBatch = (
    items: { type: string; data: { invoiceId: string }; idempotencyKey: string }[],
  ) =>
    Promise.resolve(
      items.map((item, index) => {
        const event = { type: item.type, data: item.data, idempotencyKey: item.idempotencyKey };
        calls.push(event);
        if (refuse.includes(item.data.invoiceId)) {
          return {
            index,
            status: 'rejected',
            error: { code: 'SY_ERR_BACKLOG_FULL', message: 'backlog full' },
          };
        }
        const seen = enqueued.some((e) => e.idempotencyKey === item.idempotencyKey);
        if (!seen) enqueued.push(event);
        return {
          index,
          eventId: `e_${calls.length}`,
          idempotencyKey: item.idempotencyKey,
          status: seen ? 'duplicate' : 'accepted',
          queues: ['billing'],
        };
      }),
    );
  const publisher = {
    transport: 'redis' as const,
    publish: () => Promise.reject(new Error('not used: the sweep publishes in batches')),
    publishBatch,
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

    it('publishes the other reminders when one is refused, then fails the run naming it', async () => {
      const { publisher, enqueued } = recordingPublisher(['inv_2']);
      await expect(
        runDunningSweep(invoices, contextAt(publisher, '2030-01-31T03:00:00.000Z')),
      ).rejects.toThrow(
        /1 of 3 dunning reminders were refused \(first: inv_2 SY_ERR_BACKLOG_FULL\)/,
      );
      expect(enqueued.map((e) => e.idempotencyKey)).toEqual([
        'dunning:inv_1:2030-01-31',
        'dunning:inv_3:2030-01-31',
      ]);
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
      [
        'an invoice id the event would refuse',
        JSON.stringify([{ ...invoices[0], invoiceId: 'inv 1' }]),
      ],
      [
        'an invoice id over 128 characters',
        JSON.stringify([{ ...invoices[0], invoiceId: 'i'.repeat(129) }]),
      ],
    ])('refuses DUNNING_SWEEP_INVOICES that is %s', (_label, value) => {
      expect(billingEnvSchema.safeParse({ DUNNING_SWEEP_INVOICES: value }).success).toBe(false);
    });
  });
});
