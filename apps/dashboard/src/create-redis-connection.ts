import { Redis } from 'ioredis';
import type { Logger } from '@switchyard/observability';

export interface RedisConnectionOptions {
  url: string;
  /** ioredis commandTimeout: an unanswered command fails after this long. */
  commandTimeoutMs: number;
  /** Connection errors are logged here, once per outage. Default: not logged. */
  logger?: Logger;
}

/**
 * The connection the board, search and readiness use, built to fail fast as
 * a request should: no offline queue (commands fail at once while
 * disconnected), one retry per command, a command timeout. ioredis keeps
 * reconnecting in the background, so service resumes when Redis does.
 */
export function createRedisConnection(options: RedisConnectionOptions): Redis {
  const redis = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: Math.max(options.commandTimeoutMs, 1_000),
    connectionName: 'sy-dashboard',
  });
  // ioredis emits an error per failed reconnect attempt; one line per outage is enough.
  let reported = false;
  redis.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    options.logger?.warn({ err: error }, 'redis connection error; reconnecting');
  });
  redis.on('ready', () => {
    if (reported) options.logger?.info('redis connection restored');
    reported = false;
  });
  return redis;
}
