/**
 * A secondary index of jobs by the ids people search with: eventId,
 * correlationId, idempotency key and tenantId. BullMQ can only look a job up
 * by queue and job id; this index answers "where is event X" across every
 * subscriber queue and dead-letter queue.
 *
 * Keys (one sorted set per searched value):
 *
 *   key:     `<prefix>:sy:index:<kind>:<value>`, kind one of JobIndexKind.
 *            `<value>` is the id itself when it is 1-128 printable ASCII
 *            characters without spaces and does not start with `#`; any other
 *            id (long, spaces, control or non-ASCII characters) is stored as
 *            `#<sha256 hex>`, so a key stays short whatever a caller sends.
 *   members: `<queueName>/<jobId>` (queue names hold no `/`; the first `/`
 *            splits), score = when the member expires, ms since the epoch:
 *            the write's time plus the writer's `ttlSeconds`. Writers keep
 *            different retentions (queue jobs: the idempotency window, 24 h
 *            by default; DLQ entries, which BullMQ keeps until replayed or
 *            purged: 30 days, the runtime's default) and one key mixes them
 *            (an eventId names its queue jobs and its DLQ entry), so each
 *            member carries its own expiry. Rewriting a member never
 *            shortens it (ZADD GT).
 *   TTL:     the key expires with its longest-lived member: on every write it
 *            is set to the highest score, so a short-retention write never
 *            shortens a key holding a longer-lived member.
 *   bounds:  on every write to a key that held other members, members past
 *            their expiry are removed, then only the `maxPerTenant` (tenantId,
 *            default 10 000) or `maxJobIndexEntriesPerId` (correlationId,
 *            idempotencyKey: 1 000) latest-expiring are kept: when a key is
 *            over its bound, the members closest to expiry go first. An
 *            eventId key holds one member per queue the event reached, its
 *            DLQ entry and its replays: bounded by routing.
 *
 * Writers: the publisher when it fans out (in the round trip that marks the
 * idempotency record accepted), the runtime when it writes a dead-letter
 * record, and dead-letter replay for the `-r<n>` job it adds. Index writes
 * are best effort: a failed write is reported by the writer and never fails
 * the publish, dead-lettering or replay it belongs to. The index is not
 * updated when a job is removed: findJobs reports such a job as 'gone'
 * until its member expires.
 *
 * Members written before scores were expiries (scored with their write
 * time) read as expired: they are dropped on the next write to their key.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisConnection } from './redis-connection.js';

/** The ids a job can be found by. */
export type JobIndexKind = 'eventId' | 'correlationId' | 'idempotencyKey' | 'tenantId';

/** Every kind, in the order findJobs reports `matchedBy`. */
export const jobIndexKinds: readonly JobIndexKind[] = [
  'eventId',
  'correlationId',
  'idempotencyKey',
  'tenantId',
];

/** One job the index points at, with its state and fields read when found. */
export interface FoundJob {
  queue: string;
  jobId: string;
  /** The queue is a dead-letter queue (`<subscriber>.dlq`). */
  deadLetter: boolean;
  /**
   * BullMQ's state of the job, read without scanning the wait list (see
   * readJobScript). 'paused': waiting in a paused subscriber queue (DLQs are
   * always paused; their entries say 'waiting'). 'gone': the index names it
   * but the job no longer exists (completed and removed by retention,
   * replayed or purged from a DLQ, removed by hand). 'unknown': the job
   * could not be read (a key of it holds a foreign value: WRONGTYPE), or it
   * finished but is in neither finished set.
   */
  state:
    | 'waiting'
    | 'active'
    | 'delayed'
    | 'prioritized'
    | 'completed'
    | 'failed'
    | 'waiting-children'
    | 'paused'
    | 'unknown'
    | 'gone';
  /** The kinds under which the searched id named this job. */
  matchedBy: JobIndexKind[];
  /** The job name: the event type (for DLQ entries the record's eventType). */
  eventType?: string;
  eventId?: string;
  tenantId?: string;
  correlationId?: string;
  idempotencyKey?: string;
  /** BullMQ attemptsMade; for a DLQ entry, the attempts the original job made (the record's). */
  attemptsMade?: number;
  /** When the job was added, ms since the epoch (BullMQ `timestamp`). */
  timestamp?: number;
  /**
   * BullMQ failedReason; for a DLQ entry `<reason>: <last error message>`
   * from the record. At most `maxFoundFieldLength` characters.
   */
  failedReason?: string;
}

