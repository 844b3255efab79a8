/**
 * Runs one subscriber's schedules inside its worker: upserts a BullMQ job
 * scheduler per schedule on `<subscriber>.schedules` (same prefix as the
 * subscriber queue) and consumes that queue with a second BullMQ Worker
 * (concurrency 1) that calls each tick's `run`.
 *
 * Redis: the scheduler hash and its delayed jobs are BullMQ's
 * (`<prefix>:<subscriber>.schedules:*`); job name = schedule name, job data =
 * { subscriber, schedule }, tick time = job.opts.prevMillis. The last run of
 * each schedule is kept in scheduleLastRunsKey (a hash, one field per name).
 *
 * Guarantees:
 * - One scheduler per (subscriber, name), whatever the number of replicas:
 *   upsert is idempotent by scheduler id, and BullMQ keeps at most one
 *   pending job per scheduler, with a deterministic id per tick
 *   (`repeat:<name>:<millis>`), so replicas starting together or restarting
 *   neither add a scheduler nor double a tick. Replicas that declare the same
 *   name differently: the last to start wins (a deploy converges).
 * - Each tick is run by one replica. A replica killed mid-run leaves the job
 *   to stall; it is redelivered once (BullMQ's maxStalledCount 1), so a tick
 *   may run twice: `run` must be idempotent per ctx.scheduledAt.
 * - A run lasts at most the schedule's `timeoutMs` (ctx.signal aborts with a
 *   TimeoutError). A failed run is logged and counted
 *   (`sy_schedule_runs_total{subscriber,schedule,outcome}`), never retried or
 *   dead-lettered: the next tick is the retry.
 * - Schedules no longer declared are NOT removed at start: during a rolling
 *   deploy an old replica still declares them, and a new one removing them
 *   would fight it. They are logged as a warning at start; remove them with
 *   `sy schedules rm <subscriber> <name>`. A tick of a schedule this replica
 *   does not declare completes without running (outcome 'undeclared').
 * - close(deadline): no new ticks; a run in flight gets the deadline, then
 *   its signal aborts (WorkerClosingError) and the tick is counted 'aborted'.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Publisher, RedisConnection } from '@switchyard/client';
import type { SubscriberName } from '@switchyard/events';
import type { Logger } from '@switchyard/observability';
import { Counter } from 'prom-client';
import {
  scheduleLastRunsKey,
  scheduleQueueNameOf,
  type Schedule,
  type ScheduleContext,
  type ScheduleLastRun,
  type ScheduleRunOutcome,
} from './define-schedule.js';
import { TimeoutError, WorkerClosingError, WorkerConfigError } from './errors.js';
import { raceAbort, settlesWithin } from './race-abort.js';
import type { MetricsRegistry } from './worker-metrics.js';

export interface ScheduleRunnerOptions {
  subscriber: SubscriberName;
  schedules: readonly Schedule[];
  prefix: string;
  workerId: string;
  logger: Logger;
  registry: MetricsRegistry;
  publisher: Publisher;
  /** BullMQ lockDuration of tick jobs. */
  lockDurationMs: number;
  /** BullMQ stalledInterval of the tick worker. */
  stalledIntervalMs: number;
  /** Wall clock, epoch ms. */
  now: () => number;
}

export interface ScheduleRunner {
  /** Upserts every schedule, warns about undeclared ones, starts consuming ticks. */
  start(connection: RedisConnection): Promise<void>;
  /** Stops consuming; a run in flight gets `deadlineMs`, then is aborted. Resolves, never rejects. */
  close(deadlineMs: number): Promise<void>;
}

/** Finished tick jobs BullMQ keeps, for inspection (completed and failed each). */
const keptTickJobs = 100;
/** How long close() waits for BullMQ after aborting a run. */
const abortGraceMs = 1_000;

export function checkSchedules(
  subscriber: SubscriberName,
  schedules: readonly Schedule[],
): ReadonlyMap<string, Schedule> {
  const byName = new Map<string, Schedule>();
  for (const schedule of schedules) {
    if (schedule.subscriber !== subscriber) {
      throw new WorkerConfigError(
        `schedule "${schedule.name}" belongs to "${schedule.subscriber}", not to this worker's "${subscriber}"`,
      );
    }
    if (byName.has(schedule.name)) {
      throw new WorkerConfigError(`two schedules named "${subscriber}"/"${schedule.name}"`);
    }
    byName.set(schedule.name, schedule);
  }
  return byName;
}

