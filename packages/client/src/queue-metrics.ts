/**
 * Queue figures as Prometheus series, read from Redis when a registry is
 * scraped (never on a timer, so an idle process costs Redis nothing):
 *
 * - `sy_queue_jobs{queue,state}` (gauge): jobs per state. `waiting` is the
 *   wait list of a running queue; a paused queue's wait list is reported as
 *   `paused` instead (BullMQ 6 keeps both in one list and flags the queue in
 *   its meta hash), so the states of a queue add up to its jobs. A DLQ is
 *   always paused: its entries show as `paused`.
 * - `sy_queue_backlog{queue}` (gauge): waiting + prioritized + delayed jobs
 *   already due, paused or not: the reads of the producer's BacklogGate
 *   (`addBacklogReads`), so the gauge and the 429 agree.
 * - `sy_queue_oldest_waiting_age_seconds{queue}` (gauge): seconds since the
 *   job at the head of the wait list (the one a worker takes next; with FIFO
 *   jobs the oldest) was created; 0 when none waits. A delayed or retried job
 *   counts from its creation, so its delay and earlier attempts are included.
 * - `sy_queue_metrics_failures_total` (counter): scrapes whose read of a
 *   source failed or took longer than `timeoutMs`.
 *
 * Cost and bounds: one scrape sends one pipeline per source (10 commands per
 * queue) and, when a wait list is not empty, a second one (an HGET per such
 * queue), whatever the number of metrics on the registry, and waits at most
 * `timeoutMs` for both. A source that fails
 * or is late reports no series at all on that scrape (they go stale, which
 * `absent()` alerts see) rather than old figures that look healthy.
 *
 * The client does not depend on prom-client: the series are registered as
 * objects of the shape prom-client's Registry reads (name, help, type,
 * get(), reset()), so any prom-client 15 Registry takes them.
 */
import { addBacklogReads, backlogReadCount } from './backlog-gate.js';
import { createRedisConnection, type RedisConnection } from './redis-connection.js';
import { withDeadline } from './with-deadline.js';

/** The states of `sy_queue_jobs`, in exposition order. */
export const queueJobStates = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'completed',
  'failed',
  'paused',
  'waiting-children',
] as const;

export type QueueJobState = (typeof queueJobStates)[number];

/** What one read found in one queue. */
export interface QueueFigures {
  queue: string;
  jobs: Record<QueueJobState, number>;
  /** waiting + prioritized + delayed already due (as the BacklogGate counts it). */
  backlog: number;
  /** Seconds since the next job of the wait list was created; 0 when the list is empty. */
  oldestWaitingAgeSeconds: number;
}

/**
 * The part of a prom-client Registry this module uses. Typed structurally
 * (`never`: any registerMetric accepts it) so the client needs no
 * prom-client; what it is handed is prom-client's metric shape.
 */
export interface MetricsRegistryLike {
  registerMetric(metric: never): void;
}

export interface QueueMetricsSource {
  /**
   * Where to read. An ioredis connection is used as it is and never closed
   * (the caller owns it). A redis:// URL makes each scrape open a connection
   * of its own and close it after: nothing stays open between scrapes and
   * there is nothing to close, at the cost of one connect per scrape.
   */
  connection: RedisConnection | string;
  /** BullMQ key prefix of the queues. */
  prefix: string;
  /** Queue names (a subscriber queue and its DLQ, say); one label value each. */
  queues: readonly string[];
}

export interface QueueMetricsOptions extends QueueMetricsSource {
  /**
   * Bound on one scrape's read, in ms: past it the scrape reports no queue
   * series and counts a failure. Default 1 000. The first registration on a
   * registry sets it for that registry.
   */
  timeoutMs?: number;
  /** Clock (ms since the epoch) for "due" and ages. Default Date.now. */
  now?: () => number;
  /** Told of every failed or late read (log it). Default: only counted. */
  onError?: (error: Error, source: { prefix: string; queues: readonly string[] }) => void;
}

/** A scrape's read did not finish within `timeoutMs`. */
export class QueueMetricsTimeoutError extends Error {
  readonly code = 'SY_ERR_QUEUE_METRICS_TIMEOUT';
}

/** Replies per queue: the backlog reads, then the ones below. */
const repliesPerQueue = backlogReadCount + 7;

