import { describe, expect, it } from 'vitest';
import {
  createAuthenticator,
  parseBasicAuthorization,
  type Authenticator,
} from './create-authenticator.js';
import type { HashedUser } from './env.js';
import { hashPassword, parsePasswordHash, type PasswordHash } from './password-hash.js';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function user(name: string, role: HashedUser['role'], password: string): Promise<HashedUser> {
  return {
    name,
    role,
    hash: parsePasswordHash(await hashPassword(password, { N: 1024 })) as PasswordHash,
  };
}

/** The principal an authenticator resolves, or its outcome when it does not sign in. */
const principalOf = async (
  authenticate: Authenticator,
  authorization?: string,
  client?: string,
) => {
  const result = await authenticate(authorization, client);
  return result.outcome === 'signed-in' ? result.principal : undefined;
};

describe('createAuthenticator', () => {
  it('resolves hashed users and the plain admin to their roles', async () => {
    const check = createAuthenticator({
      DASHBOARD_USERS: [
        await user('vera', 'viewer', 'vera-password'),
        await user('ada', 'admin', 'ada-password'),
      ],
      DASHBOARD_USER: 'root',
      DASHBOARD_PASSWORD: 'root-password',
    });
    const authenticate = (authorization?: string) => principalOf(check, authorization);
    expect(await authenticate(basic('vera', 'vera-password'))).toEqual({
      user: 'vera',
      role: 'viewer',
    });
    expect(await authenticate(basic('ada', 'ada-password'))).toEqual({
      user: 'ada',
      role: 'admin',
    });
    expect(await authenticate(basic('root', 'root-password'))).toEqual({
      user: 'root',
      role: 'admin',
    });
    expect(await authenticate(basic('vera', 'ada-password'))).toBeUndefined();
    expect(await authenticate(basic('root', 'root-passwor'))).toBeUndefined();
    expect(await authenticate(basic('nobody', 'root-password'))).toBeUndefined();
    expect(await authenticate(undefined)).toBeUndefined();
    expect(await authenticate(`Bearer root-password`)).toBeUndefined();
  });

  it('keeps a verified credential for the cache TTL only, and never a failed one', async () => {
    let now = 0;
    const vera = await user('vera', 'viewer', 'vera-password');
    const check = createAuthenticator(
      { DASHBOARD_USERS: [vera], DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: undefined },
      { cacheTtlMs: 1_000, now: () => now },
    );
    const authenticate = (authorization?: string) => principalOf(check, authorization);
    expect(await authenticate(basic('vera', 'vera-password'))).toBeDefined();
    // The hash changes under the cache (as a restart with a new hash would): a cached entry still answers...
    vera.hash = parsePasswordHash(await hashPassword('new-password', { N: 1024 })) as PasswordHash;
    now = 999;
    expect(await authenticate(basic('vera', 'vera-password'))).toBeDefined();
    // ...until it expires.
    now = 1_001;
    expect(await authenticate(basic('vera', 'vera-password'))).toBeUndefined();
    expect(await authenticate(basic('vera', 'new-password'))).toBeDefined();
  });

  it('treats the NFC and NFD spellings of the plain DASHBOARD_PASSWORD as the same password', async () => {
    const check = createAuthenticator({
      DASHBOARD_USERS: [],
      DASHBOARD_USER: 'root',
      DASHBOARD_PASSWORD: 'caf\u00e9-secret',
    });
    expect(await principalOf(check, basic('root', 'cafe\u0301-secret'))).toEqual({
      user: 'root',
      role: 'admin',
    });
  });

  it('keys the cache so that no other name and password pair shares a verified entry', async () => {
    // Names with a NUL cannot come from the environment; the key must not depend on that.
    const check = createAuthenticator({
      DASHBOARD_USERS: [],
      DASHBOARD_USER: 'a\u0000b',
      DASHBOARD_PASSWORD: 'c-password',
    });
    expect(await principalOf(check, basic('a\u0000b', 'c-password'))).toBeDefined();
    expect(await check(basic('a', 'b\u0000c-password'))).toEqual({ outcome: 'refused' });
  });

  describe('when more checks arrive than maxConcurrentChecks', () => {
    it('answers busy at once, without checking, and takes new checks once slots free', async () => {
      const vera = await user('vera', 'viewer', 'vera-password');
      const check = createAuthenticator(
        { DASHBOARD_USERS: [vera], DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: undefined },
        { maxConcurrentChecks: 2 },
      );
      const first = check(basic('vera', 'wrong-1'), '192.0.2.1');
      const second = check(basic('nobody', 'wrong-2'), '192.0.2.2');
      // Even the right password is not checked while both slots are taken.
      const third = check(basic('vera', 'vera-password'), '192.0.2.3');
      expect(await third).toEqual({ outcome: 'busy', retryAfterSeconds: 1 });
      expect(await first).toEqual({ outcome: 'refused' });
      expect(await second).toEqual({ outcome: 'refused' });
      expect(await principalOf(check, basic('vera', 'vera-password'), '192.0.2.3')).toEqual({
        user: 'vera',
        role: 'viewer',
      });
    });

    it('lets requests with a credential already being checked share that check', async () => {
      const vera = await user('vera', 'viewer', 'vera-password');
      const check = createAuthenticator(
        { DASHBOARD_USERS: [vera], DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: undefined },
        { maxConcurrentChecks: 1 },
      );
      // A page's parallel requests: one check, every request signed in.
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () => check(basic('vera', 'vera-password'), '192.0.2.4')),
      );
      expect(outcomes.map((outcome) => outcome.outcome)).toEqual(Array(5).fill('signed-in'));
    });
  });

  describe('when a client fails to sign in too often', () => {
    it('answers throttled with the seconds left, checks nothing, and spares other clients', async () => {
      let now = 0;
      const vera = await user('vera', 'viewer', 'vera-password');
      const check = createAuthenticator(
        { DASHBOARD_USERS: [vera], DASHBOARD_USER: 'root', DASHBOARD_PASSWORD: 'root-password' },
        { now: () => now, failedLogins: { maxFailures: 3, windowMs: 60_000 } },
      );
      // Signed in before the failures: a remembered login still answers.
      expect(await principalOf(check, basic('root', 'root-password'), '192.0.2.7')).toBeDefined();
      for (const password of ['wrong-1', 'wrong-2', 'wrong-3']) {
        expect(await check(basic('vera', password), '192.0.2.7')).toEqual({ outcome: 'refused' });
      }
      now = 10_000;
      // The right password is refused too: nothing is checked for this client.
      expect(await check(basic('vera', 'vera-password'), '192.0.2.7')).toEqual({
        outcome: 'throttled',
        retryAfterSeconds: 50,
      });
      expect(await principalOf(check, basic('root', 'root-password'), '192.0.2.7')).toBeDefined();
      expect(await principalOf(check, basic('vera', 'vera-password'), '192.0.2.8')).toBeDefined();
      // No client address (a second look at an admitted request): no limit.
      expect(await principalOf(check, basic('vera', 'vera-password'))).toBeDefined();
      now = 60_000;
      expect(await principalOf(check, basic('vera', 'vera-password'), '192.0.2.7')).toBeDefined();
    });

    it('counts malformed and missing credentials as no failure', async () => {
      const check = createAuthenticator(
        { DASHBOARD_USERS: [], DASHBOARD_USER: 'root', DASHBOARD_PASSWORD: 'root-password' },
        { failedLogins: { maxFailures: 1 } },
      );
      for (const header of [undefined, 'Basic !!!', 'Bearer x', undefined]) {
        expect(await check(header, '192.0.2.9')).toEqual({ outcome: 'refused' });
      }
      expect(await principalOf(check, basic('root', 'root-password'), '192.0.2.9')).toBeDefined();
    });
  });
});

describe('parseBasicAuthorization', () => {
  it('splits at the first colon, so passwords may hold colons', () => {
    expect(parseBasicAuthorization(basic('ada', 'a:b:c'))).toEqual(['ada', 'a:b:c']);
    expect(parseBasicAuthorization('basic ' + Buffer.from('ada:pw').toString('base64'))).toEqual([
      'ada',
      'pw',
    ]);
  });

  it('refuses an empty name, no colon, bad base64 and oversized headers', () => {
    expect(parseBasicAuthorization(basic('', 'pw'))).toBeUndefined();
    expect(
      parseBasicAuthorization(`Basic ${Buffer.from('adapw').toString('base64')}`),
    ).toBeUndefined();
    expect(parseBasicAuthorization('Basic ***')).toBeUndefined();
    expect(parseBasicAuthorization(`Basic ${'A'.repeat(5_000)}`)).toBeUndefined();
  });
});
