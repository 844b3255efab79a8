import { createHash, timingSafeEqual } from 'node:crypto';

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Checks an `Authorization: Bearer <key>` header against the configured
 * keys in constant time: both sides are hashed (equal lengths, so
 * timingSafeEqual applies and the key length does not leak) and the
 * presented key is compared with every configured key, without stopping at
 * the first match.
 */
export function createApiKeyCheck(
  keys: readonly string[],
): (authorization: string | undefined) => boolean {
  const digests = keys.map(sha256);
  return (authorization) => {
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    const presented = sha256(token ?? '');
    let matches = 0;
    for (const digest of digests) matches |= timingSafeEqual(digest, presented) ? 1 : 0;
    return token !== undefined && matches === 1;
  };
}
