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

/** Reminders published per round trip. */
export const dunningBatchSize = 500;

/** Some reminders of a sweep were refused; the others were published. */
export class DunningSweepError extends Error {
  readonly code = 'SY_ERR_DUNNING_SWEEP';
}

/**
 * One sweep: publishes every invoice's reminder in batches of
 * `dunningBatchSize`. An item refused (invalid, conflict, backlog full) does
 * not stop the others; the sweep throws DunningSweepError at the end naming
 * how many were refused, so the run counts as failed. A transport failure
 * (Redis down) throws at once. Resolves with how many were newly accepted.
 */
export async function runDunningSweep(
  invoices: readonly DunningInvoice[],
  ctx: Pick<ScheduleContext, 'publisher' | 'scheduledAt' | 'signal' | 'logger'>,
): Promise<number> {
  let accepted = 0;
  const refused: { invoiceId: string; code: string }[] = [];
  for (let from = 0; from < invoices.length; from += dunningBatchSize) {
    ctx.signal.throwIfAborted();
    const chunk = invoices.slice(from, from + dunningBatchSize);
    const results = await ctx.publisher.publishBatch(
      chunk.map((invoice) => ({
        type: 'payment.failed' as const,
        data: { ...invoice, reason: dunningReason },
        idempotencyKey: dunningIdempotencyKey(invoice.invoiceId, ctx.scheduledAt),
        occurredAt: ctx.scheduledAt,
      })),
      { signal: ctx.signal },
    );
    results.forEach((result, i) => {
      if (result.status === 'accepted') accepted += 1;
      else if (result.status === 'rejected') {
        refused.push({ invoiceId: chunk[i]?.invoiceId ?? '?', code: result.error.code });
      }
    });
  }
  ctx.logger.info(
    { invoices: invoices.length, accepted, refused: refused.length },
    'dunning sweep done',
  );
  if (refused.length > 0) {
    ctx.logger.error({ refused: refused.slice(0, 20) }, 'dunning reminders refused');
    throw new DunningSweepError(
      `${refused.length} of ${invoices.length} dunning reminders were refused (first: ${refused[0]?.invoiceId} ${refused[0]?.code})`,
    );
  }
  return accepted;
}

export function dunningSweepSchedule(options: DunningSweepOptions): Schedule {
  return defineSchedule({
    subscriber: 'billing',
    name: 'dunning-sweep',
    every: options.everyMs,
    // A few Redis round trips per batch of 500 invoices.
    timeoutMs: 5 * 60_000,
    run: async (ctx) => {
      await runDunningSweep(options.invoices, ctx);
    },
  });
}