export interface FindJobsOptions {
  /** BullMQ key prefix of the queues (and of the index). */
  prefix: string;
  /** The id to look for: an eventId, correlationId, idempotency key or tenantId. */
  id: string;
  /** Kinds to look the id up under. Default: all four. */
  kinds?: JobIndexKind[];
  /**
   * Most jobs returned, latest-expiring first (see findJobs): 1 to
   * `maxFindJobsLimit` (larger values are capped). Default 50.
   */
  limit?: number;
}

/** One job to index: where it is and the ids it is found by. */
export interface JobIndexEntry {
  queue: string;
  jobId: string;
  eventId?: string | undefined;
  correlationId?: string | undefined;
  idempotencyKey?: string | undefined;
  tenantId?: string | undefined;
}

/** How long and how much the index keeps of the jobs one write indexes. */
export interface JobIndexRetention {
  /**
   * Seconds each member written lives (its score is its expiry). Other
   * members of the same keys keep their own expiry, and a key lives until
   * its last member expires. Default 86 400 (24 h, the idempotency window).
   */
  ttlSeconds?: number;
  /** Latest-expiring jobs kept per tenant. Default 10 000. */
  maxPerTenant?: number;
}

export const defaultJobIndexTtlSeconds = 86_400;
export const defaultJobIndexMaxPerTenant = 10_000;
/** Newest jobs kept per correlationId and per idempotency key. */
export const maxJobIndexEntriesPerId = 1_000;
export const defaultFindJobsLimit = 50;
export const maxFindJobsLimit = 500;
/** Longest field (ids, event type, failedReason) findJobs copies from a job. */
export const maxFoundFieldLength = 1_024;
/** Longest `<queue>/<jobId>` member indexed; longer ones are skipped (our job ids are short). */
const maxMemberLength = 1_024;

/** findJobs or an index write was called with options it cannot use. */
export class JobIndexUsageError extends Error {
  readonly code = 'SY_ERR_JOB_INDEX_USAGE';

  constructor(message: string) {
    super(message);
    this.name = 'JobIndexUsageError';
  }
}

const plainValue = /^[\x21-\x7e]{1,128}$/;

