/**
 * Operator access to the subscribers' dead-letter queues: list, get, replay
 * and purge. The CLI is a face on this API; scripts may call it directly.
 *
 * Reads the DLQ contract of dead-letter-record.ts: one paused BullMQ queue per
 * subscriber (`deadLetterQueueNameOf`), under the same prefix as the
 * subscriber queue, whose jobs hold a `DeadLetterRecord`. An entry's id is its
 * DLQ job id (the original job id).
 *
 * Guarantees of `replay`:
 * - An entry leaves the DLQ only after its event is back in the original
 *   queue: add first, then remove. If the add fails the entry stays and is
 *   reported in `failed`.
 * - The re-enqueued job is `record.event` untouched (same eventId, same
 *   idempotency key), named `record.jobName`, with `deliveryJobOptions` and
 *   the deterministic id `replayJobId(eventId ?? jobId, replays)`
 *   (`<eventId>-r<replays+1>`). If a job with that id is still waiting,
 *   delayed or active, an earlier run added it and died before removing the
 *   entry: nothing is added and the entry is removed (one job per entry).
 *   If that job already completed or failed (an earlier replay that ran, or
 *   a job kept from before), it is a different delivery: the id is bumped
 *   (`-r<replays+2>`, ...) up to `maxReplayIdBumps` ids, then the entry
 *   stays and is reported in `failed` (SY_ERR_REPLAY_ID_TAKEN), never
 *   silently dropped. The handler's effect idempotency on (subscriber,
 *   eventId) still holds for every replay.
 * - Each entry is replayed by one run only. Before touching an entry a run
 *   sets `<prefix>:<subscriber>.dlq:replay-claim:<entryId>` (value: a random
 *   token of the run; PX `replayClaimTtlMs`; NX) and deletes it when done; a
 *   run that finds the claim taken counts the entry as `skipped`. So
 *   concurrent runs report each entry as replayed once. A run that dies
 *   holding a claim blocks that entry for at most the TTL. `purge` takes the
 *   same claim per entry, so it never removes an entry a replay is
 *   re-enqueueing (it reports it in `skipped`).
 * - At most `ratePerSecond` entries are taken per second: their turns start
 *   at least 1000 / ratePerSecond ms apart on the injected clock, with no
 *   burst, whether the entry is then replayed, skipped or failed.
 * - The DLQ is read in pages (`pageSize`, default 500 jobs), filters applied
 *   per page; a run holds the matching entry ids, never every record at once.
 *   Entries dead-lettered while a run selects may or may not be included.
 *   Entries removed by someone else while a run selects shift the pages, so
 *   the run may miss some matching entries: they stay in the DLQ, and the
 *   next run selects them. Nothing is replayed twice or lost that way.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue, type JobType } from 'bullmq';
import {
  deadLetterQueueNameOf,
  deliveryJobOptions,
  isSubscriberName,
  queueNameOf,
  type SubscriberName,
} from '@switchyard/events';
import type { Logger } from '@switchyard/observability';
import { createRedisConnection, indexJobs, type RedisConnection } from '@switchyard/client';
import {
  deadLetterReasons,
  replayJobId,
  type DeadLetterReason,
  type DeadLetterRecord,
} from './dead-letter-record.js';
import { DeadLetterRecordInvalidError, DeadLetterUsageError, errorCode } from './errors.js';

/** Default pace of `replay`, in re-enqueued jobs per second. */
export const defaultReplayRatePerSecond = 50;
/** Highest `ratePerSecond` accepted. */
export const maxReplayRatePerSecond = 10_000;
/** Most entries one `list` call returns. */
export const maxDeadLetterListLimit = 1_000;
/** Entries `list` returns when no `limit` is given. */
export const defaultDeadLetterListLimit = 100;
/** DLQ jobs read per Redis round trip when scanning. */
export const defaultDeadLetterPageSize = 500;

/**
 * Which entries to act on. Every given field must match (AND); an empty
 * filter `{}` matches every entry, including data that is not a record.
 * A non-empty filter never matches such data.
 */