export function createScheduleRunner(options: ScheduleRunnerOptions): ScheduleRunner {
  const { subscriber, prefix, workerId } = options;
  const schedules = checkSchedules(subscriber, options.schedules);
  const queueName = scheduleQueueNameOf(subscriber);
  const logger = options.logger.child({ subscriber, queue: queueName });
  const runs =
    (options.registry.getSingleMetric('sy_schedule_runs_total') as
      Counter<'subscriber' | 'schedule' | 'outcome'> | undefined) ??
    new Counter({
      name: 'sy_schedule_runs_total',
      help: 'Finished schedule runs, by subscriber, schedule and outcome.',
      labelNames: ['subscriber', 'schedule', 'outcome'] as const,
      registers: [options.registry],
    });
  let queue: Queue | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let redis: RedisConnection | undefined;
  const inFlight = new Set<AbortController>();

  const record = async (name: string, scheduledAt: Date, outcome: ScheduleRunOutcome) => {
    runs.inc({ subscriber, schedule: name, outcome });
    const lastRun: ScheduleLastRun = {
      scheduledAt: scheduledAt.toISOString(),
      finishedAt: new Date(options.now()).toISOString(),
      outcome,
      workerId,
    };
    await redis
      ?.hset(scheduleLastRunsKey(prefix, subscriber), name, JSON.stringify(lastRun))
      .catch((error: unknown) => {
        logger.warn({ err: error, schedule: name }, 'could not record the last run');
      });
  };

  const processTick = async (job: Job): Promise<void> => {
    const scheduledAt = new Date(job.opts.prevMillis ?? job.timestamp + (job.opts.delay ?? 0));
    const schedule = schedules.get(job.name);
    const runLogger = logger.child({
      schedule: job.name,
      scheduledAt: scheduledAt.toISOString(),
      jobId: job.id,
    });
    if (schedule === undefined) {
      runLogger.warn('tick of a schedule this replica does not declare; skipped');
      await record(job.name, scheduledAt, 'undeclared');
      return;
    }
    const control = new AbortController();
    inFlight.add(control);
    const timer = setTimeout(
      () =>
        control.abort(
          new TimeoutError(`schedule ${schedule.name} ran over ${schedule.timeoutMs} ms`),
        ),
      schedule.timeoutMs,
    );
    const ctx: ScheduleContext = {
      logger: runLogger,
      signal: control.signal,
      scheduledAt,
      name: schedule.name,
      subscriber,
      workerId,
      publisher: options.publisher,
    };
    const started = options.now();
    try {
      await raceAbort(
        Promise.resolve().then(() => schedule.run(ctx)),
        control.signal,
        runLogger,
      );
      runLogger.info({ durationMs: options.now() - started }, 'schedule run succeeded');
      await record(schedule.name, scheduledAt, 'succeeded');
    } catch (error) {
      const outcome: ScheduleRunOutcome =
        error instanceof TimeoutError
          ? 'timed_out'
          : error instanceof WorkerClosingError
            ? 'aborted'
            : 'failed';
      runLogger.error(
        { err: error, outcome, durationMs: options.now() - started },
        'schedule run failed; the next tick runs as planned',
      );
      await record(schedule.name, scheduledAt, outcome);
      // Rethrown so BullMQ keeps the job as failed (inspectable); it has one
      // attempt, so nothing retries it.
      throw error;
    } finally {
      clearTimeout(timer);
      inFlight.delete(control);
    }
  };

  const upsert = async (target: Queue, schedule: Schedule) => {
    try {
      await target.upsertJobScheduler(
        schedule.name,
        schedule.every !== undefined
          ? { every: schedule.every }
          : { pattern: schedule.cron!, ...(schedule.tz === undefined ? {} : { tz: schedule.tz }) },
        {
          name: schedule.name,
          data: { subscriber, schedule: schedule.name },
          opts: {
            attempts: 1,
            removeOnComplete: { count: keptTickJobs },
            removeOnFail: { count: keptTickJobs },
          },
        },
      );
    } catch (error) {
      throw new WorkerConfigError(
        `schedule ${subscriber}/${schedule.name}: BullMQ refused it (${
          schedule.cron === undefined ? `every ${schedule.every}` : `cron ${schedule.cron}`
        }): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  };

  return {
    async start(connection) {
      if (queue) throw new WorkerConfigError('schedule runner already started');
      redis = connection;
      queue = new Queue(queueName, { connection, prefix });
      for (const schedule of schedules.values()) await upsert(queue, schedule);
      const existing = await queue.getJobSchedulers(0, -1, true);
      const undeclared = existing
        .map((scheduler) => scheduler.key)
        .filter((key) => !schedules.has(key));
      if (undeclared.length > 0) {
        logger.warn(
          { undeclared },
          'job schedulers this replica does not declare; kept (another replica may); remove with sy schedules rm',
        );
      }
      // close() ran during the upserts: it found no worker to close.
      if (closing) {
        await queue.close();
        return;
      }
      worker = new Worker(queueName, processTick, {
        connection,
        prefix,
        concurrency: 1,
        autorun: false,
        lockDuration: options.lockDurationMs,
        stalledInterval: options.stalledIntervalMs,
        maxStalledCount: 1,
        name: workerId,
      });
      worker.on('error', (error) => logger.error({ err: error }, 'schedule worker error'));
      running = worker.run().catch((error: unknown) => {
        logger.error({ err: error }, 'schedule worker stopped with an error');
      });
      await worker.waitUntilReady();
      logger.info({ schedules: [...schedules.keys()] }, 'schedules started');
    },

    close(deadlineMs) {
      closing ??= (async () => {
        const current = worker;
        if (current) {
          const graceful = current.close().then(
            () => true,
            (error: unknown) => {
              logger.error({ err: error }, 'schedule worker close failed');
              return true;
            },
          );
          let closed = await settlesWithin(graceful, deadlineMs);
          if (!closed) {
            const reason = new WorkerClosingError(
              `worker closing: ${deadlineMs} ms deadline passed`,
            );
            for (const control of inFlight) control.abort(reason);
            closed = await settlesWithin(graceful, abortGraceMs);
          }
          if (closed) await running;
          else {
            await current
              .getBackend()
              .disconnectBlocking(false)
              .catch((error: unknown) => {
                logger.warn({ err: error }, 'schedule worker blocking disconnect failed');
              });
          }
        }
        await settlesWithin(
          (queue?.close() ?? Promise.resolve()).catch((error: unknown) => {
            logger.warn({ err: error }, 'closing the schedule queue failed');
          }),
          abortGraceMs,
        );
      })();
      return closing;
    },
  };
}
