/**
 * Per-tenant limits of one subscriber's queue, shared by every replica of
 * its worker: a token bucket (GCRA: `ratePerSecond` sustained, `burst` at
 * once) and a cap on jobs running at once (`concurrency`) per envelope
 * `tenantId`. Events without a tenantId are exempt (no Redis call).
 *
 * Redis (all keys under the queue's own `<prefix>:<queue>:`, so a hash-tagged
 * prefix keeps them in the queue's cluster slot):
 * - `<prefix>:<queue>:sy:tenant:<tenant>:bucket`: hash, field `tat` = the
 *   bucket's theoretical arrival time (epoch ms, Redis clock). Expires when
 *   the bucket is full again (tat reached), which is the state a missing key
 *   stands for: an idle tenant costs no memory.
 * - `<prefix>:<queue>:sy:tenant:<tenant>:slots`: sorted set of running jobs,
 *   member = lease id, score = lease expiry (epoch ms). Expired leases (a
 *   crashed worker's) are pruned on every call; the key expires with its
 *   longest lease and is deleted when the last slot is returned.
 * - `<prefix>:<queue>:sy:tenant-limits`: hash of runtime overrides, field =
 *   tenant id or `*` (every tenant), value = JSON
 *   `{"ratePerSecond":n,"burst":n,"concurrency":n}` (each field optional).
 *   Read on every call, so a change applies without a redeploy. Each limit is
 *   taken from the tenant's field, else `*`, else the worker's defaults;
 *   0 means "no limit of that kind"; a value that is not a number in range is
 *   ignored. Written by writeTenantLimits (`sy limits set --tenant`).
 * - the BullMQ job hash `<prefix>:<queue>:<jobId>`, fields `sy:tenant-at`:
 *   the epoch ms at which the token reserved for this job exists (see
 *   below), and `sy:tenant-waits`: how many times in a row the concurrency
 *   cap refused it (cleared on admission); both go away with the job.
 * `<tenant>` is the tenant id when it is 1..64 characters of [A-Za-z0-9._-],
 * else `#` + 32 hex digits of its sha256: ids are untrusted input.
 *
 * Guarantees:
 * - Atomic: one Lua script per admission decides both limits and takes the
 *   token and the slot together, on the Redis clock, for every replica.
 * - No thundering herd: a job refused by the bucket reserves the next free
 *   token (the tenant's tat moves on by one emission interval) and is told to
 *   come back exactly when that token exists; on its return the reservation
 *   admits it without taking another token. Refused jobs of one tenant thus
 *   wake one per interval, in order, instead of all at once. A job refused
 *   by the concurrency cap waits longer each time in a row (`concurrencyWaitMs`
 *   doubling up to `maxConcurrencyWaitMs`, ±50 % jitter), never past the
 *   moment the earliest lease in the tenant's slots ends, and keeps any
 *   reservation it holds. Each refused fetch is still a BullMQ fetch: it
 *   counts against a queue-wide rate limit like a started job.
 * - A refused job is not an attempt: the gate moves it to delayed with
 *   BullMQ's skipAttempt (attemptsMade unchanged) and takes back the
 *   `attemptsStarted` BullMQ counted when it fetched the job, so the
 *   runtime's bounce count and redelivery check do not see tenant delays.
 * - Only the job's lock holder is admitted or refused: the script checks
 *   `<jobKey>:lock` against the worker's token and, when it is not the
 *   holder's, changes nothing and answers `lock_lost`.
 * - A slot is leased for max(lockDurationMs, handler timeout + 1 s): no
 *   attempt still runs when its lease ends (the worker stops waiting for a
 *   handler at its timeout), and a crashed worker's slots return within it.
 *   The worker returns its slot as soon as the attempt is decided, whatever
 *   the outcome; a failed return only leaves the lease to expire.
 *
 * Windows left open: a reservation made under one rate is honoured after the
 * rate changes (jobs already spaced out keep their times); a job refused but
 * not moved to delayed (its lock was lost meanwhile) keeps its reservation
 * and is redelivered after the stall; a move to delayed that fails on a
 * Redis error rejects admit(), and the worker fails that attempt like any
 * unexpected error (create-worker.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { RedisConnection } from '@switchyard/client';
import type { Logger } from '@switchyard/observability';
import { z } from 'zod';
import { RuntimeError, WorkerConfigError } from './errors.js';

/** A tenant's limits; each field's meaning and default is given where it is declared. */
export interface TenantLimits {
  /**
   * Jobs of one tenant that may start per second, sustained, across every
   * replica. 0 or absent: no rate limit. Range 0.001..1000000.
   */
  ratePerSecond?: number;
  /**
   * Jobs of one tenant that may start at once after it was idle (bucket
   * size). Only meaningful with a rate. 0 or absent: max(1, ceil(ratePerSecond)).
   */
  burst?: number;
  /** Jobs of one tenant running at once across every replica. 0 or absent: no cap. */
  concurrency?: number;
}

