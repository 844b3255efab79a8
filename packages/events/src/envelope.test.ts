import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  parseEnvelope,
  parsePublishRequest,
  SchemaInvalidError,
  UnknownEventTypeError,
  UnknownEventVersionError,
  type EventError,
} from './index.js';

const signup = {
  type: 'user.signed_up',
  version: 1,
  data: { userId: 'u_1', email: 'ada@example.com', plan: 'pro' },
};
const payment = {
  type: 'payment.failed',
  version: 1,
  data: {
    userId: 'u_1',
    invoiceId: 'in_1',
    amountCents: 1999,
    currency: 'EUR',
    reason: 'card_declined',
  },
};

function rejection(input: unknown, header?: string): EventError {
  try {
    parsePublishRequest(input, { idempotencyKeyHeader: header });
  } catch (error) {
    return error as EventError;
  }
  throw new Error('expected the input to be rejected');
}

describe('parsePublishRequest', () => {
  describe('when the input is valid', () => {
    it('accepts both catalogue events', () => {
      expect(parsePublishRequest(signup).data).toEqual(signup.data);
      expect(parsePublishRequest(payment).data).toEqual(payment.data);
    });

    it('keeps the optional envelope fields', () => {
      const parsed = parsePublishRequest({
        ...signup,
        tenantId: 'acme',
        correlationId: 'req-42',
        occurredAt: '2026-01-02T03:04:05+02:00',
        idempotencyKey: 'signup-u_1',
      });
      expect(parsed).toMatchObject({
        tenantId: 'acme',
        correlationId: 'req-42',
        idempotencyKey: 'signup-u_1',
      });
    });

    it('lets the Idempotency-Key header win over the body field', () => {
      expect(
        parsePublishRequest(
          { ...signup, idempotencyKey: 'body' },
          { idempotencyKeyHeader: 'header' },
        ).idempotencyKey,
      ).toBe('header');
    });

    it('accepts strings at their maximum length', () => {
      const reason = 'x'.repeat(500);
      expect(
        parsePublishRequest({ ...payment, data: { ...payment.data, reason } }).data.reason,
      ).toBe(reason);
    });
  });

  describe('when the type or version is unknown', () => {
    it('names the unknown type', () => {
      const error = rejection({ ...signup, type: 'user.deleted' });
      expect(error).toBeInstanceOf(UnknownEventTypeError);
      expect(error.code).toBe('SY_ERR_UNKNOWN_EVENT_TYPE');
      expect(error.message).toContain('user.deleted');
    });

    it('names the unknown version', () => {
      const error = rejection({ ...signup, version: 7 });
      expect(error).toBeInstanceOf(UnknownEventVersionError);
      expect(error.code).toBe('SY_ERR_UNKNOWN_EVENT_VERSION');
    });

    it('does not resolve inherited object keys as event types', () => {
      expect(rejection({ ...signup, type: 'constructor.x' })).toBeInstanceOf(UnknownEventTypeError);
      expect(rejection({ ...signup, type: 'to.string' })).toBeInstanceOf(UnknownEventTypeError);
    });
  });

  describe('when the data does not match the schema', () => {
    it.each([
      ['a number for a string', { userId: 5 }],
      ['a missing field', { plan: undefined }],
      ['an unknown plan', { plan: 'platinum' }],
      ['a bad e-mail', { email: 'not-an-email' }],
      ['an empty id', { userId: '' }],
      ['an id with spaces', { userId: 'u 1' }],
      ['a huge string', { userId: 'u'.repeat(1_000_000) }],
      ['an over-long e-mail', { email: `${'a'.repeat(250)}@example.com` }],
    ])('rejects %s with the path of the field', (_label, patch) => {
      const data = { ...signup.data, ...patch };
      const error = rejection({ ...signup, data });
      expect(error).toBeInstanceOf(SchemaInvalidError);
      expect(error.code).toBe('SY_ERR_SCHEMA_INVALID');
      expect(error.details?.[0]?.path[0]).toBe('data');
    });

    it('rejects an extra key instead of dropping it', () => {
      const error = rejection({ ...signup, data: { ...signup.data, admin: true } });
      expect(error.details).toEqual([
        expect.objectContaining({ code: 'unrecognized_keys', path: ['data'] }),
      ]);
    });

    it('rejects a __proto__ key that JSON.parse made an own property', () => {
      const hostile: unknown = JSON.parse(
        '{"type":"user.signed_up","version":1,"data":{"userId":"u_1","email":"a@example.com","plan":"pro","__proto__":{"isAdmin":true}}}',
      );
      expect(rejection(hostile)).toBeInstanceOf(SchemaInvalidError);
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    });

    it.each([
      ['a non-integer amount', { amountCents: 10.5 }],
      ['a zero amount', { amountCents: 0 }],
      ['an amount past the cap', { amountCents: 1_000_000_000_001 }],
      ['a lower-case currency', { currency: 'eur' }],
      ['an empty reason', { reason: '' }],
      ['an over-long reason', { reason: 'x'.repeat(501) }],
    ])('rejects payment.failed with %s', (_label, patch) => {
      expect(rejection({ ...payment, data: { ...payment.data, ...patch } })).toBeInstanceOf(
        SchemaInvalidError,
      );
    });
  });

  describe('when the envelope itself is malformed', () => {
    it.each([
      ['not an object', 'hello'],
      ['null', null],
      ['an array', [signup]],
      ['a missing type', { version: 1, data: {} }],
      ['a string version', { ...signup, version: '1' }],
      ['a fractional version', { ...signup, version: 1.5 }],
      ['data that is an array', { ...signup, data: [] }],
      ['an unknown envelope key', { ...signup, routingHint: 'fast' }],
      ['a bad timestamp', { ...signup, occurredAt: 'yesterday' }],
      ['a tenant with spaces', { ...signup, tenantId: 'a b' }],
      ['an over-long idempotency key', { ...signup, idempotencyKey: 'k'.repeat(201) }],
    ])('rejects %s', (_label, input) => {
      expect(rejection(input)).toBeInstanceOf(SchemaInvalidError);
    });

    it('rejects a bad Idempotency-Key header', () => {
      const error = rejection(signup, 'has spaces');
      expect(error).toBeInstanceOf(SchemaInvalidError);
      expect(error.details?.[0]?.path).toEqual(['Idempotency-Key']);
    });

    it('does not echo the rejected value back', () => {
      const error = rejection({ ...signup, data: { ...signup.data, email: 'secret-value' } });
      expect(JSON.stringify(error.details)).not.toContain('secret-value');
    });
  });
});

