/**
 * Queue-wide limits of a subscriber's queue: a rate limit (at most `max`
 * jobs start per `durationMs`) and a global concurrency (at most `n` jobs
 * active at once), across every replica, changeable while workers run.
 *
 * Where they live (the contract `sy limits` and the workers share):
 * - BullMQ's queue meta hash `${prefix}:${queue}:meta`, fields `max`,
 *   `duration` and `concurrency`: exactly what Queue.setGlobalRateLimit,
 *   setGlobalConcurrency and their remove*() write and get*() read.
 *   BullMQ's moveToActive reads them on every fetch, so every replica
 *   honours a change at its next fetch, without a restart.
 * - A marker hash `${prefix}:${queue}:sy:limits`: `source` (`config`: the
 *   workers' configuration; `cli`: an operator's runtime choice),
 *   `updatedAt` (epoch ms) and, for `cli`, `by` (free text). A worker
 *   starting applies its configuration only unless the source is `cli`, so
 *   an operator's choice survives restarts and redeploys.
 *
 * "No rate limit" is stored as absent `max`/`duration` fields: any rate
 * limit in the meta, even one that never binds, makes BullMQ run its limiter
 * (HEXISTS, INCR, PEXPIRE) on every fetch, a cost paid per job. A Retry-After
 * or an open breaker holds the queue through BullMQ's limiter key, which
 * BullMQ only honours while a rate limit is in the meta (getRateLimitTTL
 * needs `max`): `holdQueue` writes `unboundedRateLimit` (1e9 per 1000 ms)
 * when the meta has none, and it stays until the next write of the limits
 * (a worker start) removes it. Removing "none" keeps the unbounded limit
 * while the limiter key still holds the queue, so a restart never cuts a
 * hold short.
 */
import type { RedisConnection } from '@switchyard/client';
import { QueueLimitsError } from './errors.js';

/** A queue-wide rate limit: at most `max` jobs start per `durationMs`, across all replicas. */
export interface QueueRateLimit {
  max: number;
  durationMs: number;
}

/** Who set the limits last: the workers' configuration or an operator at runtime. */
export type QueueLimitsSource = 'config' | 'cli';

export interface QueueLimits {
  /** The rate limit; null when there is none (the meta holds the unbounded one, or nothing). */
  rateLimit: QueueRateLimit | null;
  /** Most jobs active at once across replicas; null when there is no global concurrency. */
  concurrency: number | null;
  /** Who wrote them last; null when no worker or operator has yet. */
  source: QueueLimitsSource | null;
  /** When they were written (epoch ms); null with source null. */
  updatedAt: number | null;
  /** Who changed them at runtime (free text); only with source `cli`. */
  by?: string;
}

export interface QueueRef {
  /** BullMQ key prefix (QUEUE_PREFIX), e.g. 'sy'. */
  prefix: string;
  /** The queue's name, e.g. queueNameOf('notifications'). */
  queue: string;
}

export interface WriteQueueLimitsOptions extends QueueRef {
  /** The new rate limit; null = none (stored as the unbounded one); undefined = keep the current one. */
  rateLimit?: QueueRateLimit | null;
  /** The new global concurrency; null = none; undefined = keep the current one. */
  concurrency?: number | null;
  source: QueueLimitsSource;
  /** Who is changing them (with source `cli`), e.g. a user name; at most 200 characters. */
  by?: string;
  /** Epoch ms stored as `updatedAt`. Default: Date.now(). */
  now?: number;
}

/** The rate limit stored for "no rate limit": large enough never to bind. */
export const unboundedRateLimit: Readonly<QueueRateLimit> = Object.freeze({
  max: 1_000_000_000,
  durationMs: 1_000,
});
/** Largest rate limit `max` accepted (one less than the unbounded one). */
export const maxRateLimitMax = unboundedRateLimit.max - 1;
/** Largest rate limit window accepted, in ms (Node's largest timer). */
export const maxRateLimitDurationMs = 2_147_483_647;
/** Largest global concurrency accepted. */
export const maxGlobalConcurrency = 1_000_000;
/** Longest `by` accepted. */
export const maxLimitsByLength = 200;

/** The marker hash of a queue's limits. */
export function queueLimitsKey({ prefix, queue }: QueueRef): string {
  return `${prefix}:${queue}:sy:limits`;
}

