/**
 * The billing handler against the real downstream: the built sandbox,
 * run as a process the way users run it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '@switchyard/events';
import { createLogger } from '@switchyard/observability';
import { createHttpClient, type HandlerContext } from '@switchyard/runtime';
import { handlerContext, paymentFailed, startSandbox, type Sandbox } from '@switchyard/testkit';
import { billingAlertHandler } from '../src/handlers.js';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterEach(async () => {
  await sandbox.reset();
});

afterAll(async () => {
  await sandbox?.stop();
});

describe('worker-billing', () => {
  describe('when a payment fails', () => {
    it("raises the billing alert with the event's idempotency key", async () => {
      const event = paymentFailed('inv_1', { userId: 'u_ada', amountCents: 4_999 });

      await handler().handle(event, contextFor(event));

      expect(await sandbox.ledger()).toEqual([
        expect.objectContaining({
          service: 'billing-alerts',
          idempotencyKey: event.idempotencyKey,
          repeats: 0,
          body: {
            userId: 'u_ada',
            invoiceId: 'inv_1',
            amountCents: 4_999,
            currency: 'EUR',
            reason: 'card_declined',
          },
        }),
      ]);
    });
  });

  describe('when the same event is handled twice', () => {
    it('is applied once downstream', async () => {
      const event = paymentFailed('inv_2', { userId: 'u_ada', amountCents: 4_999 });

      await handler().handle(event, contextFor(event));
      await handler().handle(event, { ...contextFor(event), attempt: 2 });

      expect(await sandbox.ledger()).toEqual([
        expect.objectContaining({ idempotencyKey: event.idempotencyKey, repeats: 1 }),
      ]);
    });
  });
});

const handler = () => billingAlertHandler(createHttpClient({ baseUrl: sandbox.url }));

function contextFor(event: Envelope): HandlerContext {
  return handlerContext(event, {
    subscriber: 'billing',
    logger: createLogger({ name: 'worker-billing-test', level: 'silent' }),
  });
}