/** Why a job was delayed: its tenant's bucket was empty, or its running jobs were at the cap. */
export type TenantDelayCause = 'rate' | 'concurrency';

/** The override field that applies to every tenant without one of its own. */
export const allTenants = '*';
/** Largest value of any limit. */
export const maxTenantLimit = 1_000_000;
/** Smallest non-zero rate: one job per 1,000 s. */
export const minTenantRatePerSecond = 0.001;
/** Base wait of a job refused by the concurrency cap (jittered to 50..150 %). */
export const defaultConcurrencyWaitMs = 100;
/** Lease added to a handler's timeout for the time the worker needs to decide the attempt. */
export const tenantLeaseGraceMs = 1_000;
/** Longest base wait of a job refused by the concurrency cap again and again (jittered to 50..150 %). */
export const defaultMaxConcurrencyWaitMs = 2_000;
/** Job hash field holding a job's reserved token time. */
const reservationField = 'sy:tenant-at';
/** Job hash field counting a job's concurrency refusals in a row. */
const refusalsField = 'sy:tenant-waits';

/** A problem with tenant limits given to writeTenantLimits. */
export class TenantLimitsError extends RuntimeError {
  readonly code = 'SY_ERR_TENANT_LIMITS';
}

const limitsSchema = z.strictObject({
  ratePerSecond: z
    .number()
    .min(0)
    .max(maxTenantLimit)
    .refine((n) => n === 0 || n >= minTenantRatePerSecond, {
      message: `must be 0 or at least ${minTenantRatePerSecond}`,
    })
    .optional(),
  burst: z.number().int().min(0).max(maxTenantLimit).optional(),
  concurrency: z.number().int().min(0).max(maxTenantLimit).optional(),
});

/** Tenant ids as the envelope allows them (events' `tenantId` field), or `*`. */
const overrideFieldPattern = /^(?:\*|[A-Za-z0-9._:-]{1,100})$/;

/**
 * `limits` checked; throws WorkerConfigError naming `what` (e.g.
 * `tenantLimits.burst`) when a value is out of range.
 */
export function checkTenantLimits(limits: TenantLimits, what = 'tenantLimits'): TenantLimits {
  const parsed = limitsSchema.safeParse(limits);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? `.${issue.path.join('.')}` : '';
    throw new WorkerConfigError(`${what}${path}: ${issue?.message ?? 'invalid'}`);
  }
  return Object.freeze({ ...parsed.data });
}

/** The tenant's segment in key names: the id itself when short and plain, else a hash of it. */
export function tenantKeyId(tenantId: string): string {
  if (/^[A-Za-z0-9._-]{1,64}$/.test(tenantId)) return tenantId;
  return `#${createHash('sha256').update(tenantId).digest('hex').slice(0, 32)}`;
}

/** The overrides hash of a queue: `<prefix>:<queue>:sy:tenant-limits`. */
export function tenantLimitsKey(prefix: string, queueName: string): string {
  return `${prefix}:${queueName}:sy:tenant-limits`;
}

/** A tenant's keys in a queue (bucket and slots); see the file header for their contents. */
export function tenantKeys(
  prefix: string,
  queueName: string,
  tenantId: string,
): { bucket: string; slots: string } {
  const base = `${prefix}:${queueName}:sy:tenant:${tenantKeyId(tenantId)}`;
  return { bucket: `${base}:bucket`, slots: `${base}:slots` };
}

export interface TenantLimitsTarget {
  redis: RedisConnection;
  /** BullMQ key prefix of the queue. */
  prefix: string;
  /** The subscriber's queue name (queueNameOf(subscriber)). */
  queueName: string;
}

