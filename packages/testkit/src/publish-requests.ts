/**
 * Publish-request bodies (what a client sends to POST /v1/events or passes
 * to a publisher), as plain objects: not validated, so `overrides` can make
 * them invalid on purpose.
 */

/** A `user.signed_up` v1 request for `userId`, plan 'free'; `overrides` replace top-level fields. */
export function signedUpRequest(userId = 'u_1', overrides: Record<string, unknown> = {}) {
  return {
    type: 'user.signed_up',
    version: 1,
    data: { userId, email: `${userId}@example.com`, plan: 'free' },
    ...overrides,
  };
}

/** A `payment.failed` v1 request for `invoiceId`; `overrides` replace top-level fields. */
export function paymentFailedRequest(invoiceId = 'in_1', overrides: Record<string, unknown> = {}) {
  return {
    type: 'payment.failed',
    version: 1,
    data: {
      userId: 'u_1',
      invoiceId,
      amountCents: 1_999,
      currency: 'EUR',
      reason: 'card declined',
    },
    ...overrides,
  };
}
