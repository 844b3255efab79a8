/**
 * Ingest authentication: missing, wrong and revoked keys, and the
 * constant-time comparison.
 *
 * Why no timing measurement: a difference between `===` and timingSafeEqual
 * over 16-256 byte keys is a few nanoseconds, far below the noise of an
 * HTTP request (and of this shared machine), so a test that measured it
 * would either pass with `===` or fail at random. Instead the unit tests pin
 * the implementation's path through its `equal` seam: every check, whatever
 * is presented (equal length, shorter, longer, a prefix of a real key,
 * nothing), compares two 32-byte SHA-256 digests once per configured key.
 * A `===` on the raw strings, an early exit on a length mismatch, or a loop
 * that stops at the first match all break those assertions.
 */
import { timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '@switchyard/observability';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import { apiKeyId, createApiKeyCheck } from '../src/create-api-key-check.js';
import { producerEnvSchema } from '../src/env.js';
import {
  apiKey,
  openProducer,
  secondApiKey,
  signedUp,
  type ProducerFixture,
} from './support/producer-fixture.js';

const keys = [
  'k'.repeat(16) + 'alpha-0123456789',
  'k'.repeat(16) + 'bravo-0123456789',
  'z'.repeat(40),
];
const bearer = (token: string) => `Bearer ${token}`;

describe('createApiKeyCheck', () => {
  const check = createApiKeyCheck(keys);

  it('accepts exactly the configured keys, returning their ids', () => {
    for (const key of keys)
      expect(check(bearer(key))).toEqual({ status: 'valid', keyId: apiKeyId(key) });
    // The scheme is case-insensitive (RFC 9110); the key is not.
    expect(check(`bearer ${keys[0]!}`)).toEqual({ status: 'valid', keyId: apiKeyId(keys[0]!) });
  });

  it.each([
    ['a key of equal length, one byte off', `${keys[0]!.slice(0, -1)}8`],
    ['a key of equal length, first byte off', `x${keys[0]!.slice(1)}`],
    ['a prefix of a configured key', keys[0]!.slice(0, 20)],
    ['a configured key with a suffix', `${keys[0]!}0`],
    ['a shorter key', 'short'],
    ['a much longer key', 'k'.repeat(4_096)],
    ['the key in another case', keys[2]!.toUpperCase()],
  ])('refuses %s', (_what, token) => {
    expect(check(bearer(token))).toEqual({ status: 'unknown' });
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', `Basic ${keys[0]!}`],
    ['a bare key without a scheme', keys[0]!],
    ['two tokens', `Bearer ${keys[0]!} ${keys[1]!}`],
  ])('answers missing for %s', (_what, header) => {
    expect(check(header)).toEqual({ status: 'missing' });
  });

  it('compares two 32-byte digests once per configured key on every check, whatever is presented', () => {
    const calls: [number, number][] = [];
    const recorded = createApiKeyCheck(keys, {
      equal: (a, b) => {
        calls.push([a.length, b.length]);
        return timingSafeEqual(a, b);
      },
    });
    const presented = [
      keys[0]!, // matches the first key: the loop must not stop there
      keys[2]!, // matches the last
      `${keys[0]!.slice(0, -1)}8`,
      keys[0]!.slice(0, 20),
      'k'.repeat(4_096),
      undefined,
    ];
    for (const token of presented) {
      calls.length = 0;
      recorded(token === undefined ? undefined : bearer(token));
      expect(calls, `for ${String(token).slice(0, 30)}`).toEqual(keys.map(() => [32, 32]));
    }
  });

  it('answers revoked for a configured key whose id is revoked, and valid for the others', () => {
    const revoking = createApiKeyCheck(keys, { revokedIds: [apiKeyId(keys[1]!)] });
    expect(revoking(bearer(keys[1]!))).toEqual({ status: 'revoked', keyId: apiKeyId(keys[1]!) });
    expect(revoking(bearer(keys[0]!))).toEqual({ status: 'valid', keyId: apiKeyId(keys[0]!) });
    expect(revoking(bearer('not-a-configured-key-at-all'))).toEqual({ status: 'unknown' });
  });
});

describe('API_KEYS_REVOKED', () => {
  const base = { API_KEYS: `${apiKey},${secondApiKey}` };

  it('takes key ids of configured keys', () => {
    const config = parseEnv(producerEnvSchema, {
      ...base,
      API_KEYS_REVOKED: apiKeyId(secondApiKey),
    });
    expect(config.API_KEYS_REVOKED).toEqual([apiKeyId(secondApiKey)]);
  });

  it.each([
    ['a key pasted instead of its id', secondApiKey, /entry 1 is not a key id/],
    ['an id of no configured key', '0123456789abcdef', /not the id of any key in API_KEYS/],
  ])(
    'refuses to start with %s, naming the variable and never echoing a key',
    (_what, value, message) => {
      let error: unknown;
      try {
        parseEnv(producerEnvSchema, { ...base, API_KEYS_REVOKED: value });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems.map((problem) => problem.variable)).toEqual(['API_KEYS_REVOKED']);
      expect(problems[0]!.message).toMatch(message);
      expect((error as ConfigError).message).not.toContain(secondApiKey);
    },
  );
});

describe('POST /v1/events authentication', () => {
  let server: RedisHandle;
  let fx: ProducerFixture | undefined;

  beforeAll(async () => {
    server = await startRedis({ forceProcess: true });
  });
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const nothing = { notifications: 0, provisioning: 0, billing: 0 };

  it.each([
    ['no key', null, 'SY_ERR_UNAUTHORIZED'],
    ['a wrong key of the same length', `${apiKey.slice(0, -1)}X`, 'SY_ERR_UNAUTHORIZED'],
    ['a prefix of a key', apiKey.slice(0, 10), 'SY_ERR_UNAUTHORIZED'],
    ['a revoked key', secondApiKey, 'SY_ERR_API_KEY_REVOKED'],
  ])(
    'answers %s with 401 and its code, enqueues nothing and logs no key',
    async (_what, auth, code) => {
      fx = await openProducer(server, { API_KEYS_REVOKED: apiKeyId(secondApiKey) });
      const response = await fx.request({ url: '/v1/events', body: signedUp('u_auth'), auth });

      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({
        error: { code, message: expect.any(String) as unknown },
      });
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(await fx.enqueued()).toEqual(nothing);
      expect(await fx.keys()).toEqual([]);
      expect(fx.rawLogs()).not.toContain(apiKey);
      expect(fx.rawLogs()).not.toContain(secondApiKey);
    },
  );

  it('logs a revoked key by its id, so ops see which revoked key is still in use', async () => {
    fx = await openProducer(server, { API_KEYS_REVOKED: apiKeyId(secondApiKey) });
    await fx.request({ url: '/v1/events', body: signedUp('u_rev'), auth: secondApiKey });

    const line = fx.logs().find((entry) => entry.msg === 'revoked API key refused');
    expect(line).toMatchObject({ apiKeyId: apiKeyId(secondApiKey), level: 40 });
  });

  it('keeps accepting the keys that are not revoked', async () => {
    fx = await openProducer(server, { API_KEYS_REVOKED: apiKeyId(secondApiKey) });
    const response = await fx.request({ url: '/v1/events', body: signedUp('u_ok'), auth: apiKey });

    expect(response.statusCode).toBe(202);
  });

  it('refuses a key removed from API_KEYS (revocation by removal)', async () => {
    fx = await openProducer(server, { API_KEYS: apiKey });
    const response = await fx.request({
      url: '/v1/events',
      body: signedUp('u_gone'),
      auth: secondApiKey,
    });

    expect(response.statusCode).toBe(401);
    expect(await fx.enqueued()).toEqual(nothing);
  });

  it('refuses an unauthenticated request before reading its body: a broken body is 401, not 400', async () => {
    fx = await openProducer(server);
    const response = await fx.request({
      url: '/v1/events/batch',
      body: '{"not json',
      auth: null,
      headers: { 'content-type': 'application/json' },
    });

    expect(response.statusCode).toBe(401);
  });
});
