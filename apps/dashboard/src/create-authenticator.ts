/**
 * HTTP Basic authentication against the configured users.
 *
 * Guarantees:
 * - a user name is matched against every configured name by hashed,
 *   equal-length comparison, without stopping at the first match;
 * - an unknown name costs the same scrypt work as a known one (it is checked
 *   against a dummy hash), so timing does not tell which names exist;
 * - passwords are compared in constant time: scrypt hashes with
 *   timingSafeEqual, the plain DASHBOARD_PASSWORD through SHA-256 digests;
 * - a successful check is remembered for `cacheTtlMs` under a SHA-256 digest
 *   of the whole credential (never the password itself), at most
 *   `cacheMaxEntries` entries, so a browser polling the board does not pay
 *   scrypt on every request. Failures are never cached.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DashboardConfig, DashboardRole } from './env.js';
import { verifyPassword, type PasswordHash } from './password-hash.js';

export interface Principal {
  user: string;
  role: DashboardRole;
}

export interface AuthenticatorOptions {
  /** How long a verified credential is trusted without scrypt. Default 60 000 ms. */
  cacheTtlMs?: number;
  /** Most remembered credentials; the oldest goes first. Default 1 000. */
  cacheMaxEntries?: number;
  /** Clock, for the cache. Default Date.now. */
  now?: () => number;
}

/** Resolves the principal of an `Authorization` header, or undefined when it does not authenticate. */
export type Authenticator = (authorization: string | undefined) => Promise<Principal | undefined>;

interface ConfiguredUser {
  nameDigest: Buffer;
  principal: Principal;
  check: (password: string) => Promise<boolean>;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Longest Authorization header looked at; longer ones fail without work. */
const maxHeaderLength = 4_096;

/** `Basic base64(user:password)` -> [user, password], or undefined. */
export function parseBasicAuthorization(
  authorization: string | undefined,
): [user: string, password: string] | undefined {
  if (authorization === undefined || authorization.length > maxHeaderLength) return undefined;
  const token = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)?.[1];
  if (token === undefined) return undefined;
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

export function createAuthenticator(
  config: Pick<DashboardConfig, 'DASHBOARD_USERS' | 'DASHBOARD_USER' | 'DASHBOARD_PASSWORD'>,
  options: AuthenticatorOptions = {},
): Authenticator {
  const cacheTtlMs = options.cacheTtlMs ?? 60_000;
  const cacheMaxEntries = options.cacheMaxEntries ?? 1_000;
  const now = options.now ?? Date.now;

  const users: ConfiguredUser[] = config.DASHBOARD_USERS.map((user) => ({
    nameDigest: sha256(user.name),
    principal: Object.freeze({ user: user.name, role: user.role }),
    check: (password) => verifyPassword(password, user.hash),
  }));
  if (config.DASHBOARD_PASSWORD !== undefined) {
    const expected = sha256(config.DASHBOARD_PASSWORD);
    users.push({
      nameDigest: sha256(config.DASHBOARD_USER),
      principal: Object.freeze({ user: config.DASHBOARD_USER, role: 'admin' }),
      check: (password) => Promise.resolve(timingSafeEqual(sha256(password), expected)),
    });
  }
  // What an unknown name is checked against: the cost of the strongest configured hash.
  const strongest = config.DASHBOARD_USERS.map((user) => user.hash).sort(
    (a, b) => b.N * b.r * b.p - a.N * a.r * a.p,
  )[0];
  const dummy: PasswordHash | undefined =
    strongest === undefined
      ? undefined
      : { ...strongest, salt: randomBytes(16), hash: randomBytes(strongest.hash.length) };

  /** Credential digest -> principal and expiry; Map order is insertion order (oldest first). */
  const verified = new Map<string, { principal: Principal; expiresAt: number }>();

  return async (authorization) => {
    const credentials = parseBasicAuthorization(authorization);
    if (credentials === undefined) return undefined;
    const [name, password] = credentials;
    const cacheKey = sha256(`${name}\u0000${password}`).toString('base64');
    const cached = verified.get(cacheKey);
    if (cached !== undefined) {
      if (cached.expiresAt > now()) return cached.principal;
      verified.delete(cacheKey);
    }

    const presented = sha256(name);
    let match: ConfiguredUser | undefined;
    for (const user of users) {
      if (timingSafeEqual(user.nameDigest, presented) && match === undefined) match = user;
    }
    if (match === undefined) {
      if (dummy !== undefined) await verifyPassword(password, dummy);
      return undefined;
    }
    if (!(await match.check(password))) return undefined;

    verified.set(cacheKey, { principal: match.principal, expiresAt: now() + cacheTtlMs });
    while (verified.size > cacheMaxEntries) {
      const oldest = verified.keys().next().value;
      if (oldest === undefined) break;
      verified.delete(oldest);
    }
    return match.principal;
  };
}
