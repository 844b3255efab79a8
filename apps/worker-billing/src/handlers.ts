/**
 * The billing subscriber: an alert to the billing team for every failed
 * payment, raised through the sandbox's `POST /billing-alerts`. The event's
 * idempotency key goes with the call, so a redelivered event raises one
 * alert, not two.
 *
 * The call runs inside `ctx.once('raise-billing-alert')`: a job delivered twice (its
 * worker killed after the call, before the ack) finds the effect done and
 * does not call again. The Idempotency-Key covers the window ctx.once leaves
 * (killed after the call, before its done marker was written).
 */
import {
  defineHandler,
  type Handler,
  type HttpClient,
  type WorkerAppDeps,
} from '@switchyard/runtime';

/** The handler alone, typed for its event, so a test calls `handle` without a worker. */
export function billingAlertHandler(sandbox: HttpClient) {
  return defineHandler({
    subscriber: 'billing',
    event: 'payment.failed',
    handle: async (event, ctx) => {
      const { userId, invoiceId, amountCents, currency, reason } = event.data;
      await ctx.once('raise-billing-alert', () =>
        sandbox.post(
          '/billing-alerts',
          { userId, invoiceId, amountCents, currency, reason },
          { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal },
        ),
      );
    },
  });
}

export function handlers({ sandbox }: Pick<WorkerAppDeps, 'sandbox'>): Handler[] {
  return [billingAlertHandler(sandbox)];
}
