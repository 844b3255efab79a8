/**
 * The event Switchyard's publishers (HTTP and client) send in the bench:
 * `payment.failed` v1 (one subscriber, billing, so one event is one job),
 * a unique invoiceId per event in this run (its idempotency key), the
 * publish time in correlationId (`t<epoch ms>`), and about `payloadBytes`
 * of JSON in `data`.
 */
import { randomBytes } from 'node:crypto';

export function paymentFailedEvents(payloadBytes: number) {
  const run = randomBytes(4).toString('hex');
  // userId + invoiceId + amount + currency + keys come to ~90 bytes; the reason pads the rest.
  const reason = 'r'.repeat(Math.max(1, payloadBytes - 90));
  return (seq: number, ts: number) => ({
    type: 'payment.failed',
    version: 1,
    correlationId: `t${ts.toFixed(3)}`,
    data: {
      userId: `u_${seq % 1000}`,
      invoiceId: `inv_${run}_${seq}`,
      amountCents: 1999,
      currency: 'EUR',
      reason,
    },
  });
}
