import { describe, expect, it } from 'vitest';
import { createAuthenticator, parseBasicAuthorization } from './create-authenticator.js';
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

describe('createAuthenticator', () => {
  it('resolves hashed users and the plain admin to their roles', async () => {
    const authenticate = createAuthenticator({
      DASHBOARD_USERS: [
        await user('vera', 'viewer', 'vera-password'),
        await user('ada', 'admin', 'ada-password'),
      ],
      DASHBOARD_USER: 'root',
      DASHBOARD_PASSWORD: 'root-password',
    });
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
    const authenticate = createAuthenticator(
      { DASHBOARD_USERS: [vera], DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: undefined },
      { cacheTtlMs: 1_000, now: () => now },
    );
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
