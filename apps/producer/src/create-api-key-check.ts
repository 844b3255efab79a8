import { createHash, timingSafeEqual } from 'node:crypto';

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The id of an API key: the first 16 hex digits of its SHA-256. Safe to
 * store, log and configure (API_KEY_RATE_LIMITS) in place of the key; a key
 * is never written anywhere by the producer.
 */
export function apiKeyId(key: string): string {
  return sha256(key).toString('hex').slice(0, 16);
}

/**
 * Checks an `Authorization: Bearer <key>` header against the configured
 * keys in constant time: both sides are hashed (equal lengths, so
 * timingSafeEqual applies and the key length does not leak) and the
 * presented key is compared with every configured key, without stopping at
 * the first match. Returns the matching key's id (apiKeyId), or undefined.
 */
export function createApiKeyCheck(
  keys: readonly string[],
): (authorization: string | undefined) => string | undefined {
  const configured = keys.map((key) => ({ digest: sha256(key), id: apiKeyId(key) }));
  return (authorization) => {
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    const presented = sha256(token ?? '');
    let matched: string | undefined;
    for (const { digest, id } of configured) {
      if (timingSafeEqual(digest, presented)) matched = id;
    }
    return token === undefined ? undefined : matched;
  };
}
