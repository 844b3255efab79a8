import { createHash, timingSafeEqual } from 'node:crypto';

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The id of an API key: the first 16 hex digits of its SHA-256. Safe to
 * store, log and configure (API_KEY_RATE_LIMITS, API_KEYS_REVOKED) in place
 * of the key; a key is never written anywhere by the producer.
 */
export function apiKeyId(key: string): string {
  return sha256(key).toString('hex').slice(0, 16);
}

/** What an `Authorization` header amounts to. */
export type ApiKeyVerdict =
  /** A configured key that is not revoked. */
  | { status: 'valid'; keyId: string }
  /** A configured key whose id is in the revoked list. */
  | { status: 'revoked'; keyId: string }
  /** No `Bearer <key>` at all. */
  | { status: 'missing' }
  /** A key that is not configured (nothing about it is returned or kept). */
  | { status: 'unknown' };

export interface ApiKeyCheckOptions {
  /** Ids (apiKeyId) of configured keys that are refused. Default none. */
  revokedIds?: readonly string[];
  /**
   * Compares two SHA-256 digests (32 bytes each). Default
   * crypto.timingSafeEqual; a seam so tests can see that every check
   * compares equal-length digests against every configured key.
   */
  equal?: (a: Buffer, b: Buffer) => boolean;
}

/**
 * Checks an `Authorization: Bearer <key>` header against the configured
 * keys in constant time with respect to the keys' contents and lengths:
 * the presented token is hashed (an absent one as ''), so every comparison
 * is timingSafeEqual over two 32-byte digests and neither an early exit on
 * length nor the first differing byte can leak; and the digest is compared
 * with every configured key, without stopping at the first match, so the
 * position of the matching key does not show either. What varies with the
 * input is hashing the token (its length, which the client knows) and the
 * header's parsing.
 *
 * Revocation: a key listed in `revokedIds` (by id) is answered 'revoked'
 * after the same comparisons; the caller refuses it like an unknown key.
 */
export function createApiKeyCheck(
  keys: readonly string[],
  options: ApiKeyCheckOptions = {},
): (authorization: string | undefined) => ApiKeyVerdict {
  const equal = options.equal ?? timingSafeEqual;
  const revoked = new Set(options.revokedIds ?? []);
  const configured = keys.map((key) => ({ digest: sha256(key), id: apiKeyId(key) }));
  return (authorization) => {
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    const presented = sha256(token ?? '');
    let matched: string | undefined;
    for (const { digest, id } of configured) {
      if (equal(digest, presented)) matched = id;
    }
    if (token === undefined) return { status: 'missing' };
    if (matched === undefined) return { status: 'unknown' };
    return revoked.has(matched)
      ? { status: 'revoked', keyId: matched }
      : { status: 'valid', keyId: matched };
  };
}