/**
 * Reads the figures of `queues`: ONE pipeline, then, when some wait list is
 * not empty, a second one that reads the `timestamp` of each list's tail job
 * (the job BullMQ moves to active next). The job hash's name is built here
 * from the id the first read returned, so every command names its key (as
 * Redis Cluster requires; no script reaches a key it was not given). A job
 * that left between the two reads reads as no age. Rejects when Redis does;
 * unbounded by itself (registerQueueMetrics bounds it).
 */
export async function readQueueFigures(
  connection: RedisConnection,
  prefix: string,
  queues: readonly string[],
  now: number,
): Promise<QueueFigures[]> {
  const pipeline = connection.pipeline();
  for (const queue of queues) {
    const key = `${prefix}:${queue}`;
    addBacklogReads(pipeline, prefix, queue, now);
    pipeline
      .llen(`${key}:active`)
      .zcard(`${key}:delayed`)
      .zcard(`${key}:completed`)
      .zcard(`${key}:failed`)
      .zcard(`${key}:waiting-children`)
      .hexists(`${key}:meta`, 'paused')
      .lindex(`${key}:wait`, -1);
  }
  const replies = await pipeline.exec();
  if (replies === null) throw new Error('the queue metrics pipeline was discarded');
  const values = replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  const tails = queues.map((_, index) => values[index * repliesPerQueue + backlogReadCount + 6]);
  const oldestTimestamps = new Map<number, unknown>();
  const withTail = tails.flatMap((id, index) => (typeof id === 'string' ? [index] : []));
  if (withTail.length > 0) {
    const timestamps = connection.pipeline();
    for (const index of withTail) {
      timestamps.hget(`${prefix}:${queues[index]!}:${tails[index] as string}`, 'timestamp');
    }
    const read = await timestamps.exec();
    if (read === null) throw new Error('the queue metrics pipeline was discarded');
    read.forEach(([error, value], position) => {
      if (error) throw error;
      oldestTimestamps.set(withTail[position]!, value);
    });
  }
  return queues.map((queue, index) => {
    const at = (offset: number): number =>
      Number(values[index * repliesPerQueue + backlogReadCount + offset]);
    const [wait, prioritized, dueDelayed] = values
      .slice(index * repliesPerQueue, index * repliesPerQueue + backlogReadCount)
      .map(Number) as [number, number, number];
    const paused = at(5) === 1;
    const oldest = oldestTimestamps.get(index);
    const oldestAt = oldest === null || oldest === undefined ? Number.NaN : Number(oldest);
    return {
      queue,
      jobs: {
        waiting: paused ? 0 : wait,
        active: at(0),
        delayed: at(1),
        prioritized,
        completed: at(2),
        failed: at(3),
        paused: paused ? wait : 0,
        'waiting-children': at(4),
      },
      backlog: wait + prioritized + dueDelayed,
      oldestWaitingAgeSeconds: Number.isFinite(oldestAt) ? Math.max(0, now - oldestAt) / 1_000 : 0,
    };
  });
}

/** prom-client's metric shape, as its Registry reads it. */
interface CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly aggregator: 'sum';
  get(): Promise<{
    name: string;
    help: string;
    type: 'gauge' | 'counter';
    aggregator: 'sum';
    values: { labels: Record<string, string>; value: number }[];
  }>;
  reset(): void;
}

interface Collector {
  sources: Set<QueueMetricsOptions>;
  timeoutMs: number;
  failures: number;
  /** The read of the scrape in progress, shared by every series of that scrape. */
  inFlight: Promise<QueueFigures[]> | undefined;
}

const collectors = new WeakMap<MetricsRegistryLike, Collector>();

/**
 * Registers the queue series on `registry` for `options.queues` (see the
 * file header). Registering again on the same registry adds the new
 * queues to the same series (a queue name already reported keeps its first
 * source). Returns a function that removes this registration's queues.
 */
