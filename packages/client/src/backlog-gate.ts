/**
 * Ingest backpressure: refuses new events for a subscriber queue whose
 * backlog has reached its limit, before Redis fills up.
 *
 * Backlog of a queue = jobs a worker could take now or soon:
 *   LLEN   <prefix>:<queue>:wait         (waiting; a paused queue keeps them here too)
 *   ZCARD  <prefix>:<queue>:prioritized  (waiting with a priority)
 *   ZCOUNT <prefix>:<queue>:delayed 0 <(now + 1) * 4096 - 1>
 *          (delayed jobs already due: bullmq 6.7 scores a delayed job
 *          `timestamp * 0x1000 + sequence` (getDelayedScore.lua), and its
 *          promoteDelayedJobs.lua takes the same bound as "due")
 * Active, waiting-children, completed and failed jobs are not backlog, and
 * neither are delayed jobs not yet due (scheduled for later on purpose).
 *
 * The three reads of every queue one check needs go out in ONE pipeline; a
 * queue's figure is then reused for `intervalMs`, so a hot path pays at most
 * one read per queue per interval. The limit is therefore approximate: within
 * one interval (and within one batch, checked once before it) publishers may
 * overshoot it by whatever they add meanwhile.
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisConnection } from './redis-connection.js';
import { BacklogFullError } from './errors.js';

export interface BacklogGateOptions {
  connection: RedisConnection;
  prefix: string;
  /** Most jobs a queue's backlog may hold; at it, publishes are refused. Infinity disables. */
  limit: number;
  /** Per-queue limits that win over `limit`. */
  limits: Readonly<Record<string, number>>;
  /** How long a queue's backlog figure is reused, in ms; 0 reads it on every check. */
  intervalMs: number;
  /** The `retryAfterSeconds` of the refusal. */
  retryAfterSeconds: number;
  /** Clock (ms since the epoch) for the cache and the "due" bound. */
  now: () => number;
}

interface CachedBacklog {
  readAt: number;
  backlog: Promise<number>;
}

export class BacklogGate {
  readonly #options: BacklogGateOptions;
  readonly #cache = new Map<string, CachedBacklog>();

  constructor(options: BacklogGateOptions) {
    this.#options = options;
  }

  limitOf(queue: string): number {
    const limits = this.#options.limits;
    return Object.hasOwn(limits, queue) ? (limits[queue] as number) : this.#options.limit;
  }

  /**
   * The refusal for each of `queues` whose backlog is at or over its limit
   * (empty when all may take more). Rejects when Redis does (the caller's
   * deadline and error mapping apply); a failed read is not cached.
   */
  async refusals(queues: Iterable<string>): Promise<Map<string, BacklogFullError>> {
    const checked = [...new Set(queues)].filter((queue) => Number.isFinite(this.limitOf(queue)));
    const now = this.#options.now();
    const stale = checked.filter((queue) => {
      const cached = this.#cache.get(queue);
      return cached === undefined || now - cached.readAt >= this.#options.intervalMs;
    });
    if (stale.length > 0) {
      const read = this.#read(stale, now);
      read.catch(() => {
        for (const queue of stale) {
          if (this.#cache.get(queue)?.readAt === now) this.#cache.delete(queue);
        }
      });
      stale.forEach((queue, position) => {
        const backlog = read.then((all) => all[position] ?? 0);
        // Awaited below, but maybe not every one: an earlier rejection ends the loop.
        backlog.catch(() => undefined);
        this.#cache.set(queue, { readAt: now, backlog });
      });
    }
    const refusals = new Map<string, BacklogFullError>();
    for (const queue of checked) {
      const backlog = await this.#cache.get(queue)!.backlog;
      const limit = this.limitOf(queue);
      if (backlog >= limit) {
        const retryAfterSeconds = this.#options.retryAfterSeconds;
        refusals.set(
          queue,
          new BacklogFullError(
            `subscriber queue "${queue}" holds ${backlog} jobs, at or over its limit of ${limit}; ` +
              `retry in ${retryAfterSeconds} s`,
            { queue, backlog, limit, retryAfterSeconds },
          ),
        );
      }
    }
    return refusals;
  }

  async #read(queues: readonly string[], now: number): Promise<number[]> {
    const { connection, prefix } = this.#options;
    const pipeline = connection.pipeline();
    for (const queue of queues) addBacklogReads(pipeline, prefix, queue, now);
    const replies = await pipeline.exec();
    if (replies === null) throw new Error('the backlog pipeline was discarded');
    const counts = replies.map(([error, value]) => {
      if (error) throw error;
      return Number(value);
    });
    return queues.map((_, index) =>
      counts
        .slice(index * backlogReadCount, (index + 1) * backlogReadCount)
        .reduce((sum, count) => sum + count, 0),
    );
  }
}

/** How many replies addBacklogReads adds to a pipeline; their sum is the backlog. */
export const backlogReadCount = 3;

/**
 * Appends the reads of `queue`'s backlog at `now` (ms) to `pipeline`, in
 * this order: waiting, prioritized, delayed already due. Their replies,
 * summed, are the backlog; the queue metrics use the same reads, so the
 * gate and the `sy_queue_backlog` gauge cannot disagree on the definition.
 */
export function addBacklogReads(
  pipeline: ChainableCommander,
  prefix: string,
  queue: string,
  now: number,
): void {
  const key = `${prefix}:${queue}`;
  pipeline
    .llen(`${key}:wait`)
    .zcard(`${key}:prioritized`)
    .zcount(`${key}:delayed`, 0, (now + 1) * 0x1000 - 1);
}