export interface DeadLetterFilter {
  /** The entry's reason is this one, or one of these. Default: any reason. */
  reason?: DeadLetterReason | readonly DeadLetterReason[];
  /** The record's eventType (the job name when the event had none) equals this. Default: any. */
  eventType?: string;
  /** The record's tenantId equals this; entries without a tenant never match. Default: any. */
  tenantId?: string;
  /** failedAt is at or after this instant (inclusive). Default: no lower bound. */
  from?: Date;
  /** failedAt is before this instant (exclusive). Default: no upper bound. */
  to?: Date;
}

/** One DLQ job: its record, or, for data that is not a record, why not. */
export type DeadLetterEntry =
  | { id: string; record: DeadLetterRecord; invalid?: undefined }
  | { id: string; record: undefined; invalid: string };

export interface ListDeadLettersOptions {
  /** Only entries matching this filter. Default: every entry. */
  filter?: DeadLetterFilter;
  /** Matching entries to skip, oldest first. Default 0. */
  offset?: number;
  /** Most entries to return, 1 to `maxDeadLetterListLimit`. Default 100. */
  limit?: number;
}

export interface DeadLetterPage {
  /** Matching entries in the DLQ now (with a filter: counted by scanning the whole DLQ). */
  total: number;
  /** Oldest dead-lettered first, so pages stay stable while new entries arrive. */
  entries: DeadLetterEntry[];
}

/** Selection shared by replay and purge: `ids`, `filter`, or both (AND). One is required. */
export interface DeadLetterSelection {
  /** Entry ids (DLQ job ids); duplicates are ignored, ids not in the DLQ are reported in `missing`. */
  ids?: readonly string[];
  /** Entries matching this filter; `{}` selects every entry. */
  filter?: DeadLetterFilter;
  /** Count the selection, change nothing. Default false. */
  dryRun?: boolean;
  /** Stops the run between entries (and between pages while selecting); the result says so. */
  signal?: AbortSignal;
}

export interface ReplayDeadLettersOptions extends DeadLetterSelection {
  /** Most re-enqueues per second, 1 to `maxReplayRatePerSecond`. Default 50. */
  ratePerSecond?: number;
  /** Most entries to select, oldest first (or first in `ids` order). Default: no limit. */
  limit?: number;
  /**
   * Called after each selected entry is dealt with (replayed, skipped or
   * failed); `total` is the number selected. An exception thrown here ends the
   * run and is rethrown by `replay`.
   */
  onProgress?: (done: number, total: number) => void;
}

export interface FailedReplay {
  id: string;
  /** Stable error code: 'SY_ERR_DEAD_LETTER_RECORD_INVALID', or the failed Redis call's code. */
  code: string;
  error: string;
}

export interface ReplayResult {
  /** Entries selected: existing, matching, within `limit`. */
  matched: number;
  /** Re-enqueued and removed from the DLQ by this run. */
  replayed: number;
  /**
   * Selected, but gone from the DLQ (or changed) by the time their turn came:
   * another replay or a purge took them. Any add this run made for them was
   * a no-op by jobId.
   */
  skipped: number;
  /** Left in the DLQ: the record is invalid, or the add (or the removal after it) failed. */
  failed: FailedReplay[];
  /** Ids asked for that are not in the DLQ. */
  missing: string[];
  dryRun: boolean;
  /**
   * The signal stopped the run: `matched - replayed - skipped - failed.length`
   * entries were left untouched. Without an abort that difference is 0.
   */
  aborted: boolean;
}

export interface PurgeDeadLettersOptions extends DeadLetterSelection {
  /** Most entries to select, oldest first (or first in `ids` order). Default: no limit. */
  limit?: number;
}

export interface PurgeResult {
  /** Entries selected: existing, matching, within `limit`. */
  matched: number;
  /** Removed by this run (an entry removed by someone else meanwhile is not counted). */
  purged: number;
  /** Selected, but claimed by a replay run at their turn: left in place. */
  skipped: number;
  /** Ids asked for that are not in the DLQ. */
  missing: string[];
  dryRun: boolean;
  /** The signal stopped the run before every selected entry was removed. */
  aborted: boolean;
}

