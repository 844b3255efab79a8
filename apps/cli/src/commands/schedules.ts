/**
 * `sy schedules`: every subscriber's job schedulers (the runtime's
 * defineSchedule, BullMQ job schedulers on `<subscriber>.schedules`), with
 * their rate or cron, next run and last run; `sy schedules rm <subscriber>
 * <name>` removes one. One command with an optional `rm` word: the
 * dispatcher stops at the first exact command name.
 */
import { Queue } from 'bullmq';
import { subscriberNames } from '@switchyard/events';
import {
  scheduleLastRunsKey,
  scheduleQueueNameOf,
  type ScheduleLastRun,
} from '@switchyard/runtime';
import {
  flagArg,
  noExtraPositionals,
  requirePositionals,
  writeJson,
  type Command,
  type CommandContext,
  type ParsedArgs,
} from '../command.js';
import { OperationError } from '../errors.js';
import { formatTable } from '../format.js';
import { subscriberArg } from '../subscriber-arg.js';

export interface ScheduleInfo {
  subscriber: string;
  name: string;
  /** Fixed rate in ms; null for a cron schedule. */
  every: number | null;
  cron: string | null;
  tz: string | null;
  /** ISO time of the next tick; null when BullMQ has none planned. */
  nextRunAt: string | null;
  /** The runtime's record of the latest run; null before the first. */
  lastRun: ScheduleLastRun | null;
}

function parseLastRun(raw: string | undefined): ScheduleLastRun | null {
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw) as ScheduleLastRun;
  } catch {
    return null;
  }
}

async function listSchedules(args: ParsedArgs, context: CommandContext): Promise<number> {
  noExtraPositionals(args, 0, 'schedules');
  const redis = context.redis!;
  const schedules: ScheduleInfo[] = [];
  for (const subscriber of subscriberNames) {
    const queue = new Queue(scheduleQueueNameOf(subscriber), {
      connection: redis,
      prefix: context.config.prefix,
    });
    try {
      const [schedulers, lastRuns] = await Promise.all([
        queue.getJobSchedulers(0, -1, true),
        redis.hgetall(scheduleLastRunsKey(context.config.prefix, subscriber)),
      ]);
      for (const scheduler of schedulers) {
        schedules.push({
          subscriber,
          name: scheduler.key,
          every: scheduler.every ?? null,
          cron: scheduler.pattern ?? null,
          tz: scheduler.tz ?? null,
          nextRunAt: scheduler.next === undefined ? null : new Date(scheduler.next).toISOString(),
          lastRun: parseLastRun(lastRuns[scheduler.key]),
        });
      }
    } finally {
      await queue.close();
    }
  }
  if (flagArg(args, 'json')) {
    writeJson(context.stdout, { schedules });
    return 0;
  }
  if (schedules.length === 0) {
    context.stdout.write('no schedules\n');
    return 0;
  }
  context.stdout.write(
    formatTable(
      ['SUBSCRIBER', 'NAME', 'EVERY/CRON', 'NEXT RUN', 'LAST RUN', 'OUTCOME'],
      schedules.map((s) => [
        s.subscriber,
        s.name,
        s.every !== null ? `${s.every}ms` : `${s.cron ?? ''}${s.tz === null ? '' : ` (${s.tz})`}`,
        s.nextRunAt ?? '-',
        s.lastRun?.scheduledAt ?? '-',
        s.lastRun?.outcome ?? '-',
      ]),
    ),
  );
  return 0;
}

async function removeSchedule(args: ParsedArgs, context: CommandContext): Promise<number> {
  const [, subscriberName, name] = requirePositionals(
    args,
    ['rm', 'subscriber', 'name'],
    'schedules rm',
  );
  noExtraPositionals(args, 3, 'schedules rm');
  const subscriber = subscriberArg(subscriberName!);
  const queue = new Queue(scheduleQueueNameOf(subscriber), {
    connection: context.redis!,
    prefix: context.config.prefix,
  });
  try {
    const removed = await queue.removeJobScheduler(name!);
    if (!removed) {
      throw new OperationError(`no schedule "${name}" for subscriber "${subscriber}"`);
    }
    await context.redis!.hdel(scheduleLastRunsKey(context.config.prefix, subscriber), name!);
  } finally {
    await queue.close();
  }
  if (flagArg(args, 'json')) writeJson(context.stdout, { subscriber, name, removed: true });
  else {
    context.stdout.write(
      `removed schedule ${subscriber}/${name} (a worker that still declares it adds it back when it starts)\n`,
    );
  }
  return 0;
}

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: "list every subscriber's schedules, or remove one (schedules rm)",
  usage: `Usage: sy schedules [--json]
       sy schedules rm <subscriber> <name> [--json]

Lists the job schedulers of every subscriber (declared in code with the
runtime's defineSchedule and upserted by its workers at start): name, fixed
rate or cron pattern (and time zone), next run, and the latest run's tick
and outcome.

\`rm\` removes one scheduler and its pending tick. Workers never remove a
schedule they no longer declare (another replica may still declare it during
a rolling deploy; they log it as a warning at start): remove it with this
once no replica declares it. A replica that still declares it adds it back
at its next start.

Examples:
  sy schedules
  sy schedules --json | jq '.schedules[] | select(.lastRun.outcome == "failed")'
  sy schedules rm billing dunning-sweep
`,
  options: {},
  needsRedis: () => true,
  run: (args, context) =>
    args.positionals[0] === 'rm' ? removeSchedule(args, context) : listSchedules(args, context),
};
