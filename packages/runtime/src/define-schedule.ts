/**
 * A schedule: work a subscriber's worker app runs on a fixed rate (`every`)
 * or a cron pattern (`cron`, optionally in `tz`), declared in code and backed
 * by a BullMQ job scheduler on the queue `scheduleQueueNameOf(subscriber)`.
 * See schedule-runner.ts for how ticks become runs and what is guaranteed.
 */
import type { Publisher } from '@switchyard/client';
import { subscribers, type SubscriberName } from '@switchyard/events';
import type { Logger } from '@switchyard/observability';
import { maxTimerMs } from './define-handler.js';
import { WorkerConfigError } from './errors.js';

/** What a schedule's `run` gets for one tick. */
export interface ScheduleContext {
  /** Logs within this run; lines carry subscriber, schedule, scheduledAt and workerId. */
  logger: Logger;
  /**
   * Aborted when the run must stop: its `timeoutMs` passed (a TimeoutError)
   * or the worker's shutdown deadline passed (WorkerClosingError). Pass it
   * to every call that waits.
   */
  signal: AbortSignal;
  /**
   * The tick this run is for (the scheduler's planned time, not when the run
   * started). A tick may run again after a crash mid-run (the job stalls and
   * is redelivered): derive idempotency keys from it so a re-run publishes
   * nothing twice.
   */
  scheduledAt: Date;
  /** The schedule's name. */
  name: string;
  subscriber: SubscriberName;
  /** The worker process running the tick (WORKER_ID). */
  workerId: string;
  /** Publishes events (injected: createWorker `publisher`). */
  publisher: Publisher;
}

export interface ScheduleDefinition<S extends SubscriberName> {
  /** The subscriber whose worker app runs this schedule. */
  subscriber: S;
  /**
   * The schedule's id, unique within its subscriber: 1..100 of letters,
   * digits and `_ . -`. It is the BullMQ job scheduler id: replicas that
   * declare the same name share one scheduler.
   */
  name: string;
  /** Fixed rate in ms (1..2^53−1); ticks fall on multiples of it. Exactly one of every/cron. */
  every?: number;
  /** Cron pattern (5 fields, or 6 with seconds first). Exactly one of every/cron. */
  cron?: string;
  /** IANA time zone of `cron`. Default: the worker's local zone. Only with `cron`. */
  tz?: string;
  /** How long one run may take, in ms (1..2147483647); then ctx.signal aborts. Default: 60000. */
  timeoutMs?: number;
  /** The work of one tick; throw to count the run failed (the next tick runs anyway). */
  run: (ctx: ScheduleContext) => Promise<void>;
}

/** A schedule with every option resolved; `createWorker` takes a list of these. */
export interface Schedule {
  readonly subscriber: SubscriberName;
  readonly name: string;
  /** Fixed rate in ms, or undefined for a cron schedule. */
  readonly every: number | undefined;
  readonly cron: string | undefined;
  readonly tz: string | undefined;
  readonly timeoutMs: number;
  readonly run: (ctx: ScheduleContext) => Promise<void>;
}

export const defaultScheduleTimeoutMs = 60_000;

const scheduleNamePattern = /^[A-Za-z0-9_.-]{1,100}$/;

export function defineSchedule<S extends SubscriberName>(
  definition: ScheduleDefinition<S>,
): Schedule {
  const where = `schedule ${definition.subscriber}/${definition.name}`;
  if (subscribers[definition.subscriber] === undefined) {
    throw new WorkerConfigError(`${where}: unknown subscriber "${definition.subscriber}"`);
  }
  if (!scheduleNamePattern.test(definition.name)) {
    throw new WorkerConfigError(
      `${where}: name must be 1..100 of letters, digits and _ . -, got ${JSON.stringify(definition.name)}`,
    );
  }
  const { every, cron, tz } = definition;
  if ((every === undefined) === (cron === undefined)) {
    throw new WorkerConfigError(`${where}: give exactly one of every (ms) and cron`);
  }
  if (every !== undefined && (!Number.isSafeInteger(every) || every < 1)) {
    throw new WorkerConfigError(`${where}: every must be a positive integer of ms, got ${every}`);
  }
  if (cron !== undefined) {
    // A shape check only: BullMQ's cron-parser is not our dependency, so the
    // full check is the upsert at start, which fails with a WorkerConfigError.
    const fields = cron.trim().split(/\s+/);
    if (fields.length < 5 || fields.length > 6) {
      throw new WorkerConfigError(
        `${where}: cron must have 5 or 6 fields, got ${JSON.stringify(cron)}`,
      );
    }
  }
  if (tz !== undefined) {
    if (cron === undefined) throw new WorkerConfigError(`${where}: tz applies to cron only`);
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
    } catch {
      throw new WorkerConfigError(`${where}: unknown time zone ${JSON.stringify(tz)}`);
    }
  }
  const timeoutMs = definition.timeoutMs ?? defaultScheduleTimeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > maxTimerMs) {
    throw new WorkerConfigError(
      `${where}: timeoutMs must be an integer in 1..${maxTimerMs}, got ${timeoutMs}`,
    );
  }
  return Object.freeze({
    subscriber: definition.subscriber,
    name: definition.name,
    every,
    cron: cron?.trim(),
    tz,
    timeoutMs,
    run: definition.run,
  });
}

/** The queue holding a subscriber's schedule ticks, under the same prefix as its jobs. */
export function scheduleQueueNameOf(subscriber: SubscriberName): string {
  return `${subscriber}.schedules`;
}

/**
 * Redis hash of the last run of each schedule of `subscriber`: field =
 * schedule name, value = JSON ScheduleLastRun. Written by the runner after
 * every run, read by `sy schedules`.
 */
export function scheduleLastRunsKey(prefix: string, subscriber: SubscriberName): string {
  return `${prefix}:${scheduleQueueNameOf(subscriber)}:sy-last-runs`;
}

/** How a schedule run ended (label `outcome` of sy_schedule_runs_total). */
export type ScheduleRunOutcome = 'succeeded' | 'failed' | 'timed_out' | 'aborted' | 'undeclared';

/** One value of scheduleLastRunsKey. */
export interface ScheduleLastRun {
  /** ISO time of the tick. */
  scheduledAt: string;
  /** ISO time the run ended. */
  finishedAt: string;
  outcome: ScheduleRunOutcome;
  workerId: string;
}
