/** Envelopes built the way the producer builds them. */
import { createEnvelope, parsePublishRequest, type Envelope } from '@switchyard/events';

export function signedUp(userId = 'u_1'): Envelope<'user.signed_up'> {
  return createEnvelope(
    parsePublishRequest({
      type: 'user.signed_up',
      version: 1,
      data: { userId, email: `${userId}@example.com`, plan: 'pro' },
    }),
  ) as Envelope<'user.signed_up'>;
}

export function paymentFailed(invoiceId = 'inv_1'): Envelope<'payment.failed'> {
  return createEnvelope(
    parsePublishRequest({
      type: 'payment.failed',
      version: 1,
      data: {
        userId: 'u_1',
        invoiceId,
        amountCents: 1999,
        currency: 'EUR',
        reason: 'card_declined',
      },
    }),
  ) as Envelope<'payment.failed'>;
}
