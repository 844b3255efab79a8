/**
 * A fail-fast Redis connection for one CLI run: no offline queue, no
 * reconnects, one retry per command, so an unreachable or vanished Redis is a
 * clear error within `connectTimeoutMs` instead of a hang.
 */
import { createRedisConnection, type RedisConnection } from '@switchyard/client';
import { ReplyError } from 'ioredis';
import { redactUrl, type CliConfig } from './config.js';
import { RedisError, RedisUnreachableError } from './errors.js';

/** How long the first connection may take before the CLI gives up. */
export const defaultConnectTimeoutMs = 3_000;
/** Bound on one Redis command. Replay's adds are small; 5 s means Redis is in trouble. */
export const commandTimeoutMs = 5_000;

/** An error reply from Redis (ioredis types its ReplyError class as `any`). */
function isReplyError(error: Error): boolean {
  return error instanceof (ReplyError as new (...args: never[]) => Error);
}

/**
 * `error` as a RedisError when it is Redis failing rather than the command:
 * an error reply, a command timeout, or any error once the run's connection
 * is no longer ready (dropped: this connection never reconnects). Undefined
 * for anything else.
 */
export function redisFailureOf(
  error: unknown,
  redis: RedisConnection,
  config: Pick<CliConfig, 'redisUrl'>,
): RedisError | undefined {
  if (!(error instanceof Error)) return undefined;
  const where = `Redis at ${redactUrl(config.redisUrl)}`;
  if (isReplyError(error)) {
    return new RedisError(`${where} answered an error: ${error.message}`, { cause: error });
  }
  // ioredis rejects a command past commandTimeout with this plain Error (no class of its own).
  if (error.message === 'Command timed out' || redis.status !== 'ready') {
    return new RedisError(`${where} failed: ${error.message}`, { cause: error });
  }
  return undefined;
}

export async function connectRedis(
  config: Pick<CliConfig, 'redisUrl' | 'redisUrlSource'>,
  connectTimeoutMs = defaultConnectTimeoutMs,
): Promise<RedisConnection> {
  // 'one-shot': connects on connect() below and never reconnects.
  const redis = createRedisConnection({
    url: config.redisUrl,
    profile: 'one-shot',
    connectTimeoutMs,
    commandTimeoutMs,
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