/**
 * Sets the override of `tenantId` (or `*`, every tenant) on the queue, or
 * removes it when `limits` is null. Takes effect on the next admission of
 * every replica. Throws TenantLimitsError on an invalid id or limit.
 */
export async function writeTenantLimits(
  target: TenantLimitsTarget,
  tenantId: string,
  limits: TenantLimits | null,
): Promise<void> {
  if (!overrideFieldPattern.test(tenantId)) {
    throw new TenantLimitsError(
      `tenant must be "*" or 1..100 letters, digits and . _ : -, got ${JSON.stringify(tenantId.slice(0, 120))}`,
    );
  }
  const key = tenantLimitsKey(target.prefix, target.queueName);
  if (limits === null) {
    await target.redis.hdel(key, tenantId);
    return;
  }
  const parsed = limitsSchema.safeParse(limits);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TenantLimitsError(
      `tenant limits ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  await target.redis.hset(key, tenantId, JSON.stringify(parsed.data));
}

/**
 * Every override on the queue, as the gate applies it: fields that are not a
 * number in range are left out (an unreadable value applies nothing).
 */
export async function readTenantLimits(
  target: TenantLimitsTarget,
): Promise<Map<string, TenantLimits>> {
  const raw = await target.redis.hgetall(tenantLimitsKey(target.prefix, target.queueName));
  const overrides = new Map<string, TenantLimits>();
  for (const [tenantId, value] of Object.entries(raw)) {
    overrides.set(tenantId, appliedLimits(value));
  }
  return new Map([...overrides].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The fields of an override value the Lua script would apply. */
function appliedLimits(value: string): TenantLimits {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const applied: TenantLimits = {};
  for (const name of ['ratePerSecond', 'burst', 'concurrency'] as const) {
    const field = limitsSchema.shape[name].safeParse((parsed as Record<string, unknown>)[name]);
    if (field.success && field.data !== undefined) applied[name] = field.data;
  }
  return applied;
}

/**
 * KEYS[1] bucket, KEYS[2] slots, KEYS[3] overrides hash, KEYS[4] job hash,
 * KEYS[5] the job's lock. ARGV[1] tenant id (override field), ARGV[2..4]
 * default ratePerSecond, burst, concurrency (0 = none), ARGV[5] lease ms,
 * ARGV[6] lease id, ARGV[7] the worker's lock token ('' = do not check).
 * Returns {1, held} when admitted (held = 1 when a slot was taken, to be
 * returned), {0, 'rate', waitMs} or {0, 'concurrency', refusalsInARow,
 * msUntilEarliestLeaseEnds} when refused, {-1, 'lock_lost'} (nothing
 * changed) when the lock is not the token's. On refusal the job's
 * attemptsStarted (`ats`) is taken back.
 */
const admitScript = `
if ARGV[7] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[7] then
  return {-1, 'lock_lost'}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rate, burst, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function valid(v, integer)
  if type(v) ~= 'number' or v ~= v or v < 0 or v > ${maxTenantLimit} then return nil end
  if integer and v ~= math.floor(v) then return nil end
  return v
end
local overrides = redis.call('HMGET', KEYS[3], '${allTenants}', ARGV[1])
for i = 1, 2 do
  local raw = overrides[i]
  if raw then
    local ok, o = pcall(cjson.decode, raw)
    if ok and type(o) == 'table' then
      local r = valid(o.ratePerSecond, false)
      if r and (r == 0 or r >= ${minTenantRatePerSecond}) then rate = r end
      burst = valid(o.burst, true) or burst
      cap = valid(o.concurrency, true) or cap
    end
  end
end
local function unstart()
  local started = tonumber(redis.call('HGET', KEYS[4], 'ats') or '0') or 0
  local made = tonumber(redis.call('HGET', KEYS[4], 'atm') or '0') or 0
  if started > made then redis.call('HINCRBY', KEYS[4], 'ats', -1) end
end
local reserved = tonumber(redis.call('HGET', KEYS[4], '${reservationField}') or '')
local newTat = nil
if rate > 0 then
  if reserved then
    if now < reserved then
      unstart()
      return {0, 'rate', math.ceil(reserved - now)}
    end
  else
    if burst < 1 then burst = math.max(1, math.ceil(rate)) end
    local interval = 1000 / rate
    local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0') or 0
    if tat < now then tat = now end
    local allowAt = tat + interval - burst * interval
    if allowAt > now then
      -- No job hash to hold a reservation (the job is gone): report the wait, take nothing.
      if redis.call('EXISTS', KEYS[4]) == 0 then return {0, 'rate', math.ceil(allowAt - now)} end
      local nextTat = tat + interval
      redis.call('HSET', KEYS[1], 'tat', string.format('%.3f', nextTat))
      redis.call('PEXPIRE', KEYS[1], math.ceil(nextTat - now) + 1)
      redis.call('HSET', KEYS[4], '${reservationField}', string.format('%.3f', allowAt))
      unstart()
      return {0, 'rate', math.ceil(allowAt - now)}
    end
    newTat = tat + interval
  end
end
local held = 0
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= cap then
    unstart()
    local refusals = 1
    if redis.call('EXISTS', KEYS[4]) == 1 then
      refusals = redis.call('HINCRBY', KEYS[4], '${refusalsField}', 1)
    end
    local earliest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, 'concurrency', refusals, math.max(1, math.ceil(tonumber(earliest[2]) - now))}
  end
  local lease = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[2], now + lease, ARGV[6])
  if redis.call('PTTL', KEYS[2]) < lease then redis.call('PEXPIRE', KEYS[2], lease) end
  held = 1
