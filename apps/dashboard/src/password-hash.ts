/**
 * Dashboard password hashes: `scrypt$<N>$<r>$<p>$<salt>$<hash>`, salt and
 * hash in standard base64. `hashPassword` makes one (16-byte random salt,
 * 32-byte hash, N=2^15, r=8, p=1: about 32 MiB and tens of milliseconds per
 * check); `verifyPassword` checks a password against one in constant time.
 * The cost parameters travel in the string, so stronger hashes can be added
 * later without breaking the ones already configured.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface PasswordHash {
  /** CPU/memory cost: a power of two, 2^10 to 2^20, with 128·N·r at most maxScryptMemoryBytes. */
  N: number;
  /** Block size, 1 to 32. */
  r: number;
  /** Parallelism, 1 to 16. */
  p: number;
  /** At least 16 bytes. */
  salt: Buffer;
  /** At least 16 bytes; its length is the derived key length. */
  hash: Buffer;
}

/**
 * Most memory one check may take (scrypt needs 128·N·r bytes): a configured
 * hash above it is refused at start, so one login attempt cannot claim more.
 */
export const maxScryptMemoryBytes = 64 * 1_048_576;

/** Memory scrypt needs for these parameters, in bytes. */
export const scryptMemoryBytes = (hash: Pick<PasswordHash, 'N' | 'r'>): number =>
  128 * hash.N * hash.r;

/** Parameters of new hashes (32 MiB per check). */
export const defaultHashParameters = { N: 2 ** 15, r: 8, p: 1, saltBytes: 16, hashBytes: 32 };

const base64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The parsed hash, or a sentence saying what is wrong with it (never echoing it). */
export function parsePasswordHash(text: string): PasswordHash | string {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return 'is not scrypt$N$r$p$salt$hash (make one with `pnpm --silent --filter @switchyard/dashboard hash-password`)';
  }
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (!/^\d+$/.test(n) || N < 2 ** 10 || N > 2 ** 20 || (N & (N - 1)) !== 0) {
    return 'has an N that is not a power of two from 1024 to 1048576';
  }
  if (!/^\d+$/.test(r) || R < 1 || R > 32) return 'has an r outside 1-32';
  if (!/^\d+$/.test(p) || P < 1 || P > 16) return 'has a p outside 1-16';
  if (scryptMemoryBytes({ N, r: R }) > maxScryptMemoryBytes) {
    return `needs ${scryptMemoryBytes({ N, r: R }) / 1_048_576} MiB per check (128·N·r); at most ${maxScryptMemoryBytes / 1_048_576} MiB is accepted`;
  }
  if (!base64.test(salt) || !base64.test(hash)) return 'has a salt or hash that is not base64';
  const saltBytes = Buffer.from(salt, 'base64');
  const hashBytes = Buffer.from(hash, 'base64');
  if (saltBytes.length < 16) return 'has a salt shorter than 16 bytes';
  if (hashBytes.length < 16 || hashBytes.length > 128) return 'has a hash outside 16-128 bytes';
  return { N, r: R, p: P, salt: saltBytes, hash: hashBytes };
}

function derive(password: string, salt: Buffer, length: number, options: ScryptOptions) {
  return new Promise<Buffer>((resolve, reject) => {
    // scrypt runs on libuv's thread pool: the event loop keeps serving.
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

const optionsOf = (hash: Pick<PasswordHash, 'N' | 'r' | 'p'>): ScryptOptions => ({
  N: hash.N,
  r: hash.r,
  p: hash.p,
  // scrypt needs about 128 * N * r bytes; Node refuses above maxmem.
  maxmem: 256 * hash.N * hash.r + 1_048_576,
});

/** A new hash string for `password`. */
export async function hashPassword(
  password: string,
  parameters: Partial<typeof defaultHashParameters> = {},
): Promise<string> {
  const { N, r, p, saltBytes, hashBytes } = { ...defaultHashParameters, ...parameters };
  const salt = randomBytes(saltBytes);
  const hash = await derive(password, salt, hashBytes, optionsOf({ N, r, p }));
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True when `password` derives `expected.hash`; compared in constant time. */
export async function verifyPassword(password: string, expected: PasswordHash): Promise<boolean> {
  const derived = await derive(password, expected.salt, expected.hash.length, optionsOf(expected));
  return timingSafeEqual(derived, expected.hash);
}
