/**
 * `sy pause|resume <subscriber>`: BullMQ's queue-wide pause. Workers finish
 * the jobs they hold and take no new ones until resumed; publishing goes on.
 * A DLQ (`<subscriber>.dlq`) may be named for pause, never for resume: DLQs
 * stay paused so nothing ever consumes them.
 */
import { Queue } from 'bullmq';
import { deadLetterQueueNameOf, queueNameOf, type SubscriberName } from '@switchyard/events';
import {
  flagArg,
  noExtraPositionals,
  requirePositionals,
  writeJson,
  type Command,
  type CommandContext,
  type ParsedArgs,
} from '../command.js';
import { UsageError } from '../errors.js';
import { subscriberArg } from '../subscriber-arg.js';

const dlqSuffix = '.dlq';

function targetOf(name: string): {
  subscriber: SubscriberName;
  deadLetter: boolean;
  queue: string;
} {
  const deadLetter = name.endsWith(dlqSuffix);
  const subscriber = subscriberArg(deadLetter ? name.slice(0, -dlqSuffix.length) : name);
  return {
    subscriber,
    deadLetter,
    queue: deadLetter ? deadLetterQueueNameOf(subscriber) : queueNameOf(subscriber),
  };
}

async function setPaused(
  args: ParsedArgs,
  context: CommandContext,
  pause: boolean,
): Promise<number> {
  const command = pause ? 'pause' : 'resume';
  const [name] = requirePositionals(args, ['subscriber'], command);
  noExtraPositionals(args, 1, command);
  const target = targetOf(name!);
  if (!pause && target.deadLetter) {
    throw new UsageError(
      `refusing to resume ${target.queue}: dead-letter queues stay paused (use sy dlq replay to re-process entries)`,
    );
  }
  const queue = new Queue(target.queue, {
    connection: context.redis!,
    prefix: context.config.prefix,
  });
  try {
    const wasPaused = await queue.isPaused();
    if (pause) await queue.pause();
    else await queue.resume();
    const paused = await queue.isPaused();
    if (flagArg(args, 'json')) {
      writeJson(context.stdout, { queue: target.queue, paused, changed: paused !== wasPaused });
    } else {
      context.stdout.write(
        `${target.queue} ${paused ? 'paused' : 'resumed'}${paused === wasPaused ? ' (it already was)' : ''}\n`,
      );
    }
    return 0;
  } finally {
    await queue.close();
  }
}

export const pauseCommand: Command = {
  name: 'pause',
  summary: 'stop workers taking new jobs from a subscriber queue',
  usage: `Usage: sy pause <subscriber> [--json]

Pauses the subscriber's queue: workers finish the jobs they hold and take no
new ones until \`sy resume\`. Events are still accepted and queued.

Examples:
  sy pause billing
`,
  options: {},
  needsRedis: () => true,
  run: (args, context) => setPaused(args, context, true),
};

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'let workers take jobs from a paused subscriber queue again',
  usage: `Usage: sy resume <subscriber> [--json]

Resumes the subscriber's queue. Dead-letter queues (<subscriber>.dlq) always
stay paused: resuming one is refused (exit 2).

Examples:
  sy resume billing
`,
  options: {},
  needsRedis: () => true,
  run: (args, context) => setPaused(args, context, false),
};
