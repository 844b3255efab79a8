/** Envelopes built the way the producer builds them (parsePublishRequest, then createEnvelope). */
import {
  createEnvelope,
  parsePublishRequest,
  type Envelope,
  type EventData,
  type StoredEnvelope,
} from '@switchyard/events';

/**
 * A `user.signed_up` envelope in its newest version (v2, what handlers
 * receive) for `userId`, e-mail `<userId>@example.com`, tier 'pro', locale 'en'.
 */
export function signedUp(userId = 'u_1'): Envelope<'user.signed_up'> {
  return createEnvelope(
    parsePublishRequest({
      type: 'user.signed_up',
      version: 2,
      data: { userId, email: `${userId}@example.com`, tier: 'pro', locale: 'en' },
    }),
  ) as Envelope<'user.signed_up'>;
}

/**
 * A `payment.failed` v1 envelope for `invoiceId`; `data` overrides the
 * defaults (userId 'u_1', 1999 EUR cents, reason 'card_declined').
 */
export function paymentFailed(
  invoiceId = 'inv_1',
  data: Partial<EventData<'payment.failed'>> = {},
): Envelope<'payment.failed'> {
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
        ...data,
      },
    }),
  ) as Envelope<'payment.failed'>;
}

/**
 * A stored v1 envelope numbered `n` (userId `u_<n>`, invoiceId `inv_<n>`),
 * optionally for a tenant: for filling queues and dead-letter queues.
 */
export function numberedEnvelope(
  type: 'user.signed_up' | 'payment.failed',
  n: number,
  tenantId?: string,
): StoredEnvelope {
  const data =
    type === 'user.signed_up'
      ? { userId: `u_${n}`, email: `u_${n}@example.com`, plan: 'pro' }
      : {
          userId: `u_${n}`,
          invoiceId: `inv_${n}`,
          amountCents: 1999,
          currency: 'EUR',
          reason: 'card_declined',
        };
  return createEnvelope(
    parsePublishRequest({
      type,
      version: 1,
      data,
      ...(tenantId === undefined ? {} : { tenantId }),
    }),
  );
}