/** BullMQ's meta hash of a queue (Queue.keys.meta). */
function metaKey({ prefix, queue }: QueueRef): string {
  return `${prefix}:${queue}:meta`;
}

/** BullMQ's rate-limiter key of a queue (Queue.keys.limiter). */
function limiterKey({ prefix, queue }: QueueRef): string {
  return `${prefix}:${queue}:limiter`;
}

/** Reads a queue's limits and who set them, in one round trip. */
export async function readQueueLimits(redis: RedisConnection, ref: QueueRef): Promise<QueueLimits> {
  const [meta, marker] = (await redis
    .multi()
    .hmget(metaKey(ref), 'max', 'duration', 'concurrency')
    .hmget(queueLimitsKey(ref), 'source', 'updatedAt', 'by')
    .exec()) as [[Error | null, (string | null)[]], [Error | null, (string | null)[]]];
  if (meta[0]) throw meta[0];
  if (marker[0]) throw marker[0];
  const [max, duration, concurrency] = meta[1];
  const [source, updatedAt, by] = marker[1];
  const limits: QueueLimits = {
    rateLimit:
      max && duration && Number(max) < unboundedRateLimit.max
        ? { max: Number(max), durationMs: Number(duration) }
        : null,
    concurrency: concurrency ? Number(concurrency) : null,
    source: source === 'config' || source === 'cli' ? source : null,
    updatedAt: source && updatedAt ? Number(updatedAt) : null,
  };
  if (limits.source === 'cli' && by) limits.by = by;
  return limits;
}

/**
 * Writes a queue's limits and marks who set them, atomically; every replica
 * applies them at its next fetch. Throws QueueLimitsError (nothing written)
 * for a value out of range: `rateLimit.max` 1..999999999, `durationMs`
 * 1..2147483647, `concurrency` 1..1000000, all integers.
 */
export async function writeQueueLimits(
  redis: RedisConnection,
  options: WriteQueueLimitsOptions,
): Promise<void> {
  await runWrite(redis, options, 'always');
}

/**
 * What a worker does at start: writes its configured limits (source
 * `config`) unless an operator set them at runtime (source `cli`), in one
 * atomic step. Resolves with true when it wrote them, false when it left
 * the operator's limits in place.
 */
export async function applyConfiguredQueueLimits(
  redis: RedisConnection,
  options: QueueRef & {
    rateLimit: QueueRateLimit | null;
    concurrency: number | null;
    now?: number;
  },
): Promise<boolean> {
  return runWrite(redis, { ...options, source: 'config' }, 'unless_cli');
}

/**
 * KEYS[1] meta, KEYS[2] marker, KEYS[3] the queue's limiter key. ARGV:
 * [1] 'always' | 'unless_cli', [2] rate 'keep' | 'set' | 'remove' (none:
 * the fields are deleted, or set to the unbounded [3]/[4] while KEYS[3]
 * holds the queue), [3] max, [4] duration, [5] concurrency 'keep' |
 * 'set' | 'remove', [6] concurrency, [7] source, [8] updatedAt, [9] by
 * ('' = none). Returns 1 when it wrote, 0 when the marker said `cli` and
 * ARGV[1] was 'unless_cli'.
 */
const writeLimitsScript = `
if ARGV[1] == 'unless_cli' and redis.call('HGET', KEYS[2], 'source') == 'cli' then
  return 0
end
if ARGV[2] == 'set' then
  redis.call('HSET', KEYS[1], 'max', ARGV[3], 'duration', ARGV[4])
elseif ARGV[2] == 'remove' then
  if redis.call('PTTL', KEYS[3]) > 0 then
    redis.call('HSET', KEYS[1], 'max', ARGV[3], 'duration', ARGV[4])
  else
    redis.call('HDEL', KEYS[1], 'max', 'duration')
  end
end
if ARGV[5] == 'set' then
  redis.call('HSET', KEYS[1], 'concurrency', ARGV[6])
elseif ARGV[5] == 'remove' then
  redis.call('HDEL', KEYS[1], 'concurrency')
end
redis.call('HSET', KEYS[2], 'source', ARGV[7], 'updatedAt', ARGV[8])
if ARGV[9] == '' then
  redis.call('HDEL', KEYS[2], 'by')
else
  redis.call('HSET', KEYS[2], 'by', ARGV[9])
end
return 1`;

