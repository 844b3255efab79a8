import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  catalogue,
  createEnvelope,
  parseEnvelope,
  parsePublishRequest,
  SchemaInvalidError,
  UnknownEventVersionError,
  upcastEnvelope,
  type Envelope,
  type EventData,
  type LatestVersion,
  type StoredEnvelope,
} from './index.js';

const signupV1 = {
  type: 'user.signed_up',
  version: 1,
  data: { userId: 'u_1', email: 'ada@example.com', plan: 'pro' },
  tenantId: 'acme',
  correlationId: 'req-1',
};
const signupV2 = {
  type: 'user.signed_up',
  version: 2,
  data: { userId: 'u_1', email: 'ada@example.com', tier: 'pro', locale: 'de-CH' },
};

/** A stored v1 envelope as a worker reads it from Redis: through JSON. */
function storedV1(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(createEnvelope(parsePublishRequest(signupV1)))) as Record<
    string,
    unknown
  >;
}

function rejection(input: unknown): Error {
  try {
    parseEnvelope(input);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the envelope to be rejected');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('user.signed_up v2', () => {
  it('is accepted from publishers beside v1', () => {
    expect(parsePublishRequest(signupV2).data).toEqual(signupV2.data);
    expect(parsePublishRequest(signupV1).data).toEqual(signupV1.data);
  });

  it('derives its idempotency key from type, version and userId', () => {
    const v1 = createEnvelope(parsePublishRequest(signupV1));
    const v2 = createEnvelope(parsePublishRequest({ ...signupV2, tenantId: 'acme' }));
    expect(v1.idempotencyKey).toMatch(/^user\.signed_up:v1:/);
    expect(v2.idempotencyKey).toMatch(/^user\.signed_up:v2:/);
  });

  it.each([
    ['the old field name', { plan: 'pro' }],
    ['no locale', { locale: undefined }],
    ['a locale that is not a language tag', { locale: 'english' }],
  ])('rejects v2 data with %s', (_label, patch) => {
    expect(() =>
      parsePublishRequest({ ...signupV2, data: { ...signupV2.data, ...patch } }),
    ).toThrow(SchemaInvalidError);
  });
});

describe('parseEnvelope', () => {
  describe('when the envelope is an older version', () => {
    it('upcasts it to the newest: renamed field, default locale', () => {
      const stored = storedV1();
      const event = parseEnvelope(stored);
      expect(event.version).toBe(2);
      expect(event.data).toEqual({
        userId: 'u_1',
        email: 'ada@example.com',
        tier: 'pro',
        locale: 'en',
      });
    });

    it('keeps id, idempotency key and every other envelope field', () => {
      const stored = storedV1();
      const { version: _v, data: _d, ...rest } = stored;
      expect(parseEnvelope(stored)).toEqual({
        ...rest,
        version: 2,
        data: expect.any(Object) as unknown,
      });
    });

    it('leaves the stored job data untouched', () => {
      const stored = storedV1();
      const copy = structuredClone(stored);
      parseEnvelope(stored);
      expect(stored).toEqual(copy);
    });

    it('returns it as stored with { upcast: false }', () => {
      const stored = storedV1();
      expect(parseEnvelope(stored, { upcast: false })).toEqual(stored);
    });

    it('validates it against its own version first', () => {
      const stored = storedV1();
      const error = rejection({ ...stored, data: { userId: 'u_1', email: 'a@example.com' } });
      expect(error).toBeInstanceOf(SchemaInvalidError);
      expect(error.message).toContain('user.signed_up v1');
    });
  });

  describe('when the envelope is the newest version', () => {
    it('returns it unchanged', () => {
      const envelope = JSON.parse(
        JSON.stringify(createEnvelope(parsePublishRequest(signupV2))),
      ) as unknown;
      expect(parseEnvelope(envelope)).toEqual(envelope);
    });
  });

  describe('when the version is unknown', () => {
    it('throws UnknownEventVersionError, not an upcast error', () => {
      expect(rejection({ ...storedV1(), version: 3 })).toBeInstanceOf(UnknownEventVersionError);
    });
  });

  describe('when an upcaster fails', () => {
    const v2 = catalogue['user.signed_up'][2];

    it('turns a throw into SchemaInvalidError naming the step', () => {
      vi.spyOn(v2, 'upcast').mockImplementation(() => {
        throw new Error('boom');
      });
      const error = rejection(storedV1());
      expect(error).toBeInstanceOf(SchemaInvalidError);
      expect(error.message).toBe('upcaster user.signed_up v1 -> v2 failed: boom');
    });

    it('turns invalid output into SchemaInvalidError with the field path', () => {
      vi.spyOn(v2, 'upcast').mockImplementation(({ userId, email, plan }) => ({
        userId,
        email,
        tier: plan,
        locale: 'not a locale',
      }));
      const error = rejection(storedV1()) as SchemaInvalidError;
      expect(error).toBeInstanceOf(SchemaInvalidError);
      expect(error.message).toContain('does not match user.signed_up v2');
      expect(error.details).toEqual([expect.objectContaining({ path: ['data', 'locale'] })]);
    });

    it('rejects a promise (upcasters are synchronous)', () => {
      vi.spyOn(v2, 'upcast').mockImplementation(
        (data) => Promise.resolve(data) as unknown as EventData<'user.signed_up', 2>,
      );
      expect(rejection(storedV1())).toBeInstanceOf(SchemaInvalidError);
    });
  });
});

describe('upcastEnvelope', () => {
  it('upcasts an envelope parsed without upcasting', () => {
    const raw = storedV1();
    expect(upcastEnvelope(parseEnvelope(raw, { upcast: false }))).toEqual(parseEnvelope(raw));
  });
});

describe('types', () => {
  it('gives handlers the newest version of the data', () => {
    expectTypeOf<LatestVersion<'user.signed_up'>>().toEqualTypeOf<2>();
    expectTypeOf<LatestVersion<'payment.failed'>>().toEqualTypeOf<1>();
    expectTypeOf<Envelope<'user.signed_up'>['data']>().toEqualTypeOf<{
      userId: string;
      email: string;
      tier: 'free' | 'pro' | 'enterprise';
      locale: string;
    }>();
    expectTypeOf(parseEnvelope(storedV1())).toEqualTypeOf<Envelope>();
  });

  it('types stored envelopes with any declared version', () => {
    expectTypeOf<StoredEnvelope<'user.signed_up'>['data']>().toEqualTypeOf<
      EventData<'user.signed_up', 1> | EventData<'user.signed_up', 2>
    >();
    expectTypeOf(parseEnvelope(storedV1(), { upcast: false })).toEqualTypeOf<StoredEnvelope>();
  });
});
