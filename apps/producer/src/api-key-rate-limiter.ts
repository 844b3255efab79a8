/**
 * Requests per minute per API key, counted in Redis so every producer
 * replica shares one count.
 *
 * Window: fixed, one minute long, starting at the first request a key makes
 * after its previous window ended (one counter key with a TTL, so a key's
 * windows cost one Redis key and expire by themselves). Simple and exact
 * within a window; like any fixed window it lets a key make up to twice its
 * limit across a window boundary. A refused request is not counted, so a
 * client that keeps retrying does not extend its own wait.
 *
 * Redis key (never the API key itself, only its id = apiKeyId()):
 *   <prefix>:ratelimit:apikey:<id>  integer, requests counted in the current
 *                                   window; expires at the window's end.
 *
 * Failures: every call is one EVALSHA on the producer's fail-fast
 * connection, so an unreachable Redis fails it at once and a hung one after
 * REDIS_COMMAND_TIMEOUT_MS, as RedisUnavailableError (503); it never waits
 * longer.
 */
import { createHash } from 'node:crypto';
import { RedisUnavailableError, type RedisConnection } from '@switchyard/client';
import { RateLimitedError } from './errors.js';

export interface ApiKeyRateLimiterOptions {
  redis: RedisConnection;
  /** Key prefix (QUEUE_PREFIX), so a hash-tagged prefix keeps the counters in the queues' slot. */
  prefix: string;
  /** Requests per window for a key without an entry in `limits`; 0 = unlimited. */
  limit: number;
  /** Per key id; 0 = unlimited for that key. */
  limits: Readonly<Record<string, number>>;
  /** Window length in ms. Default 60 000. */
  windowMs?: number;
}

export interface ApiKeyRateLimiter {
  /** Whether any key is limited at all (false: consume() never touches Redis). */
  readonly enabled: boolean;
  /**
   * Counts one request of the key `keyId`. Rejects with RateLimitedError
   * when the key is at its limit for the current window (nothing counted),
   * or RedisUnavailableError when Redis does not answer.
   */
  consume(keyId: string): Promise<void>;
}

/**
 * Counts one request against KEYS[1] unless the window is full.
 *   KEYS[1]  the key's counter (see the file header)
 *   ARGV[1]  limit: requests per window
 *   ARGV[2]  window length, ms
 * Returns {allowed (1 or 0), count in the window, ms until the window ends}.
 * A counter without a TTL (not written by this script) starts a new window.
 */
const consumeScript = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('SET', KEYS[1], 1, 'PX', window)
  return {1, 1, window}
end
local count = tonumber(redis.call('GET', KEYS[1])) or 0
if count >= limit then return {0, count, ttl} end
return {1, redis.call('INCR', KEYS[1]), ttl}
`;
const consumeSha = createHash('sha1').update(consumeScript).digest('hex');

export function createApiKeyRateLimiter(options: ApiKeyRateLimiterOptions): ApiKeyRateLimiter {
  const { redis, prefix, limits } = options;
  const windowMs = options.windowMs ?? 60_000;
  const limitOf = (keyId: string): number =>
    Object.hasOwn(limits, keyId) ? (limits[keyId] as number) : options.limit;
  const enabled = options.limit > 0 || Object.values(limits).some((limit) => limit > 0);

  async function run(key: string, limit: number): Promise<[number, number, number]> {
    const args = [1, key, limit, windowMs] as const;
    try {
      return (await redis.evalsha(consumeSha, ...args)) as [number, number, number];
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await redis.eval(consumeScript, ...args)) as [number, number, number];
    }
  }

  return {
    enabled,
    async consume(keyId) {
      const limit = limitOf(keyId);
      if (limit <= 0) return;
      let reply: [number, number, number];
      try {
        reply = await run(`${prefix}:ratelimit:apikey:${keyId}`, limit);
      } catch (error) {
        throw new RedisUnavailableError(`checking the API key's rate limit: ${String(error)}`, {
          cause: error,
        });
      }
      const [allowed, , remainingMs] = reply;
      if (allowed === 1) return;
      const retryAfterSeconds = Math.max(1, Math.ceil(remainingMs / 1_000));
      throw new RateLimitedError(
        `this API key is at its limit of ${limit} requests per ${windowMs / 1_000} s; ` +
          `retry in ${retryAfterSeconds} s`,
        { limit, windowSeconds: windowMs / 1_000, retryAfterSeconds },
      );
    },
  };
}
