import { UnsupportedOperationError } from './errors.js';
import type { RedisHandle } from './redis-handle.js';

/**
 * A handle on the server named by REDIS_URL. The testkit does not own it:
 * others may share it, so stop() leaves it running and fault operations
 * refuse (a fault test must start its own server).
 */
export function externalRedis(url: string): RedisHandle {
  const parsed = new URL(url);
  const refuse = (operation: string): Promise<never> =>
    Promise.reject(
      new UnsupportedOperationError(
        `${operation}() needs a Redis server the testkit owns, but REDIS_URL (${parsed.host}) points at a shared one. ` +
          'Fault tests need their own server: call startRedis({ forceProcess: true }), or unset REDIS_URL.',
      ),
    );
  return {
    url,
    host: parsed.hostname,
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    kind: 'external',
    stop: () => Promise.resolve(),
    kill: () => refuse('kill'),
    restart: () => refuse('restart'),
  };
}
