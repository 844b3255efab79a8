/**
 * watchDeliveries: follows BullMQ's event stream of each subscriber queue
 * (`<prefix>:<queue>:events`, what QueueEvents reads) and counts, per job,
 * how often it became active, completed, stalled or failed, with the time
 * each first completed (the stream entry id's millisecond part, Redis's own
 * clock).
 *
 * What it proves and what it does not:
 * - activations beyond the first of a job are redeliveries (a retry after a
 *   failed attempt, or a re-run after a stall): honest evidence that a fault
 *   bit, independent of the sandbox;
 * - a job completed more than once would be a late completion that did not
 *   fail on its lost lock (doubleCompletions);
 * - BullMQ trims the stream (about 10 000 entries): a reader that falls that
 *   far behind misses entries, so counts are lower bounds. It reads in
 *   batches of 2 000 and never sleeps while entries are waiting; a gap it
 *   detects (the stream's first id beyond its last read) is counted in
 *   `trimmedGaps`.
 * - it starts at the stream's end ('$'): start it before the load.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export interface DeliveryStats {
  /** Jobs seen active at least once. */
  jobs: number;
  activations: number;
  /** activations - jobs: re-runs after a failed attempt or a stall. */
  reactivations: number;
  stalled: number;
  /** 'failed' entries (attempts that failed, retried or not). */
  failed: number;
  completed: number;
  /** Jobs with more than one 'completed' entry. */
  doubleCompletions: number;
  /** Times the reader found the stream trimmed past its position (counts are then lower bounds). */
  trimmedGaps: number;
}

export interface DeliveryWatch {
  /** Redis-clock ms of a job's first 'completed' entry, if seen. */
  completedAt(queue: string, jobId: string): number | undefined;
  stats(): DeliveryStats;
  /** Stops reading; resolves once the reader exited. Idempotent. */
  stop(): Promise<void>;
}

interface JobSeen {
  activations: number;
  completions: number;
  completedAt?: number;
}

export async function watchDeliveries(opts: {
  redisUrl: string;
  prefix: string;
  queues: readonly string[];
}): Promise<DeliveryWatch> {
  const redis = new Redis(opts.redisUrl, {
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // Reconnect (a Redis kill/restart scenario) at most every 200 ms.
    retryStrategy: () => 200,
  });
  redis.on('error', () => {
    // Outages are expected in fault scenarios; the loop below retries.
  });
  const keys = opts.queues.map((q) => `${opts.prefix}:${q}:events`);
  const seen = new Map<string, JobSeen>();
  const lastIds = new Map<string, string>();
  const counts = { stalled: 0, failed: 0, completed: 0, trimmedGaps: 0 };
  // Start each stream at its current end.
  for (const key of keys) {
    const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0];
    lastIds.set(key, last?.[0] ?? '0-0');
  }
  let stopping = false;

  const record = (queue: string, id: string, fields: string[]): void => {
    let event: string | undefined;
    let jobId: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'event') event = fields[i + 1];
      else if (fields[i] === 'jobId') jobId = fields[i + 1];
    }
    if (event === undefined || jobId === undefined) return;
    const key = `${queue}\u0000${jobId}`;
    let job = seen.get(key);
    if (job === undefined) seen.set(key, (job = { activations: 0, completions: 0 }));
    switch (event) {
      case 'active':
        job.activations++;
        break;
      case 'completed':
        counts.completed++;
        job.completions++;
        job.completedAt ??= Number(id.split('-')[0]);
        break;
      case 'stalled':
        counts.stalled++;
        break;
      case 'failed':
        counts.failed++;
        break;
    }
  };

  const reader = (async () => {
    while (!stopping) {
      try {
        const ids = keys.map((k) => lastIds.get(k) ?? '0-0');
        const answer = await redis.xread('COUNT', 2_000, 'BLOCK', 250, 'STREAMS', ...keys, ...ids);
        if (answer === null) continue;
        for (const [key, entries] of answer) {
          const queue = opts.queues[keys.indexOf(key)]!;
          const previous = lastIds.get(key)!;
          const first = entries[0]?.[0];
          // A first id more than one sequence step past ours with nothing between is not provable;
          // detect only the clear case: our last id is older than the stream's first entry.
          if (first !== undefined && previous !== '0-0') {
            const oldest = (await redis.xrange(key, '-', '+', 'COUNT', 1))[0]?.[0];
            if (oldest !== undefined && compareIds(oldest, previous) > 0) counts.trimmedGaps++;
          }
          for (const [id, fields] of entries) record(queue, id, fields);
          const last = entries.at(-1)?.[0];
          if (last !== undefined) lastIds.set(key, last);
        }
      } catch {
        if (!stopping) await sleep(100);
      }
    }
  })();

  return {
    completedAt: (queue, jobId) => seen.get(`${queue}\u0000${jobId}`)?.completedAt,
    stats() {
      let jobs = 0;
      let activations = 0;
      let doubleCompletions = 0;
      for (const job of seen.values()) {
        if (job.activations > 0) jobs++;
        activations += job.activations;
        if (job.completions > 1) doubleCompletions++;
      }
      return {
        jobs,
        activations,
        reactivations: activations - jobs,
        stalled: counts.stalled,
        failed: counts.failed,
        completed: counts.completed,
        doubleCompletions,
        trimmedGaps: counts.trimmedGaps,
      };
    },
    async stop() {
      if (stopping) return reader;
      stopping = true;
      await reader;
      redis.disconnect();
    },
  };
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am !== bm ? am - bm : as - bs;
}