describe('createEnvelope', () => {
  const now = () => new Date('2026-11-25T10:00:00.000Z');

  it('fills in id, occurredAt, correlationId and a derived idempotency key', () => {
    const envelope = createEnvelope(parsePublishRequest(signup), { now });
    expect(envelope.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(envelope.occurredAt).toBe('2026-11-25T10:00:00.000Z');
    expect(envelope.correlationId).toBe(envelope.id);
    expect(envelope.idempotencyKey).toMatch(/^user\.signed_up:v1:[A-Za-z0-9_-]{43}$/);
  });

  it('keeps what the publisher sent', () => {
    const envelope = createEnvelope(
      parsePublishRequest({
        ...signup,
        correlationId: 'c-1',
        occurredAt: '2026-01-01T00:00:00Z',
        idempotencyKey: 'k-1',
        tenantId: 't',
      }),
      { now, newId: () => '01900000-0000-7000-8000-000000000000' },
    );
    expect(envelope).toMatchObject({
      id: '01900000-0000-7000-8000-000000000000',
      correlationId: 'c-1',
      occurredAt: '2026-01-01T00:00:00Z',
      idempotencyKey: 'k-1',
      tenantId: 't',
    });
  });

  it('gives every event a new, time-ordered id', () => {
    const ids = Array.from({ length: 50 }, () => createEnvelope(parsePublishRequest(signup)).id);
    expect(new Set(ids).size).toBe(50);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe('parseEnvelope', () => {
  it('accepts an envelope that went through JSON', () => {
    const envelope = createEnvelope(parsePublishRequest(payment));
    expect(parseEnvelope(JSON.parse(JSON.stringify(envelope)))).toEqual(envelope);
  });

  it('rejects an envelope whose data was tampered with', () => {
    const envelope = createEnvelope(parsePublishRequest(payment));
    expect(() =>
      parseEnvelope({ ...envelope, data: { ...envelope.data, amountCents: -1 } }),
    ).toThrow(SchemaInvalidError);
  });

  it('rejects an envelope without id or with a v4 id', () => {
    const envelope = createEnvelope(parsePublishRequest(payment));
    const { id: _id, ...withoutId } = envelope;
    expect(() => parseEnvelope(withoutId)).toThrow(SchemaInvalidError);
    expect(() =>
      parseEnvelope({ ...envelope, id: '4b0c1a4e-5c4e-4b6a-9d1e-0a6f3c2b1d00' }),
    ).toThrow(SchemaInvalidError);
  });

  it('rejects an unknown type with its own error', () => {
    const envelope = createEnvelope(parsePublishRequest(payment));
    expect(() => parseEnvelope({ ...envelope, type: 'payment.refunded' })).toThrow(
      UnknownEventTypeError,
    );
    expect(() => parseEnvelope({ ...envelope, version: 2 })).toThrow(UnknownEventVersionError);
  });
});