export interface DeadLetters {
  /** A page of a subscriber's DLQ, oldest first. */
  list(subscriber: SubscriberName, options?: ListDeadLettersOptions): Promise<DeadLetterPage>;
  /** One entry's record; undefined when there is no such entry. Throws DeadLetterRecordInvalidError for data that is not a record. */
  get(subscriber: SubscriberName, id: string): Promise<DeadLetterRecord | undefined>;
  /** Puts the selected entries' events back into the subscriber queue, paced; see the file header. */
  replay(subscriber: SubscriberName, options: ReplayDeadLettersOptions): Promise<ReplayResult>;
  /** Removes the selected entries for good. */
  purge(subscriber: SubscriberName, options: PurgeDeadLettersOptions): Promise<PurgeResult>;
  /** Closes the queues, and the connection when it was opened from a URL. Idempotent. */
  close(): Promise<void>;
}

export interface CreateDeadLettersOptions {
  /**
   * Redis: an ioredis `Redis` or `Cluster` the caller owns (close() leaves it
   * open), or a REDIS_URL (plain, cluster or Sentinel; see
   * createRedisConnection) from which one connection is opened and closed by
   * close().
   */
  connection: RedisConnection | string;
  /** BullMQ key prefix of the subscriber queues and their DLQs. Default 'sy'. */
  prefix?: string;
  /** Gets a warn line per failed replay and an info line per replay or purge run. Default: none. */
  logger?: Logger;
  /** Monotonic clock in ms, for pacing. Default `performance.now`. */
  now?: () => number;
  /**
   * Waits `ms`; must settle soon after `signal` aborts (resolving or
   * rejecting). Default: `setTimeout` from node:timers/promises.
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** DLQ jobs read per round trip when scanning, 1 to 1000. Default 500. */
  pageSize?: number;
}

/**
 * How long a replay run holds an entry it is re-enqueueing; see `replay-claim`
 * in the file header. Long enough for one add and one remove on a slow Redis.
 */
export const replayClaimTtlMs = 60_000;

/** Replay ids tried for one entry (`-r<n+1>` .. `-r<n+10>`) before it is reported as failed. */
export const maxReplayIdBumps = 10;

/** Job states in which a replay job id counts as an earlier run's add still on its way. */
const pendingStates: ReadonlySet<string> = new Set([
  'waiting',
  'delayed',
  'active',
  'prioritized',
  'waiting-children',
]);

/** Deletes KEYS[1] only while it still holds ARGV[1], the claiming run's token. */
const releaseClaimScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Where DLQ jobs sit. The DLQ is paused, and BullMQ 6 keeps a paused queue's
 * jobs in its wait list; `deadLetterJobOptions` sets no priority and no delay,
 * the other two states are scanned only so no entry can hide.
 */
const deadLetterStates: readonly JobType[] = ['waiting', 'prioritized', 'delayed'];

interface NormalizedFilter {
  reasons: ReadonlySet<string> | undefined;
  eventType: string | undefined;
  tenantId: string | undefined;
  fromMs: number | undefined;
  toMs: number | undefined;
}

interface ScannedEntry {
  id: string;
  data: unknown;
}

interface Selection {
  ids: string[];
  missing: string[];
  aborted: boolean;
}

const recordStrings = [
  'subscriber',
  'queue',
  'jobId',
  'jobName',
  'enqueuedAt',
  'workerId',
] as const;
const recordOptionalStrings = [
  'eventId',
  'eventType',
  'tenantId',
  'correlationId',
  'idempotencyKey',
] as const;

