/**
 * A fail-fast Redis connection for one CLI run: no offline queue, no
 * reconnects, one retry per command, so an unreachable or vanished Redis is a
 * clear error within `connectTimeoutMs` instead of a hang.
 */
import { Redis } from 'ioredis';
import { redactUrl, type CliConfig } from './config.js';
import { RedisUnreachableError } from './errors.js';

/** How long the first connection may take before the CLI gives up. */
export const defaultConnectTimeoutMs = 3_000;
/** Bound on one Redis command. Replay's adds are small; 5 s means Redis is in trouble. */
export const commandTimeoutMs = 5_000;

export async function connectRedis(
  config: Pick<CliConfig, 'redisUrl' | 'redisUrlSource'>,
  connectTimeoutMs = defaultConnectTimeoutMs,
): Promise<Redis> {
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    retryStrategy: () => null,
    connectionName: 'sy-cli',
  });
  let lastError: unknown;
  // Errors surface through connect() below; without a listener ioredis prints them.
  redis.on('error', (error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
      }),
    ]);
    return redis;
  } catch (error) {
    redis.disconnect();
    // ioredis rejects connect() with "Connection is closed."; the socket error says why.
    const cause = lastError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new RedisUnreachableError(
      `cannot reach Redis at ${redactUrl(config.redisUrl)} (${config.redisUrlSource}): ${reason}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
}
