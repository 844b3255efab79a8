import { describe, expect, it } from 'vitest';
import {
  hashPassword,
  maxScryptMemoryBytes,
  parsePasswordHash,
  verifyPassword,
  type PasswordHash,
} from './password-hash.js';

describe('password hashes', () => {
  it('verifies the password a hash was made from, and nothing else', async () => {
    const text = await hashPassword('correct horse', { N: 1024 });
    const parsed = parsePasswordHash(text) as PasswordHash;
    expect(typeof parsed).toBe('object');
    expect(await verifyPassword('correct horse', parsed)).toBe(true);
    expect(await verifyPassword('correct horsf', parsed)).toBe(false);
    expect(await verifyPassword('', parsed)).toBe(false);
  });

  it('treats the NFC and NFD spellings of a password as the same password', async () => {
    const parsed = parsePasswordHash(
      await hashPassword('caf\u00e9-secret', { N: 1024 }),
    ) as PasswordHash;
    expect(await verifyPassword('cafe\u0301-secret', parsed)).toBe(true);
  });

  it('uses N=2^15, r=8, p=1, a 16-byte salt and a 32-byte hash by default', async () => {
    const [scheme, n, r, p, salt, hash] = (await hashPassword('x'.repeat(12))).split('$');
    expect([scheme, n, r, p]).toEqual(['scrypt', '32768', '8', '1']);
    expect(Buffer.from(salt!, 'base64')).toHaveLength(16);
    expect(Buffer.from(hash!, 'base64')).toHaveLength(32);
  });

  it.each([
    ['bcrypt$12$abc', /is not scrypt/],
    ['scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', /power of two/],
    ['scrypt$2097152$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', /power of two/],
    ['scrypt$16384$0$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', /r outside/],
    ['scrypt$16384$8$99$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', /p outside/],
    ['scrypt$16384$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', /salt shorter/],
    ['scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==', /hash outside/],
  ])('refuses %s', (text, problem) => {
    expect(parsePasswordHash(text)).toMatch(problem);
  });
});

describe('the memory cap', () => {
  const salt = 'c2FsdHNhbHRzYWx0c2FsdA==';
  const hash = 'aGFzaGhhc2hoYXNoaGFzaA==';

  it('accepts a hash needing 64 MiB per check (128·N·r) and refuses more', () => {
    expect(maxScryptMemoryBytes).toBe(64 * 1_048_576);
    expect(typeof parsePasswordHash(`scrypt$65536$8$1$${salt}$${hash}`)).toBe('object');
    expect(typeof parsePasswordHash(`scrypt$16384$32$1$${salt}$${hash}`)).toBe('object');
    expect(parsePasswordHash(`scrypt$131072$8$1$${salt}$${hash}`)).toBe(
      'needs 128 MiB per check (128·N·r); at most 64 MiB is accepted',
    );
    expect(parsePasswordHash(`scrypt$1048576$32$1$${salt}$${hash}`)).toMatch(/needs 4096 MiB/);
    expect(parsePasswordHash(`scrypt$32768$32$1$${salt}$${hash}`)).toMatch(/needs 128 MiB/);
  });
});
