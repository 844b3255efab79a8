/**
 * The dunning sweep: a schedule of the billing subscriber that publishes a
 * `payment.failed` reminder (reason 'dunning_reminder') for every invoice due
 * for one. It demonstrates the schedule mechanism: there is no invoice store
 * here, so the invoices come from DUNNING_SWEEP_INVOICES (empty by default:
 * the sweep publishes nothing).
 *
 * Idempotency: each reminder's key is `dunning:<invoiceId>:<tick day, UTC>`
 * and its occurredAt is the tick time, so a tick that runs again (a replica
 * killed mid-sweep, the job redelivered) is answered 'duplicate' and
 * publishes nothing twice; the billing handler then sees one event per
 * invoice and day.
 */
import { defineSchedule, type Schedule, type ScheduleContext } from '@switchyard/runtime';
import type { DunningInvoice } from './env.js';

export const dunningReason = 'dunning_reminder';

export interface DunningSweepOptions {
  /** Tick period in ms (DUNNING_SWEEP_EVERY_MS). */
  everyMs: number;
  /** Invoices due for a reminder (DUNNING_SWEEP_INVOICES). */
  invoices: readonly DunningInvoice[];
}

/** The idempotency key of one invoice's reminder on the tick's UTC day. */
export function dunningIdempotencyKey(invoiceId: string, scheduledAt: Date): string {
  return `dunning:${invoiceId}:${scheduledAt.toISOString().slice(0, 10)}`;
}

/** One sweep: publishes each invoice's reminder; resolves with how many were newly accepted. */
export async function runDunningSweep(
  invoices: readonly DunningInvoice[],
  ctx: Pick<ScheduleContext, 'publisher' | 'scheduledAt' | 'signal' | 'logger'>,
): Promise<number> {
  let accepted = 0;
  for (const invoice of invoices) {
    const result = await ctx.publisher.publish(
      'payment.failed',
      { ...invoice, reason: dunningReason },
      {
        idempotencyKey: dunningIdempotencyKey(invoice.invoiceId, ctx.scheduledAt),
        occurredAt: ctx.scheduledAt,
        signal: ctx.signal,
      },
    );
    if (result.status === 'accepted') accepted += 1;
  }
  ctx.logger.info({ invoices: invoices.length, accepted }, 'dunning sweep done');
  return accepted;
}

export function dunningSweepSchedule(options: DunningSweepOptions): Schedule {
  return defineSchedule({
    subscriber: 'billing',
    name: 'dunning-sweep',
    every: options.everyMs,
    // Publishing is a few Redis round trips per invoice.
    timeoutMs: 5 * 60_000,
    run: async (ctx) => {
      await runDunningSweep(options.invoices, ctx);
    },
  });
}