/** Why `data` is not a version-1 DeadLetterRecord; undefined when it is one. */
export function deadLetterRecordProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return 'data is not an object';
  }
  const record = data as Record<string, unknown>;
  if (record.version !== 1) return `version is ${JSON.stringify(record.version)}, not 1`;
  for (const field of recordStrings) {
    if (typeof record[field] !== 'string' || record[field] === '') {
      return `${field} is not a non-empty string`;
    }
  }
  for (const field of recordOptionalStrings) {
    if (record[field] !== undefined && typeof record[field] !== 'string') {
      return `${field} is not a string`;
    }
  }
  if (!(deadLetterReasons as readonly unknown[]).includes(record.reason)) {
    return `reason ${JSON.stringify(record.reason)} is not a dead-letter reason`;
  }
  if (typeof record.failedAt !== 'string' || Number.isNaN(Date.parse(record.failedAt))) {
    return 'failedAt is not a timestamp';
  }
  if (!Number.isSafeInteger(record.replays) || (record.replays as number) < 0) {
    return 'replays is not a count';
  }
  if (!Number.isSafeInteger(record.attempts)) return 'attempts is not a count';
  if (!Array.isArray(record.errors)) return 'errors is not a list';
  if (record.event === undefined || record.event === null) return 'event is missing';
  return undefined;
}

function toEntry({ id, data }: ScannedEntry): DeadLetterEntry {
  const invalid = deadLetterRecordProblem(data);
  return invalid === undefined
    ? { id, record: data as DeadLetterRecord }
    : { id, record: undefined, invalid };
}

function usage(condition: boolean, message: string): asserts condition {
  if (!condition) throw new DeadLetterUsageError(message);
}

function isCount(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

function validDate(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  usage(
    value instanceof Date && !Number.isNaN(value.getTime()),
    `filter.${name} must be a valid Date`,
  );
  return value.getTime();
}

function optionalText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  usage(typeof value === 'string' && value !== '', `filter.${name} must be a non-empty string`);
  return value;
}

/** Validates a filter; undefined when it matches everything. */
function normalizeFilter(filter: DeadLetterFilter | undefined): NormalizedFilter | undefined {
  if (filter === undefined) return undefined;
  usage(typeof filter === 'object' && filter !== null, 'filter must be an object');
  let reasons: Set<string> | undefined;
  if (filter.reason !== undefined) {
    const list: readonly unknown[] = Array.isArray(filter.reason) ? filter.reason : [filter.reason];
    usage(list.length > 0, 'filter.reason must name at least one reason');
    for (const reason of list) {
      usage(
        (deadLetterReasons as readonly unknown[]).includes(reason),
        `filter.reason ${JSON.stringify(reason)} is not one of ${deadLetterReasons.join(', ')}`,
      );
    }
    reasons = new Set(list as string[]);
  }
  const fromMs = validDate(filter.from, 'from');
  const toMs = validDate(filter.to, 'to');
  usage(
    fromMs === undefined || toMs === undefined || fromMs < toMs,
    'filter.from must be before filter.to',
  );
  const normalized: NormalizedFilter = {
    reasons,
    eventType: optionalText(filter.eventType, 'eventType'),
    tenantId: optionalText(filter.tenantId, 'tenantId'),
    fromMs,
    toMs,
  };
  return Object.values(normalized).every((value) => value === undefined) ? undefined : normalized;
}