async function runWrite(
  redis: RedisConnection,
  options: WriteQueueLimitsOptions,
  mode: 'always' | 'unless_cli',
): Promise<boolean> {
  checkQueueRef(options);
  if (options.source !== 'config' && options.source !== 'cli') {
    throw new QueueLimitsError(`source must be 'config' or 'cli', got ${String(options.source)}`);
  }
  const rate = options.rateLimit === null ? unboundedRateLimit : options.rateLimit;
  if (rate !== undefined && options.rateLimit !== null) {
    checkInteger('rate limit max', rate.max, 1, maxRateLimitMax);
    checkInteger('rate limit durationMs', rate.durationMs, 1, maxRateLimitDurationMs);
  }
  if (options.concurrency !== undefined && options.concurrency !== null) {
    checkInteger('concurrency', options.concurrency, 1, maxGlobalConcurrency);
  }
  const by = options.source === 'cli' ? (options.by ?? '') : '';
  if (by.length > maxLimitsByLength) {
    throw new QueueLimitsError(`by must be at most ${maxLimitsByLength} characters`);
  }
  const written = await redis.eval(
    writeLimitsScript,
    3,
    metaKey(options),
    queueLimitsKey(options),
    limiterKey(options),
    mode,
    rate === undefined ? 'keep' : options.rateLimit === null ? 'remove' : 'set',
    rate?.max ?? '',
    rate?.durationMs ?? '',
    options.concurrency === undefined ? 'keep' : options.concurrency === null ? 'remove' : 'set',
    options.concurrency ?? '',
    options.source,
    options.now ?? Date.now(),
    by,
  );
  return written === 1;
}

/**
 * KEYS[1] the queue's limiter key, KEYS[2] its meta. ARGV[1] wait ms,
 * ARGV[2]/ARGV[3] the unbounded max/duration.
 * Holds the queue as Queue.rateLimit does: a count no limit allows, expiring
 * after max(wait, the key's current PTTL). The current window's end is kept
 * (a Retry-After shorter than the rest of a rate-limit window must not end
 * that window early: BullMQ would open a new one and admit `max` more), and
 * a later, shorter Retry-After never shortens a longer hold. BullMQ honours
 * the key only while the meta has a rate limit: a missing one is restored as
 * the unbounded limit; an operator's `max` without a `duration` is kept and
 * given the default window (BullMQ cannot start a window without one).
 * Returns 1 when it set the key, 0 when the key already held that long.
 */
const holdQueueScript = `
local max = tonumber(redis.call('HGET', KEYS[2], 'max'))
if not max then
  redis.call('HSET', KEYS[2], 'max', ARGV[2], 'duration', ARGV[3])
  max = tonumber(ARGV[2])
elseif not redis.call('HGET', KEYS[2], 'duration') then
  redis.call('HSET', KEYS[2], 'duration', ARGV[3])
end
local wait = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local pttl = redis.call('PTTL', KEYS[1])
if current >= max and pttl >= wait then
  return 0
end
if pttl > wait then wait = pttl end
redis.call('SET', KEYS[1], '${Number.MAX_SAFE_INTEGER}', 'PX', wait)
return 1`;

/**
 * Holds the whole queue (every replica: no worker starts a job of it) for
 * `waitMs`, or until the current rate-limit window or a longer hold ends,
 * whichever is later. Resolves with true when it set the hold.
 */
export async function holdQueue(
  redis: RedisConnection,
  ref: QueueRef,
  waitMs: number,
): Promise<boolean> {
  checkInteger('waitMs', Math.ceil(waitMs), 1, maxRateLimitDurationMs);
  const set = await redis.eval(
    holdQueueScript,
    2,
    limiterKey(ref),
    metaKey(ref),
    Math.ceil(waitMs),
    unboundedRateLimit.max,
    unboundedRateLimit.durationMs,
  );
  return set === 1;
}

function checkQueueRef(ref: QueueRef): void {
  if (typeof ref.prefix !== 'string' || ref.prefix === '') {
    throw new QueueLimitsError('prefix must be a non-empty string');
  }
  if (typeof ref.queue !== 'string' || ref.queue === '') {
    throw new QueueLimitsError('queue must be a non-empty string');
  }
}

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new QueueLimitsError(
      `${name} must be an integer in ${min}..${max}, got ${String(value)}`,
    );
  }
}