end
if newTat then
  redis.call('HSET', KEYS[1], 'tat', string.format('%.3f', newTat))
  redis.call('PEXPIRE', KEYS[1], math.ceil(newTat - now) + 1)
end
redis.call('HDEL', KEYS[4], '${reservationField}', '${refusalsField}')
return {1, held}`;

/** KEYS[1] slots; ARGV[1] lease id. Returns a slot; an empty set is deleted. */
const releaseScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 1`;

/** A slot held by an admitted job; release() never rejects (a failed return leaves the lease to expire). */
export interface TenantSlot {
  release(): Promise<void>;
}

export type TenantAdmission =
  | { admitted: true; slot: TenantSlot | undefined }
  | { admitted: false; cause: TenantDelayCause; waitMs: number }
  /** The job's lock is not the caller's token: nothing was taken or changed. */
  | { admitted: false; cause: 'lock_lost' };

export interface TenantLimiterOptions {
  redis: RedisConnection;
  prefix: string;
  queueName: string;
  /** The limits of tenants without an override (checkTenantLimits). */
  defaults: TenantLimits;
  /** Source of jitter in [0, 1). Default: Math.random. */
  random?: () => number;
  /** Base wait after a job's first concurrency refusal; doubles with each refusal in a row. Default: 100 ms. */
  concurrencyWaitMs?: number;
  /** Cap of that base wait. Default: 2000 ms (so at most 3 s with jitter). */
  maxConcurrencyWaitMs?: number;
  /** Logs failed slot returns. */
  logger?: Logger;
}

export interface TenantLimiter {
  /**
   * Asks for one job of `tenantId` to start now. `jobId` names the BullMQ
   * job whose hash holds its reservation; `leaseMs` bounds how long a slot
   * survives its holder; `token`, when given, must be the job's lock.
   * Refused: the wait before asking again (`rate`: the moment the job's
   * reserved token exists; `concurrency`: growing with the job's refusals
   * in a row, jittered, at most until the earliest lease ends).
   */
  acquire(
    tenantId: string,
    jobId: string,
    leaseMs: number,
    token?: string,
  ): Promise<TenantAdmission>;
  /**
   * The gate of one job in the worker: undefined for a job without a tenant
   * (exempt, no Redis call); a slot to release when the attempt ends;
   * 'delayed' once the job was moved to delayed (the caller then throws
   * BullMQ's DelayedError, which counts no attempt); or 'lock_lost' when
   * the job's lock is no longer `token` (nothing changed, the job is not
   * ours to delay). Rejects when Redis fails, including a move to delayed
   * failing for any reason but a lost lock or a vanished job.
   */
  admit(
    job: Job,
    token: string | undefined,
    tenantId: string | undefined,
    leaseMs: number,
    onDelay?: (cause: TenantDelayCause, waitMs: number) => void,
  ): Promise<TenantSlot | 'delayed' | 'lock_lost' | undefined>;
}

/**
 * BullMQ's codes for a move refused because the job is not ours any more:
 * missing job (-1), missing lock (-2), not active (-3), lock mismatch (-6).
 */