export function registerQueueMetrics(
  registry: MetricsRegistryLike,
  options: QueueMetricsOptions,
): () => void {
  let collector = collectors.get(registry);
  if (collector === undefined) {
    const created: Collector = {
      sources: new Set(),
      timeoutMs: options.timeoutMs ?? 1_000,
      failures: 0,
      inFlight: undefined,
    };
    collector = created;
    collectors.set(registry, created);
    const figures = (): Promise<QueueFigures[]> => {
      created.inFlight ??= collect(created).finally(() => {
        created.inFlight = undefined;
      });
      return created.inFlight;
    };
    for (const metric of seriesOf(created, figures)) registry.registerMetric(metric as never);
  }
  const source = { ...options, queues: [...options.queues] };
  collector.sources.add(source);
  const owner = collector;
  return () => {
    owner.sources.delete(source);
  };
}

/** Every source's figures; a failed or late source adds none and counts a failure. */
async function collect(collector: Collector): Promise<QueueFigures[]> {
  const reads = [...collector.sources].map(async (source) => {
    try {
      return await readSource(source, collector.timeoutMs);
    } catch (error) {
      collector.failures += 1;
      const reported = error instanceof Error ? error : new Error(String(error));
      source.onError?.(reported, { prefix: source.prefix, queues: source.queues });
      return [];
    }
  });
  const seen = new Set<string>();
  return (await Promise.all(reads)).flat().filter((figures) => {
    if (seen.has(figures.queue)) return false;
    seen.add(figures.queue);
    return true;
  });
}

async function readSource(source: QueueMetricsOptions, timeoutMs: number): Promise<QueueFigures[]> {
  const now = (source.now ?? Date.now)();
  const owned =
    typeof source.connection === 'string'
      ? createRedisConnection({
          url: source.connection,
          profile: 'one-shot',
          connectTimeoutMs: timeoutMs,
          commandTimeoutMs: timeoutMs,
          connectionName: 'sy-queue-metrics',
        })
      : undefined;
  // A failed connect is reported through the read (createRedisConnection swallows the event).
  const connection = owned ?? (source.connection as RedisConnection);
  try {
    return await withDeadline(
      (async () => {
        if (owned !== undefined) await owned.connect();
        return readQueueFigures(connection, source.prefix, source.queues, now);
      })(),
      timeoutMs,
      () =>
        new QueueMetricsTimeoutError(
          `reading the figures of ${source.queues.join(', ')} took over ${timeoutMs} ms`,
        ),
    );
  } finally {
    owned?.disconnect();
  }
}

function seriesOf(collector: Collector, figures: () => Promise<QueueFigures[]>): CollectedMetric[] {
  const gauge = (
    name: string,
    help: string,
    values: (all: QueueFigures[]) => { labels: Record<string, string>; value: number }[],
  ): CollectedMetric => ({
    name,
    help,
    type: 'gauge',
    aggregator: 'sum',
    async get() {
      return { name, help, type: 'gauge', aggregator: 'sum', values: values(await figures()) };
    },
    reset: () => undefined,
  });
  const failuresName = 'sy_queue_metrics_failures_total';
  const failuresHelp = 'Scrapes whose read of queue figures failed or ran out of time.';
  return [
    gauge(
      'sy_queue_jobs',
      'Jobs in a queue, by state (a paused queue’s waiting jobs count as paused).',
      (all) =>
        all.flatMap(({ queue, jobs }) =>
          queueJobStates.map((state) => ({ labels: { queue, state }, value: jobs[state] })),
        ),
    ),
    gauge(
      'sy_queue_backlog',
      'Jobs a worker could take now: waiting + prioritized + delayed already due.',
      (all) => all.map(({ queue, backlog }) => ({ labels: { queue }, value: backlog })),
    ),
    gauge(
      'sy_queue_oldest_waiting_age_seconds',
      'Seconds since the next waiting job was created; 0 when none waits.',
      (all) =>
        all.map(({ queue, oldestWaitingAgeSeconds }) => ({
          labels: { queue },
          value: oldestWaitingAgeSeconds,
        })),
    ),
    {
      name: failuresName,
      help: failuresHelp,
      type: 'counter',
      aggregator: 'sum',
      async get() {
        // After this scrape's read, so a failure shows on the scrape it happened in.
        await figures();
        return {
          name: failuresName,
          help: failuresHelp,
          type: 'counter',
          aggregator: 'sum',
          values: [{ labels: {}, value: collector.failures }],
        };
      },
      reset: () => {
        collector.failures = 0;
      },
    },
  ];
}
