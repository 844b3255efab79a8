import { describe, expect, it } from 'vitest';
import { catalogue, canonicalJson, deriveIdempotencyKey, payloadFingerprint } from './index.js';
import { tenantId as tenantIdSchema } from './fields.js';

const definition = catalogue['user.signed_up'][1];
const data = { userId: 'u_1', email: 'ada@example.com', plan: 'pro' };

describe('deriveIdempotencyKey', () => {
  const derive = (overrides: Partial<Parameters<typeof deriveIdempotencyKey>[0]> = {}) =>
    deriveIdempotencyKey({ type: 'user.signed_up', version: 1, data, definition, ...overrides });

  it('is deterministic', () => {
    expect(derive()).toBe(derive());
    // Pinned (sha256 of '[null,"u_1"]'): a change here changes every derived key in flight.
    expect(derive()).toBe('user.signed_up:v1:tRf7JBAFjiQRpEBO87AnANExsi2QNul1CVYyNQZaHa4');
  });

  it('depends only on the business key fields', () => {
    expect(derive({ data: { ...data, email: 'other@example.com', plan: 'free' } })).toBe(derive());
    expect(derive({ data: { ...data, userId: 'u_2' } })).not.toBe(derive());
  });

  it('separates types, versions and tenants', () => {
    const base = derive();
    expect(derive({ type: 'user.other' })).not.toBe(base);
    expect(derive({ version: 2 })).not.toBe(base);
    expect(derive({ tenantId: 'acme' })).not.toBe(base);
    expect(derive({ tenantId: 'acme' })).not.toBe(derive({ tenantId: 'globex' }));
  });

  it('cannot be forged by moving text between tenant and value', () => {
    // Both splits of 'a:b:c' are valid, and joined with ':' they would be
    // the same text; the key must still tell them apart.
    const shifted = [
      { tenantId: 'a:b', userId: 'c' },
      { tenantId: 'a', userId: 'b:c' },
    ];
    for (const { tenantId, userId } of shifted) {
      expect(tenantIdSchema.safeParse(tenantId).success).toBe(true);
      expect(definition.schema.safeParse({ ...data, userId }).success).toBe(true);
    }
    const [left, right] = shifted.map(({ tenantId, userId }) =>
      derive({ tenantId, data: { ...data, userId } }),
    );
    expect(left).not.toBe(right);
  });
});

describe('payloadFingerprint', () => {
  const print = (payload: unknown, extra: object = {}) =>
    payloadFingerprint({ type: 'user.signed_up', version: 1, data: payload, ...extra });

  it('ignores property order', () => {
    expect(print({ a: 1, b: { c: 2, d: 3 } })).toBe(print({ b: { d: 3, c: 2 }, a: 1 }));
  });

  it('changes with any field of data, the tenant or the version', () => {
    expect(print(data)).not.toBe(print({ ...data, plan: 'free' }));
    expect(print(data)).not.toBe(print(data, { tenantId: 't' }));
    expect(print(data)).not.toBe(print(data, { version: 2 }));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth', () => {
    expect(canonicalJson({ b: [{ y: 1, x: 2 }], a: null })).toBe('{"a":null,"b":[{"x":2,"y":1}]}');
  });
});
