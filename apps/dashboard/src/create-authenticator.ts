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
 *   both sides are NFC-normalized first;
 * - a successful check is remembered for `cacheTtlMs` under a SHA-256 digest
 *   of the whole credential (never the password itself), at most
 *   `cacheMaxEntries` entries, so a browser polling the board does not pay
 *   scrypt on every request. Failures are never cached;
 * - requests presenting a credential whose check is already running share
 *   that check (a page's parallel requests cost one scrypt, not one each);
 * - other checks are bounded: at most `maxConcurrentChecks` run at once
 *   (more answer `busy` without any work),
 *   and a client with too many recent failures (create-failed-login-limiter)
 *   answers `throttled` without any work. Neither looks at the name, so
 *   neither tells which names exist.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DashboardConfig, DashboardRole } from './env.js';
import {
  createFailedLoginLimiter,
  type FailedLoginLimiterOptions,
} from './create-failed-login-limiter.js';
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
  /**
   * Credential checks (scrypt) running at once; more answer `busy`. Default 2:
   * scrypt runs on libuv's pool of 4 threads, which also reads the static files.
   */
  maxConcurrentChecks?: number;
  /** Per-client limit on failed logins. Default: 10 per minute, 10 000 clients tracked. */
  failedLogins?: FailedLoginLimiterOptions;
  /** Clock, for the cache and the failure limit. Default Date.now. */
  now?: () => number;
}

/** What an `Authorization` header is worth. */
export type AuthOutcome =
  | { outcome: 'signed-in'; principal: Principal }
  /** No credentials, malformed ones, or ones that do not match a user. */
  | { outcome: 'refused' }
  /** Every check slot is taken: nothing was checked. */
  | { outcome: 'busy'; retryAfterSeconds: number }
  /** This client failed too often lately: nothing was checked. */
  | { outcome: 'throttled'; retryAfterSeconds: number };

/**
 * Checks an `Authorization` header. `client` is the address the request came
 * from; without it (a second look at an already admitted request) no failure
 * limit applies.
 */
export type Authenticator = (
  authorization: string | undefined,
  client?: string,
) => Promise<AuthOutcome>;

const refused: AuthOutcome = Object.freeze({ outcome: 'refused' });

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
  const maxConcurrentChecks = options.maxConcurrentChecks ?? 2;
  const failures = createFailedLoginLimiter({ now, ...options.failedLogins });
  /** Checks running now, by credential digest; its size is the work in flight. */
  const checking = new Map<string, Promise<Principal | undefined>>();

  const users: ConfiguredUser[] = config.DASHBOARD_USERS.map((user) => ({
    nameDigest: sha256(user.name),
    principal: Object.freeze({ user: user.name, role: user.role }),
    check: (password) => verifyPassword(password, user.hash),
  }));
  if (config.DASHBOARD_PASSWORD !== undefined) {
    const expected = sha256(config.DASHBOARD_PASSWORD.normalize('NFC'));
    users.push({
      nameDigest: sha256(config.DASHBOARD_USER),
      principal: Object.freeze({ user: config.DASHBOARD_USER, role: 'admin' }),
      check: (password) =>
        Promise.resolve(timingSafeEqual(sha256(password.normalize('NFC')), expected)),
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

  /** The principal `name` / `password` sign in as, or undefined; the costly part. */
  async function check(name: string, password: string): Promise<Principal | undefined> {
    const presented = sha256(name);
    let match: ConfiguredUser | undefined;
    for (const user of users) {
      if (timingSafeEqual(user.nameDigest, presented) && match === undefined) match = user;
    }
    if (match === undefined) {
      if (dummy !== undefined) await verifyPassword(password, dummy);
      return undefined;
    }
    return (await match.check(password)) ? match.principal : undefined;
  }

  return async (authorization, client) => {
    const credentials = parseBasicAuthorization(authorization);
    if (credentials === undefined) return refused;
    const [name, password] = credentials;
    // Length-prefixed, so no two (name, password) pairs share a key.
    const cacheKey = sha256(`${Buffer.byteLength(name)}:${name}:${password}`).toString('base64');
    const cached = verified.get(cacheKey);
    if (cached !== undefined) {
      if (cached.expiresAt > now()) return { outcome: 'signed-in', principal: cached.principal };
      verified.delete(cacheKey);
    }

    if (client !== undefined) {
      const wait = failures.retryAfterSeconds(client);
      if (wait > 0) return { outcome: 'throttled', retryAfterSeconds: wait };
    }
    const running = checking.get(cacheKey);
    if (running !== undefined) {
      const principal = await running;
      return principal === undefined ? refused : { outcome: 'signed-in', principal };
    }
    if (checking.size >= maxConcurrentChecks) return { outcome: 'busy', retryAfterSeconds: 1 };
    const pending = check(name, password);
    checking.set(cacheKey, pending);
    let principal: Principal | undefined;
    try {
      principal = await pending;
    } finally {
      checking.delete(cacheKey);
    }
    if (principal === undefined) {
      if (client !== undefined) failures.recordFailure(client);
      return refused;
    }

    verified.set(cacheKey, { principal, expiresAt: now() + cacheTtlMs });
    while (verified.size > cacheMaxEntries) {
      const oldest = verified.keys().next().value;
      if (oldest === undefined) break;
      verified.delete(oldest);
    }
    return { outcome: 'signed-in', principal };
  };
}
