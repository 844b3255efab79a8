/**
 * Compile-time contract of createPublisher: `data` is typed from the events
 * catalogue (the newest version by default, or the one `version` names).
 * tsc (the package's typecheck) fails if any `@ts-expect-error` below stops
 * being an error; the run-time half is in create-publisher.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { PublisherClosedError, createPublisher, type Publisher } from '../src/index.js';

const payment = {
  userId: 'u_1',
  invoiceId: 'in_1',
  amountCents: 1_999,
  currency: 'EUR',
  reason: 'card declined',
};

const tierInV1 = { userId: 'u_1', email: 'a@example.com', tier: 'free' } as const;

describe('createPublisher types', () => {
  it('accepts payloads of the catalogue and refuses others at compile time', async () => {
    const publisher: Publisher = createPublisher({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k' });
    await publisher.close();
    const calls = [
      () => publisher.publish('payment.failed', payment),
      () =>
        publisher.publish('payment.failed', {
          ...payment,
          // @ts-expect-error amountCents is a number
          amountCents: '1999',
        }),
      // @ts-expect-error reason is required
      () => publisher.publish('payment.failed', { ...payment, reason: undefined }),
      // @ts-expect-error no such event type
      () => publisher.publish('payment.refunded', payment),
      () =>
        publisher.publish(
          'user.signed_up',
          { userId: 'u_1', email: 'a@example.com', plan: 'free' },
          { version: 1 },
        ),
      // @ts-expect-error v1 has `plan`, not `tier`
      () => publisher.publish('user.signed_up', tierInV1, { version: 1 }),
      () =>
        publisher.publishBatch([
          { type: 'payment.failed', data: payment, priority: 1 },
          {
            type: 'user.signed_up',
            version: 1,
            data: { userId: 'u_1', email: 'a@example.com', plan: 'pro' },
          },
          // @ts-expect-error a payment.failed item needs payment.failed data
          { type: 'payment.failed', data: { userId: 'u_1' } },
        ]),
    ];
    // Closed: every call is refused at run time without a request.
    for (const call of calls) {
      await expect(call()).rejects.toBeInstanceOf(PublisherClosedError);
    }
  });
});