function matches(data: unknown, filter: NormalizedFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (deadLetterRecordProblem(data) !== undefined) return false;
  const record = data as DeadLetterRecord;
  if (filter.reasons !== undefined && !filter.reasons.has(record.reason)) return false;
  if (filter.eventType !== undefined && (record.eventType ?? record.jobName) !== filter.eventType) {
    return false;
  }
  if (filter.tenantId !== undefined && record.tenantId !== filter.tenantId) return false;
  const failedAt = Date.parse(record.failedAt);
  if (filter.fromMs !== undefined && failedAt < filter.fromMs) return false;
  if (filter.toMs !== undefined && failedAt >= filter.toMs) return false;
  return true;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Spaces calls at least `1000 / ratePerSecond` ms apart on `now`, with no
 * burst: a slot missed (the previous entry took longer) is not made up.
 */
function createPacer(
  ratePerSecond: number,
  now: () => number,
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
  signal: AbortSignal | undefined,
): { next(): Promise<boolean> } {
  const intervalMs = 1000 / ratePerSecond;
  // A function, not a property read: TypeScript would keep the narrowing across the await.
  const aborted = () => signal?.aborted === true;
  let nextAt: number | undefined;
  return {
    /** Resolves true when the next call may start now, false when the signal aborted. */
    async next() {
      if (aborted()) return false;
      const waitMs = nextAt === undefined ? 0 : nextAt - now();
      if (waitMs > 0) {
        try {
          await sleep(waitMs, signal);
        } catch (error) {
          if (aborted()) return false;
          throw error;
        }
        if (aborted()) return false;
      }
      nextAt = Math.max(nextAt ?? -Infinity, now()) + intervalMs;
      return true;
    },
  };
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  delay(ms, undefined, signal === undefined ? {} : { signal });

export function createDeadLetters(options: CreateDeadLettersOptions): DeadLetters {
  const prefix = options.prefix ?? 'sy';
  const logger = options.logger;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? defaultSleep;
  const pageSize = options.pageSize ?? defaultDeadLetterPageSize;
  usage(isCount(pageSize, 1, 1000), 'pageSize must be an integer from 1 to 1000');
  const ownsConnection = typeof options.connection === 'string';
  // An owned connection fails a call during an outage instead of hanging
  // (an operator's replay or purge reports it) and logs one line per outage.
  const connection =
    typeof options.connection === 'string'
      ? createRedisConnection({
          url: options.connection,
          profile: 'fail-fast',
          commandTimeoutMs: 5_000,
          connectionName: 'sy-dead-letters',
          ...(logger === undefined ? {} : { logger }),
        })
      : options.connection;
  const queues = new Map<string, Queue>();
  let closed = false;

  function queueNamed(name: string): Queue {
    usage(!closed, 'the dead-letter API is closed');
    let queue = queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection, prefix });
      // BullMQ re-emits connection errors here; without a listener they go to console.error.
      queue.on('error', (error) => logger?.warn({ err: error, queue: name }, 'redis error'));
      queues.set(name, queue);
    }
    return queue;
  }

  function deadLetterQueueOf(subscriber: SubscriberName): Queue {
    usage(
      typeof subscriber === 'string' && isSubscriberName(subscriber),
      `unknown subscriber ${JSON.stringify(subscriber)}`,
    );
    return queueNamed(deadLetterQueueNameOf(subscriber));
  }

  async function fetchEntries(dlq: Queue, ids: readonly string[]): Promise<ScannedEntry[]> {
    const jobs = await Promise.all(ids.map((id) => dlq.getJob(id)));
    const entries: ScannedEntry[] = [];
    jobs.forEach((job, index) => {
      if (job !== undefined) entries.push({ id: ids[index]!, data: job.data as unknown });
    });
    return entries;
  }

  /** Every DLQ entry, a page at a time, oldest first within each state. */
  async function* scan(dlq: Queue): AsyncGenerator<ScannedEntry[]> {
    for (const state of deadLetterStates) {
      for (let start = 0; ; start += pageSize) {
        const ids = await dlq.getRanges([state], start, start + pageSize - 1, true);
        if (ids.length === 0) break;
        yield await fetchEntries(dlq, ids);
        if (ids.length < pageSize) break;
      }
    }
  }

  /** Ids of the selected entries, at most `limit`. Reads the DLQ in pages. */
  async function select(
    dlq: Queue,
    selection: {
      ids: readonly string[] | undefined;
      filter: NormalizedFilter | undefined;
      limit: number;
      signal: AbortSignal | undefined;
    },
  ): Promise<Selection> {
    const { filter, limit, signal } = selection;
    const result: Selection = { ids: [], missing: [], aborted: false };
    if (selection.ids !== undefined) {
      const wanted = [...new Set(selection.ids)];
      for (let start = 0; start < wanted.length && result.ids.length < limit; start += pageSize) {
        if (signal?.aborted === true) return { ...result, aborted: true };
        const page = wanted.slice(start, start + pageSize);
        const found = new Map((await fetchEntries(dlq, page)).map((entry) => [entry.id, entry]));
        for (const id of page) {
          const entry = found.get(id);
          if (entry === undefined) result.missing.push(id);
          else if (result.ids.length < limit && matches(entry.data, filter)) result.ids.push(id);
        }
      }
      return result;
    }
    for await (const page of scan(dlq)) {
      if (signal?.aborted === true) return { ...result, aborted: true };
      for (const entry of page) {
        if (matches(entry.data, filter)) result.ids.push(entry.id);
        if (result.ids.length >= limit) return result;
      }
    }
    return result;
  }

  function parseSelection(
    selection: DeadLetterSelection & { limit?: number },
    what: 'replay' | 'purge',
  ) {
    usage(
      typeof selection === 'object' && selection !== null,
      `${what} needs options with ids or a filter`,
    );
    usage(
      selection.ids !== undefined || selection.filter !== undefined,
      `${what} needs ids or a filter; pass filter: {} to select every entry`,
    );
    if (selection.ids !== undefined) {
      usage(
        Array.isArray(selection.ids) &&
          selection.ids.every((id) => typeof id === 'string' && id !== ''),
        'ids must be non-empty strings',
      );
    }
    usage(
      selection.limit === undefined || isCount(selection.limit, 1),
      'limit must be a positive integer',
    );
    return {
      ids: selection.ids,
      filter: normalizeFilter(selection.filter),
      limit: selection.limit ?? Number.POSITIVE_INFINITY,
      signal: selection.signal,
      dryRun: selection.dryRun === true,
    };
  }

  async function list(
    subscriber: SubscriberName,
    listOptions: ListDeadLettersOptions = {},
  ): Promise<DeadLetterPage> {
    const offset = listOptions.offset ?? 0;
    const limit = listOptions.limit ?? defaultDeadLetterListLimit;
    usage(isCount(offset, 0), 'offset must be an integer >= 0');
    usage(
      isCount(limit, 1, maxDeadLetterListLimit),
      `limit must be an integer from 1 to ${maxDeadLetterListLimit}`,
    );
    const filter = normalizeFilter(listOptions.filter);
    const dlq = deadLetterQueueOf(subscriber);
    const entries: DeadLetterEntry[] = [];

    if (filter === undefined) {
      // No filter: counts give the total and ranges reach the page directly.
      const counts = await Promise.all(
        deadLetterStates.map((state) => dlq.getJobCountByTypes(state)),
      );
      let skip = offset;
      for (const [index, state] of deadLetterStates.entries()) {
        const count = counts[index] ?? 0;
        if (skip >= count) {
          skip -= count;
          continue;
        }
        const ids = await dlq.getRanges([state], skip, skip + (limit - entries.length) - 1, true);
        skip = 0;
        entries.push(...(await fetchEntries(dlq, ids)).map(toEntry));
        if (entries.length >= limit) break;
      }
      return { total: counts.reduce((sum, count) => sum + count, 0), entries };
    }

    let total = 0;
    for await (const page of scan(dlq)) {
      for (const entry of page) {
        if (!matches(entry.data, filter)) continue;
        if (total >= offset && entries.length < limit) entries.push(toEntry(entry));
        total += 1;
      }
    }
    return { total, entries };
  }

  async function get(
    subscriber: SubscriberName,
    id: string,
  ): Promise<DeadLetterRecord | undefined> {
    const dlq = deadLetterQueueOf(subscriber);
    const [entry] = await fetchEntries(dlq, [id]);
    if (entry === undefined) return undefined;
    const problem = deadLetterRecordProblem(entry.data);
    if (problem !== undefined) {
      throw new DeadLetterRecordInvalidError(
        `dead letter ${id} of ${subscriber} is not a record: ${problem}`,
      );
    }
    return entry.data as DeadLetterRecord;
  }

  async function replay(
    subscriber: SubscriberName,
    replayOptions: ReplayDeadLettersOptions,
  ): Promise<ReplayResult> {
    const dlq = deadLetterQueueOf(subscriber);
    const selection = parseSelection(replayOptions, 'replay');
    const ratePerSecond = replayOptions.ratePerSecond ?? defaultReplayRatePerSecond;
    usage(
      typeof ratePerSecond === 'number' &&
        ratePerSecond >= 1 &&
        ratePerSecond <= maxReplayRatePerSecond,
      `ratePerSecond must be from 1 to ${maxReplayRatePerSecond}`,
    );
    const { signal, filter, dryRun } = selection;
    const onProgress = replayOptions.onProgress;
    const targetQueueName = queueNameOf(subscriber);
    const target = queueNamed(targetQueueName);

    const selected = await select(dlq, selection);
    const result: ReplayResult = {
      matched: selected.ids.length,
      replayed: 0,
      skipped: 0,
      failed: [],
      missing: selected.missing,
      dryRun,
      aborted: selected.aborted,
    };
    if (dryRun || selected.aborted) return logRun('dead letters replay', subscriber, result);

    const pacer = createPacer(ratePerSecond, now, sleep, signal);
    const runToken = randomUUID();
    const fail = (id: string, code: string, error: string, cause?: unknown) => {
      result.failed.push({ id, code, error });
      logger?.warn({ subscriber, deadLetterId: id, code, err: cause }, 'dead letter not replayed');
    };
    let done = 0;
    for (const id of selected.ids) {
      if (signal?.aborted === true) {
        result.aborted = true;
        break;
      }
      const outcome = await replayOne(id);
      if (outcome === 'aborted') {
        result.aborted = true;
        break;
      }
      done += 1;
      onProgress?.(done, selected.ids.length);
    }
    return logRun('dead letters replay', subscriber, result);

    async function replayOne(id: string): Promise<'done' | 'aborted'> {
      if (!(await pacer.next())) return 'aborted';
      const claimKey = dlq.toKey(`replay-claim:${id}`);
      try {
        const claimed = await connection.set(claimKey, runToken, 'PX', replayClaimTtlMs, 'NX');
        if (claimed === null) {
          result.skipped += 1;
          return 'done';
        }
      } catch (error) {
        fail(id, errorCode(error), `claiming the entry failed: ${messageOf(error)}`, error);
        return 'done';
      }
      try {
        await replayClaimed(id);
      } finally {
        await releaseClaim(claimKey);
      }
      return 'done';
    }

    /** Re-enqueues one entry this run has claimed, then removes it from the DLQ. */
    async function replayClaimed(id: string): Promise<void> {
      let entry: ScannedEntry | undefined;
      try {
        [entry] = await fetchEntries(dlq, [id]);
      } catch (error) {
        fail(id, errorCode(error), `reading the entry failed: ${messageOf(error)}`, error);
        return;
      }
      if (entry === undefined || !matches(entry.data, filter)) {
        result.skipped += 1;
        return;
      }
      const problem = deadLetterRecordProblem(entry.data);
      const record = entry.data as DeadLetterRecord;
      if (problem !== undefined || record.queue !== targetQueueName) {
        fail(
          id,
          'SY_ERR_DEAD_LETTER_RECORD_INVALID',
          problem === undefined
            ? `record.queue "${record.queue}" is not ${subscriber}'s queue "${targetQueueName}"`
            : `not a dead-letter record: ${problem}`,
        );
        return;
      }

      let jobId: string | undefined;
      try {
        for (let bump = 0; bump < maxReplayIdBumps && jobId === undefined; bump += 1) {
          const candidate = replayJobId(record.eventId ?? record.jobId, record.replays + bump);
          const state = await target.getJobState(candidate);
          if (state === 'unknown') {
            await target.add(record.jobName, record.event, {
              ...deliveryJobOptions,
              jobId: candidate,
            });
            jobId = candidate;
            await indexReplayJob(candidate, record);
          } else if (pendingStates.has(state)) {
            // An earlier run's add: this entry is in the queue already.
            jobId = candidate;
          }
          // completed or failed: another delivery used this id; try the next.
        }
      } catch (error) {
        fail(id, errorCode(error), `re-enqueue failed: ${messageOf(error)}`, error);
        return;
      }
      if (jobId === undefined) {
        fail(
          id,
          'SY_ERR_REPLAY_ID_TAKEN',
          `replay ids up to -r${record.replays + maxReplayIdBumps} are taken by finished jobs`,
        );
        return;
      }
      // Still in the DLQ after a failure here; replaying it again adds nothing (same jobId)
      // and retries the removal.
      try {
        // BullMQ answers 1 whether or not the job existed, 0 only for a locked job.
        if ((await dlq.remove(id)) === 1) {
          result.replayed += 1;
          return;
        }
        fail(
          id,
          'SY_ERR_DEAD_LETTER_LOCKED',
          `re-enqueued as ${jobId}, but the dead-letter job is locked and was not removed`,
        );
      } catch (error) {
        fail(
          id,
          errorCode(error),
          `re-enqueued as ${jobId}, but removing it from the dead-letter queue failed: ${messageOf(error)}`,
          error,
        );
      }
    }

    /**
     * The job search index (client's job-index.ts): best effort, never fails the replay.
     * The replay job is a queue job, so it gets the queue jobs' retention (24 h by
     * default); should it fail again, its own DLQ entry is indexed for the DLQ's.
     */
    async function indexReplayJob(jobId: string, record: DeadLetterRecord): Promise<void> {
      try {
        await indexJobs(connection, {
          prefix,
          entries: [
            {
              queue: targetQueueName,
              jobId,
              eventId: record.eventId,
              correlationId: record.correlationId,
              idempotencyKey: record.idempotencyKey,
              tenantId: record.tenantId,
            },
          ],
        });
      } catch (error) {
        logger?.warn(
          { subscriber, jobId, err: error },
          'replayed job not added to the search index',
        );
      }
    }

    async function releaseClaim(claimKey: string): Promise<void> {
      try {
        await connection.eval(releaseClaimScript, 1, claimKey, runToken);
      } catch (error) {
        // Not fatal: the claim expires after replayClaimTtlMs.
        logger?.warn({ subscriber, claimKey, err: error }, 'dead letter replay claim not released');
      }
    }
  }

  async function purge(
    subscriber: SubscriberName,
    purgeOptions: PurgeDeadLettersOptions,
  ): Promise<PurgeResult> {
    const dlq = deadLetterQueueOf(subscriber);
    const selection = parseSelection(purgeOptions, 'purge');
    const selected = await select(dlq, selection);
    const result: PurgeResult = {
      matched: selected.ids.length,
      purged: 0,
      skipped: 0,
      missing: selected.missing,
      dryRun: selection.dryRun,
      aborted: selected.aborted,
    };
    if (selection.dryRun || selected.aborted) {
      return logRun('dead letters purge', subscriber, result);
    }
    for (let start = 0; start < selected.ids.length; start += pageSize) {
      if (selection.signal?.aborted === true) {
        result.aborted = true;
        break;
      }
      const page = selected.ids.slice(start, start + pageSize);
      // The replay claim: never remove an entry a replay run is re-enqueueing.
      const runToken = randomUUID();
      const claimKeys = page.map((id) => dlq.toKey(`replay-claim:${id}`));
      const claimed = await Promise.all(
        claimKeys.map((key) => connection.set(key, runToken, 'PX', replayClaimTtlMs, 'NX')),
      );
      try {
        const mine = page.filter((_, index) => claimed[index] === 'OK');
        result.skipped += page.length - mine.length;
        // BullMQ's remove answers 1 for a job that is already gone; count only entries still there.
        const present = await Promise.all(mine.map((id) => connection.exists(dlq.toKey(id))));
        const removed = await Promise.all(
          mine.filter((_, index) => present[index] === 1).map((id) => dlq.remove(id)),
        );
        result.purged += removed.filter((count) => count === 1).length;
      } finally {
        await Promise.all(
          claimKeys
            .filter((_, index) => claimed[index] === 'OK')
            .map((key) =>
              connection.eval(releaseClaimScript, 1, key, runToken).catch((error: unknown) => {
                logger?.warn({ subscriber, claimKey: key, err: error }, 'purge claim not released');
              }),
            ),
        );
      }
    }
    return logRun('dead letters purge', subscriber, result);
  }

  function logRun<T extends ReplayResult | PurgeResult>(
    msg: string,
    subscriber: string,
    result: T,
  ): T {
    const summary: Record<string, unknown> = { subscriber, ...result };
    summary.missing = result.missing.length;
    if ('failed' in result) summary.failed = result.failed.length;
    logger?.info(summary, msg);
    return result;
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await Promise.all([...queues.values()].map((queue) => queue.close()));
    queues.clear();
    if (ownsConnection) await connection.quit();
  }

  return { list, get, replay, purge, close };
}
