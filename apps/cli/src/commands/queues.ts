/**
 * `sy queues`: every subscriber queue, its DLQ and its schedules queue, with
 * counts per state, backlog, oldest waiting age, completions in the last
 * minute, paused flag.
 */
import { Queue } from 'bullmq';
import type { RedisConnection } from '@switchyard/client';
import { deadLetterQueueNameOf, queueNameOf, subscriberNames } from '@switchyard/events';
import { scheduleQueueNameOf } from '@switchyard/runtime';
import { flagArg, noExtraPositionals, writeJson, type Command } from '../command.js';
import { formatDuration, formatTable } from '../format.js';

const countedStates = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'completed',
  'failed',
  'waiting-children',
] as const;

type StateCounts = Record<(typeof countedStates)[number], number>;

export interface QueueStats {
  queue: string;
  subscriber: string;
  /** 'schedules': the `<subscriber>.schedules` queue whose jobs are the ticks of its schedules. */
  kind: 'subscriber' | 'dead-letter' | 'schedules';
  paused: boolean;
  counts: StateCounts;
  /**
   * waiting + prioritized + delayed jobs already due: what workers could take
   * now (BullMQ 6 keeps a paused queue's jobs in its wait list, so they count).
   */
  backlog: number;
  /** Delayed jobs already due (included in backlog). */
  dueDelayed: number;
  /** Age of the oldest job in the wait list (since it was added), ms; null when empty. */
  oldestWaitingAgeMs: number | null;
  /** Jobs that completed in the last 60 s (see `completedSince`). */
  completedLastMinute: number;
}

/**
 * Completions since `sinceMs`, from the completed set itself: BullMQ scores
 * that sorted set by finishedOn, so ZCOUNT is exact for the jobs still kept
 * and costs O(log n) whatever its size. Not `queue.getMetrics('completed')`:
 * BullMQ 6.7 records those only when workers are started with `metrics`
 * enabled, which the runtime does not do. Jobs removed by removeOnComplete
 * within the minute are missed, so this is a lower bound under such policies.
 */
async function completedSince(
  redis: RedisConnection,
  queue: Queue,
  sinceMs: number,
): Promise<number> {
  return redis.zcount(queue.toKey('completed'), `(${sinceMs}`, '+inf');
}

/**
 * Delayed jobs already due. BullMQ 6.7 scores a delayed job
 * `timestamp * 0x1000 + sequence` (getDelayedScore.lua); promoteDelayedJobs
 * takes the same bound as "due" (the same bound as client's backlog gate).
 */
async function dueDelayed(redis: RedisConnection, queue: Queue, nowMs: number): Promise<number> {
  return redis.zcount(queue.toKey('delayed'), 0, (nowMs + 1) * 0x1000 - 1);
}

async function statsOf(
  redis: RedisConnection,
  queue: Queue,
  subscriber: string,
  kind: QueueStats['kind'],
  nowMs: number,
): Promise<QueueStats> {
  const [rawCounts, paused, due, oldest, completedLastMinute] = await Promise.all([
    queue.getJobCounts(...countedStates),
    queue.isPaused(),
    dueDelayed(redis, queue, nowMs),
    // Ascending order: index 0 is the job that has waited longest.
    queue.getJobs(['wait'], 0, 0, true),
    completedSince(redis, queue, nowMs - 60_000),
  ]);
  const counts = Object.fromEntries(
    countedStates.map((state) => [state, rawCounts[state] ?? 0]),
  ) as StateCounts;
  const first = oldest[0];
  return {
    queue: queue.name,
    subscriber,
    kind,
    paused,
    counts,
    backlog: counts.waiting + counts.prioritized + due,
    dueDelayed: due,
    oldestWaitingAgeMs: first === undefined ? null : Math.max(0, nowMs - first.timestamp),
    completedLastMinute,
  };
}

/** Stats of every subscriber queue, its DLQ and its schedules queue, in routing-table order. */
export async function readQueueStats(
  redis: RedisConnection,
  prefix: string,
  nowMs: number,
): Promise<QueueStats[]> {
  const targets = subscriberNames.flatMap((subscriber) => [
    { subscriber, kind: 'subscriber' as const, name: queueNameOf(subscriber) },
    { subscriber, kind: 'dead-letter' as const, name: deadLetterQueueNameOf(subscriber) },
    { subscriber, kind: 'schedules' as const, name: scheduleQueueNameOf(subscriber) },
  ]);
  const queues = targets.map((target) => new Queue(target.name, { connection: redis, prefix }));
  try {
    return await Promise.all(
      targets.map((target, index) =>
        statsOf(redis, queues[index]!, target.subscriber, target.kind, nowMs),
      ),
    );
  } finally {
    // The connection is shared: close() leaves it open.
    await Promise.all(queues.map((queue) => queue.close()));
  }
}

export const queuesCommand: Command = {
  name: 'queues',
  summary: 'counts per state, backlog, oldest waiting age and rate of every queue and DLQ',
  usage: `Usage: sy queues [--json]

Lists every subscriber queue, its dead-letter queue (<subscriber>.dlq) and
its schedules queue (<subscriber>.schedules, the ticks of its schedules):
jobs per state, backlog (waiting + prioritized + delayed jobs already due),
age of the oldest waiting job, jobs completed in the last 60 s (DONE/MIN),
and whether the queue is paused (DLQs always are).

Options:
  --json    one JSON document instead of the table

Examples:
  sy queues
  sy queues --json | jq '.queues[] | select(.backlog > 100)'
`,
  options: {},
  needsRedis: () => true,
  async run(args, { redis, config, clock, stdout }) {
    noExtraPositionals(args, 0, 'queues');
    const stats = await readQueueStats(redis!, config.prefix, clock.now());
    if (flagArg(args, 'json')) {
      writeJson(stdout, { prefix: config.prefix, queues: stats });
      return 0;
    }
    stdout.write(
      formatTable(
        [
          'QUEUE',
          'PAUSED',
          'WAITING',
          'ACTIVE',
          'DELAYED',
          'PRIORITIZED',
          'COMPLETED',
          'FAILED',
          'BACKLOG',
          'OLDEST',
          'DONE/MIN',
        ],
        stats.map((s) => [
          s.queue,
          s.paused ? 'yes' : 'no',
          String(s.counts.waiting),
          String(s.counts.active),
          String(s.counts.delayed),
          String(s.counts.prioritized),
          String(s.counts.completed),
          String(s.counts.failed),
          String(s.backlog),
          s.oldestWaitingAgeMs === null ? '-' : formatDuration(s.oldestWaitingAgeMs),
          String(s.completedLastMinute),
        ]),
      ),
    );
    return 0;
  },
};