const lostJobCodes = new Set([-1, -2, -3, -6]);

export function createTenantLimiter(options: TenantLimiterOptions): TenantLimiter {
  const { redis, prefix, queueName } = options;
  const defaults = checkTenantLimits(options.defaults);
  const random = options.random ?? Math.random;
  const concurrencyWaitMs = options.concurrencyWaitMs ?? defaultConcurrencyWaitMs;
  const maxConcurrencyWaitMs = Math.max(
    concurrencyWaitMs,
    options.maxConcurrencyWaitMs ?? defaultMaxConcurrencyWaitMs,
  );
  const limitsKey = tenantLimitsKey(prefix, queueName);
  const admitSha = createHash('sha1').update(admitScript).digest('hex');
  const releaseSha = createHash('sha1').update(releaseScript).digest('hex');

  /** EVALSHA, loading the script once when Redis does not know it (first call, restart, SCRIPT FLUSH). */
  const run = async (
    sha: string,
    script: string,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(script, keys.length, ...keys, ...args);
    }
  };

  const release = (slots: string, leaseId: string) => async (): Promise<void> => {
    try {
      await run(releaseSha, releaseScript, [slots], [leaseId]);
    } catch (error) {
      options.logger?.warn({ err: error }, 'could not return a tenant slot; its lease expires');
    }
  };

  const acquire: TenantLimiter['acquire'] = async (tenantId, jobId, leaseMs, token) => {
    const keys = tenantKeys(prefix, queueName, tenantId);
    const leaseId = `${jobId}:${randomUUID()}`;
    const jobKey = `${prefix}:${queueName}:${jobId}`;
    const reply = (await run(
      admitSha,
      admitScript,
      [keys.bucket, keys.slots, limitsKey, jobKey, `${jobKey}:lock`],
      [
        tenantId,
        defaults.ratePerSecond ?? 0,
        defaults.burst ?? 0,
        defaults.concurrency ?? 0,
        Math.max(1, Math.ceil(leaseMs)),
        leaseId,
        token ?? '',
      ],
    )) as [number, number | string, number?, number?];
    if (reply[0] === -1) return { admitted: false, cause: 'lock_lost' };
    if (reply[0] === 1) {
      return {
        admitted: true,
        slot: reply[1] === 1 ? { release: release(keys.slots, leaseId) } : undefined,
      };
    }
    if (reply[1] === 'rate') {
      return { admitted: false, cause: 'rate', waitMs: Math.max(1, Number(reply[2])) };
    }
    // Backs off per job: 100, 200, 400 ... ms up to the cap, jittered, and
    // never past the earliest lease's end (a crashed holder's slot is free then).
    const refusals = Math.max(1, Number(reply[2] ?? 1));
    const base = Math.min(
      maxConcurrencyWaitMs,
      concurrencyWaitMs * 2 ** Math.min(refusals - 1, 30),
    );
    const untilLeaseEnds = Number(reply[3] ?? Number.POSITIVE_INFINITY);
    const waitMs = Math.max(1, Math.min(Math.round(base * (0.5 + random())), untilLeaseEnds));
    return { admitted: false, cause: 'concurrency', waitMs };
  };

  return {
    acquire,
    async admit(job, token, tenantId, leaseMs, onDelay) {
      if (tenantId === undefined || job.id === undefined) return undefined;
      const admission = await acquire(tenantId, job.id, leaseMs, token);
      if (admission.admitted) return admission.slot;
      if (admission.cause === 'lock_lost') return 'lock_lost';
      onDelay?.(admission.cause, admission.waitMs);
      try {
        // skipAttempt: attemptsMade stays as it is.
        await job.moveToDelayed(Date.now() + admission.waitMs, token);
      } catch (error) {
        if (lostJobCodes.has((error as { code?: unknown } | null)?.code as number)) {
          // Lost meanwhile: the stall check redelivers it (its reservation kept).
          options.logger?.warn(
            { err: error },
            'could not delay the job over its tenant limit: its lock was lost',
          );
          return 'lock_lost';
        }
        // A Redis error: the caller fails the attempt through its normal path.
        options.logger?.error({ err: error }, 'could not delay the job over its tenant limit');
        throw error;
      }
      return 'delayed';
    },
  };
}