/** The index key of one searched value (see the header for when it is hashed). */
export function jobIndexKey(prefix: string, kind: JobIndexKind, value: string): string {
  const part =
    plainValue.test(value) && !value.startsWith('#')
      ? value
      : `#${createHash('sha256').update(value, 'utf8').digest('hex')}`;
  return `${prefix}:sy:index:${kind}:${part}`;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new JobIndexUsageError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Retention with defaults applied; throws JobIndexUsageError for a bad value. */
export function resolveJobIndexRetention(
  retention: JobIndexRetention = {},
): Required<JobIndexRetention> {
  return {
    ttlSeconds: positiveInteger('ttlSeconds', retention.ttlSeconds, defaultJobIndexTtlSeconds),
    maxPerTenant: positiveInteger(
      'maxPerTenant',
      retention.maxPerTenant,
      defaultJobIndexMaxPerTenant,
    ),
  };
}

/**
 * Writes one chunk of index keys (see the header for the layout and bounds).
 * Each key is written under pcall, so one bad key (WRONGTYPE from a foreign
 * value) does not stop the others; the script then answers an error naming
 * how many keys failed and the first reason.
 *
 * KEYS: the index keys
 * ARGV: 1 score of the members written (their expiry, ms), 2 now (ms;
 *       members scored below it have expired), 3 members kept per tenant,
 *       4 members kept per correlationId / idempotency key, then per key:
 *       its kind ('e' eventId, 't' tenantId, 'o' other), its member count
 *       n, and n members.
 */
const writeIndexScript = `
local rcall = redis.call
local score, now = ARGV[1], tonumber(ARGV[2])
local expired = '(' .. ARGV[2]
local keepTenant, keepId = tonumber(ARGV[3]), tonumber(ARGV[4])
local a, failed, firstError = 5, 0, nil
for i = 1, #KEYS do
  local key, kind, n = KEYS[i], ARGV[a], tonumber(ARGV[a + 1])
  local first = a + 2
  a = first + n
  local ok, err = pcall(function()
    -- Variadic ZADD in slices of 500 members (Lua's unpack has a stack limit).
    -- GT: a member written again keeps the later of its two expiries.
    local added = 0
    for from = first, first + n - 1, 500 do
      local args = {}
      for j = from, math.min(from + 499, first + n - 1) do
        args[#args + 1] = score
        args[#args + 1] = ARGV[j]
      end
      added = added + rcall('ZADD', key, 'GT', unpack(args))
    end
    -- A key without a TTL was just created (every write leaves one): it holds
    -- only what was just added, all expiring at 'score', so it needs no trim
    -- and that is its expiry (PEXPIRE NX: one command for most keys).
    local fresh = added == n and
      rcall('PEXPIRE', key, math.max(1000, math.ceil(tonumber(score) - now)), 'NX') == 1
    if not fresh then
      -- Only members past their own expiry: a short-lived write never drops a longer-lived member.
      rcall('ZREMRANGEBYSCORE', key, '-inf', expired)
      if kind ~= 'e' then
        local keep = keepId
        if kind == 't' then keep = keepTenant end
        rcall('ZREMRANGEBYRANK', key, 0, -(keep + 1))
      end
      -- The key lives until its latest-expiring member expires: never shortened by this write.
      local last = rcall('ZRANGE', key, -1, -1, 'WITHSCORES')
      local lastScore = tonumber(last[2] or '0') or 0
      rcall('PEXPIRE', key, math.max(1000, math.ceil(lastScore - now)))
    end
  end)
  if not ok then
    failed = failed + 1
    if firstError == nil then
      firstError = type(err) == 'table' and err.err or tostring(err)
    end
  end
end
if failed > 0 then
  return redis.error_reply('ERR job index: ' .. failed .. ' of ' .. #KEYS .. ' keys not written: ' .. firstError)
end
return #KEYS`;

/** Index keys per EVAL: bounds how long one write script holds Redis. */
const writeChunkKeys = 500;
const writeIndexScriptSha = createHash('sha1').update(writeIndexScript).digest('hex');

/** The EVAL arguments (numkeys, keys, argv) of each index write `entries` need, at most 500 keys each. */
function jobIndexWriteArgs(options: {
  prefix: string;
  entries: readonly JobIndexEntry[];
  now: number;
  retention?: JobIndexRetention | undefined;
}): (string | number)[][] {
  const { ttlSeconds, maxPerTenant } = resolveJobIndexRetention(options.retention);
  const members = new Map<string, { kind: JobIndexKind; members: Set<string> }>();
  for (const entry of options.entries) {
    const member = `${entry.queue}/${entry.jobId}`;
    if (entry.queue.includes('/') || member.length > maxMemberLength) continue;
    for (const kind of jobIndexKinds) {
      const value = entry[kind];
      if (typeof value !== 'string' || value === '') continue;
      const key = jobIndexKey(options.prefix, kind, value);
      let group = members.get(key);
      if (group === undefined) {
        group = { kind, members: new Set() };
        members.set(key, group);
      }
      group.members.add(member);
    }
  }
  const header = [
    options.now + ttlSeconds * 1_000,
    options.now,
    maxPerTenant,
    maxJobIndexEntriesPerId,
  ];
  const groups = [...members];
  const commands: (string | number)[][] = [];
  for (let start = 0; start < groups.length; start += writeChunkKeys) {
    const chunk = groups.slice(start, start + writeChunkKeys);
    const args: (string | number)[] = [];
    for (const [, group] of chunk) {
      const code = group.kind === 'eventId' ? 'e' : group.kind === 'tenantId' ? 't' : 'o';
      args.push(code, group.members.size, ...group.members);
    }
    commands.push([chunk.length, ...chunk.map(([key]) => key), ...header, ...args]);
  }
  return commands;
}

/**
 * Sends the index writes for `entries` straight on `redis`, without a
 * pipeline object (ioredis builds each pipeline with every script BullMQ
 * defined on the connection: costly per call on a publisher's connection),
 * by script hash (EVALSHA; the script body is sent again only after a
 * NOSCRIPT). Commands issued in one tick share a round trip. Returns one
 * promise per command, each resolving with the number of keys written or
 * rejecting like queueJobIndexWrites' replies.
 */
export function sendJobIndexWrites(
  redis: RedisConnection,
  options: {
    prefix: string;
    entries: readonly JobIndexEntry[];
    now: number;
    retention?: JobIndexRetention | undefined;
  },
): Promise<unknown>[] {
  return jobIndexWriteArgs(options).map(async ([numKeys, ...rest]) => {
    try {
      return await redis.evalsha(writeIndexScriptSha, numKeys!, ...rest);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(writeIndexScript, numKeys!, ...rest);
    }
  });
}

/**
 * Queues the index writes for `entries` on `pipeline` (a pipeline or MULTI
 * the caller executes), grouped so that each key is written once however
 * many entries share it, as EVALs of at most 500 keys each. Returns how many
 * commands were queued (0 for no entries); each answers the number of keys
 * written, or an error when some were not.
 * `now` is the time of the write, ms since the epoch: members are scored
 * `now + ttlSeconds`, and members scored below `now` are trimmed.
 */
export function queueJobIndexWrites(
  pipeline: ChainableCommander,
  options: {
    prefix: string;
    entries: readonly JobIndexEntry[];
    now: number;
    retention?: JobIndexRetention;
  },
): number {
  const commands = jobIndexWriteArgs(options);
  for (const [numKeys, ...rest] of commands) pipeline.eval(writeIndexScript, numKeys!, ...rest);
  return commands.length;
}

/**
 * Writes the index entries in one round trip. Throws the first failed
 * command's error; callers treat that as a lost index entry, not as a
 * failure of what they were indexing.
 */
export async function indexJobs(
  redis: RedisConnection,
  options: {
    prefix: string;
    entries: readonly JobIndexEntry[];
    retention?: JobIndexRetention;
    now?: number;
  },
): Promise<void> {
  const pipeline = redis.pipeline();
  const queued = queueJobIndexWrites(pipeline, {
    prefix: options.prefix,
    entries: options.entries,
    now: options.now ?? Date.now(),
    ...(options.retention === undefined ? {} : { retention: options.retention }),
  });
  if (queued === 0) return;
  const replies = await pipeline.exec();
  const failed = replies?.find(([error]) => error !== null)?.[0];
  if (failed) throw failed;
}

/**
 * Reads one job's state and searchable fields without moving any data but
 * those fields, and without O(backlog) work: the ids are parsed from job.data
 * with cjson inside Redis, so a large payload never leaves the server, and
 * the state is derived without scanning the wait list (BullMQ's getState
 * runs LPOS over it, O(n) on a large backlog):
 * - the sorted sets first (completed, failed, delayed, prioritized,
 *   waiting-children): ZSCORE each;
 * - then 'active' when the job's lock key exists (BullMQ sets it in the same
 *   script that moves a job to the active list), or when it is within the
 *   first `activeScanLimit` entries of the active list (a stalled job whose
 *   lock expired; the active list is as long as the workers' concurrency);
 * - then 'unknown' when it has `finishedOn` (BullMQ clears that field
 *   whenever it moves a finished job back to wait): finished, yet in
 *   neither finished set;
 * - otherwise 'waiting' ('paused' in a paused subscriber queue): the wait
 *   list is the only place left where BullMQ keeps a job.
 *
 * KEYS: 1 job hash, 2 completed, 3 failed, 4 delayed, 5 prioritized,
 *       6 waiting-children, 7 active, 8 meta, 9 the job's lock
 * ARGV: 1 job id, 2 longest field returned, 3 '1' for a DLQ, 4 active list
 *       entries scanned at most
 * Returns {'gone'} or {state, name, timestamp, atm, failedReason, eventId,
 * eventType, tenantId, correlationId, idempotencyKey, and for a DLQ entry the
 * record's attempts, reason and last error message} ('' for absent fields).
 */
const readJobScript = `
local rcall = redis.call
if rcall('EXISTS', KEYS[1]) == 0 then return {'gone'} end
local id = ARGV[1]
local state
if rcall('ZSCORE', KEYS[2], id) then state = 'completed'
elseif rcall('ZSCORE', KEYS[3], id) then state = 'failed'
elseif rcall('ZSCORE', KEYS[4], id) then state = 'delayed'
elseif rcall('ZSCORE', KEYS[5], id) then state = 'prioritized'
elseif rcall('ZSCORE', KEYS[6], id) then state = 'waiting-children'
elseif rcall('EXISTS', KEYS[9]) == 1 or rcall('LPOS', KEYS[7], id, 'MAXLEN', ARGV[4]) then
  state = 'active'
elseif rcall('HEXISTS', KEYS[1], 'finishedOn') == 1 then state = 'unknown'
elseif ARGV[3] ~= '1' and rcall('HEXISTS', KEYS[8], 'paused') == 1 then state = 'paused'
else state = 'waiting' end
local max = tonumber(ARGV[2])
local function text(value)
  if type(value) == 'string' then return string.sub(value, 1, max) end
  return ''
end
local f = rcall('HMGET', KEYS[1], 'name', 'data', 'timestamp', 'atm', 'failedReason')
local out = {state, text(f[1]), text(f[3]), text(f[4]), text(f[5]), '', '', '', '', '', '', '', ''}
if type(f[2]) == 'string' then
  local ok, data = pcall(cjson.decode, f[2])
  if ok and type(data) == 'table' then
    local eventId = text(data.eventId)
    if eventId == '' then eventId = text(data.id) end
    local eventType = text(data.eventType)
    if eventType == '' then eventType = text(data.type) end
    out[6] = eventId
    out[7] = eventType
    out[8] = text(data.tenantId)
    out[9] = text(data.correlationId)
    out[10] = text(data.idempotencyKey)
    if ARGV[3] == '1' then
      if type(data.attempts) == 'number' then out[11] = tostring(data.attempts) end
      out[12] = text(data.reason)
      if type(data.errors) == 'table' then
        local last = data.errors[#data.errors]
        if type(last) == 'table' then out[13] = text(last.message) end
      end
    end
  end
end
return out`;

const readJobScriptSha = createHash('sha1').update(readJobScript).digest('hex');

type FoundState = FoundJob['state'];
const foundStates: ReadonlySet<string> = new Set<FoundState>([
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'completed',
  'failed',
  'waiting-children',
  'paused',
  'unknown',
  'gone',
]);

function isDeadLetterQueue(queue: string): boolean {
  return queue.endsWith('.dlq');
}

/**
 * Entries of a queue's active list the read script scans for a job without a
 * lock (stalled) before calling it waiting: bounds the scan on a queue run
 * with a very high concurrency.
 */
export const activeScanLimit = 1_000;

/** The read script's 9 KEYS, then its ARGV. */
function readJobArgs(prefix: string, queue: string, jobId: string): (string | number)[] {
  const base = `${prefix}:${queue}`;
  return [
    `${base}:${jobId}`,
    `${base}:completed`,
    `${base}:failed`,
    `${base}:delayed`,
    `${base}:prioritized`,
    `${base}:waiting-children`,
    `${base}:active`,
    `${base}:meta`,
    `${base}:${jobId}:lock`,
    jobId,
    maxFoundFieldLength,
    isDeadLetterQueue(queue) ? '1' : '0',
    activeScanLimit,
  ];
}

/**
 * Redis answered WRONGTYPE (the key holds someone else's value, or a script
 * hit such a key): only that key's data is unusable, Redis itself is fine.
 * Redis error replies start with their code; ioredis has no class per code.
 */
function isWrongTypeReply(error: Error): boolean {
  return error.message.startsWith('WRONGTYPE');
}

/** A job whose read script failed on one of its keys (see isWrongTypeReply). */
const unreadable = Symbol('unreadable');

/**
 * Runs the read script for each job in one pipeline, sending its source
 * once more if Redis lacks it. A job whose reply is WRONGTYPE is `unreadable`; any other
 * error (connection, timeout, NOPERM, BUSY ...) means Redis failed and is
 * thrown, never reported as job states.
 */
async function readJobs(
  redis: RedisConnection,
  prefix: string,
  jobs: readonly { queue: string; jobId: string }[],
): Promise<unknown[]> {
  const run = async (withSource: boolean): Promise<[Error | null, unknown][]> => {
    const pipeline = redis.pipeline();
    for (const { queue, jobId } of jobs) {
      const args = readJobArgs(prefix, queue, jobId);
      if (withSource) pipeline.eval(readJobScript, 9, ...args);
      else pipeline.evalsha(readJobScriptSha, 9, ...args);
    }
    return (await pipeline.exec()) ?? [];
  };
  let replies = await run(false);
  // EVAL sends the source to the node that owns the keys (a SCRIPT LOAD on a
  // cluster would reach some other node) and caches it there for next time.
  if (replies.some(([error]) => error?.message.startsWith('NOSCRIPT') === true)) {
    replies = await run(true);
  }
  return replies.map(([error, value]) => {
    if (error === null) return value;
    if (isWrongTypeReply(error)) return unreadable;
    throw error;
  });
}

function toFoundJob(
  queue: string,
  jobId: string,
  matchedBy: JobIndexKind[],
  reply: unknown,
): FoundJob {
  const deadLetter = isDeadLetterQueue(queue);
  if (reply === unreadable) return { queue, jobId, deadLetter, state: 'unknown', matchedBy };
  const fields = Array.isArray(reply) ? reply.map((v) => (typeof v === 'string' ? v : '')) : [];
  const state = fields[0] ?? '';
  const found: FoundJob = {
    queue,
    jobId,
    deadLetter,
    state: foundStates.has(state) ? (state as FoundState) : 'unknown',
    matchedBy,
  };
  if (state === 'gone') return found;
  const [, name, timestamp, attemptsMade, failedReason, eventId, eventType] = fields;
  const [tenantId, correlationId, idempotencyKey, recordAttempts, reason, lastError] =
    fields.slice(7);
  const type = eventType || name;
  if (type) found.eventType = type;
  if (eventId) found.eventId = eventId;
  if (tenantId) found.tenantId = tenantId;
  if (correlationId) found.correlationId = correlationId;
  if (idempotencyKey) found.idempotencyKey = idempotencyKey;
  const attempts = Number(deadLetter && recordAttempts ? recordAttempts : attemptsMade || 0);
  if (Number.isSafeInteger(attempts)) found.attemptsMade = attempts;
  if (timestamp && Number.isFinite(Number(timestamp))) found.timestamp = Number(timestamp);
  const why =
    deadLetter && reason ? (lastError ? `${reason}: ${lastError}` : reason) : failedReason;
  if (why) found.failedReason = why.slice(0, maxFoundFieldLength);
  return found;
}

/**
 * Finds the jobs an id names, across every queue and DLQ the index knows:
 * looks `id` up under each kind (or `kinds`), merges the members (a job named
 * under several kinds is returned once, with every kind in `matchedBy`),
 * keeps the `limit` latest-expiring, and reads each one's state and fields in
 * one pipelined round trip. Order: latest expiry first, which is newest first
 * among jobs indexed with one retention; with the default retentions a DLQ
 * entry of the last 29 days comes before the queue jobs. Two round trips in
 * all (three the first time a Redis runs the read script); each job's read
 * is O(1) in the queue's backlog (see readJobScript).
 *
 * A key holding someone else's value (WRONGTYPE) does not fail the search:
 * an index key like that adds no jobs, a job like that is 'unknown'. Any
 * other Redis error is thrown.
 */
export async function findJobs(
  redis: RedisConnection,
  options: FindJobsOptions,
): Promise<FoundJob[]> {
  const { prefix, id } = options;
  if (typeof prefix !== 'string' || prefix === '') {
    throw new JobIndexUsageError('prefix must be a non-empty string');
  }
  if (typeof id !== 'string' || id === '') {
    throw new JobIndexUsageError('id must be a non-empty string');
  }
  const kinds = options.kinds ?? [...jobIndexKinds];
  for (const kind of kinds) {
    if (!jobIndexKinds.includes(kind)) {
      throw new JobIndexUsageError(
        `kind ${JSON.stringify(kind)} is not one of ${jobIndexKinds.join(', ')}`,
      );
    }
  }
  const limit = Math.min(
    positiveInteger('limit', options.limit, defaultFindJobsLimit),
    maxFindJobsLimit,
  );
  const uniqueKinds = jobIndexKinds.filter((kind) => kinds.includes(kind));
  if (uniqueKinds.length === 0) return [];

  const pipeline = redis.pipeline();
  for (const kind of uniqueKinds) {
    pipeline.zrevrange(jobIndexKey(prefix, kind, id), 0, limit - 1, 'WITHSCORES');
  }
  const replies = (await pipeline.exec()) ?? [];
  const merged = new Map<string, { score: number; matchedBy: JobIndexKind[] }>();
  replies.forEach(([error, value], index) => {
    if (error) {
      if (isWrongTypeReply(error)) return;
      throw error;
    }
    const kind = uniqueKinds[index]!;
    const flat = Array.isArray(value) ? (value as string[]) : [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = flat[i]!;
      const score = Number(flat[i + 1]);
      const seen = merged.get(member);
      if (seen === undefined) merged.set(member, { score, matchedBy: [kind] });
      else {
        seen.score = Math.max(seen.score, score);
        seen.matchedBy.push(kind);
      }
    }
  });
  const chosen = [...merged]
    .flatMap(([member, hit]) => {
      const slash = member.indexOf('/');
      if (slash <= 0 || slash === member.length - 1) return [];
      return [{ queue: member.slice(0, slash), jobId: member.slice(slash + 1), ...hit }];
    })
    .sort((a, b) => b.score - a.score || a.queue.localeCompare(b.queue))
    .slice(0, limit);
  if (chosen.length === 0) return [];
  const jobReplies = await readJobs(redis, prefix, chosen);
  return chosen.map((job, index) =>
    toFoundJob(job.queue, job.jobId, job.matchedBy, jobReplies[index]),
  );
}
