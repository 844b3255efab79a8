/**
 * `sy dlq ls|show|replay|purge`: a face on the runtime's createDeadLetters
 * API, which owns the guarantees (add-then-remove, one job per entry,
 * claims against concurrent runs, pacing without bursts).
 */
import {
  createDeadLetters,
  defaultDeadLetterListLimit,
  defaultReplayRatePerSecond,
  maxDeadLetterListLimit,
  maxReplayRatePerSecond,
  type DeadLetterEntry,
  type DeadLetters,
  type DeadLetterRecord,
} from '@switchyard/runtime';
import { deadLetterQueueNameOf, queueNameOf } from '@switchyard/events';
import {
  flagArg,
  integerArg,
  jsonText,
  noExtraPositionals,
  requirePositionals,
  writeJson,
  type Command,
  type CommandContext,
} from '../command.js';
import {
  filterFromArgs,
  filterOptions,
  filterUsage,
  rateArg,
  selectionFromArgs,
} from '../dead-letter-args.js';
import { OperationError, UsageError } from '../errors.js';
import { formatDuration, formatTable, oneLine, printable } from '../format.js';
import { createProgress } from '../progress.js';
import { subscriberArg } from '../subscriber-arg.js';

function openDeadLetters({ redis, config, clock }: CommandContext): DeadLetters {
  return createDeadLetters({
    connection: redis!,
    prefix: config.prefix,
    now: () => clock.monotonic(),
    sleep: (ms, signal) => clock.sleep(ms, signal),
  });
}

async function withDeadLetters<T>(
  context: CommandContext,
  use: (deadLetters: DeadLetters) => Promise<T>,
): Promise<T> {
  const deadLetters = openDeadLetters(context);
  try {
    return await use(deadLetters);
  } finally {
    await deadLetters.close();
  }
}

function lastError(record: DeadLetterRecord): string {
  const last = record.errors.at(-1);
  return last === undefined ? '' : `${last.code}: ${last.message}`;
}

function entryRow(entry: DeadLetterEntry): string[] {
  if (entry.record === undefined)
    return [entry.id, '-', '(invalid)', '-', '-', '-', oneLine(entry.invalid, 60)];
  const r = entry.record;
  return [
    entry.id,
    r.failedAt,
    r.reason,
    r.eventType ?? r.jobName,
    r.tenantId ?? '-',
    String(r.attempts),
    oneLine(lastError(r), 60),
  ];
}

export const dlqLsCommand: Command = {
  name: 'dlq ls',
  summary: "list a subscriber's dead letters, oldest first, with filters",
  usage: `Usage: sy dlq ls <subscriber> [filters] [--limit n] [--offset n] [--json]

Lists the entries of <subscriber>.dlq, oldest dead-lettered first.

${filterUsage}

Options:
  --limit <n>      most entries shown, 1-${maxDeadLetterListLimit} (default ${defaultDeadLetterListLimit})
  --offset <n>     matching entries to skip (default 0)
  --json           {"total", "entries": [{"id", "record"} | {"id", "invalid"}]}

Examples:
  sy dlq ls notifications
  sy dlq ls billing --reason attempts_exhausted --since 2030-01-31T00:00:00Z --limit 20
`,
  options: { ...filterOptions, limit: { type: 'string' }, offset: { type: 'string' } },
  needsRedis: () => true,
  async run(args, context) {
    const [name] = requirePositionals(args, ['subscriber'], 'dlq ls');
    noExtraPositionals(args, 1, 'dlq ls');
    const subscriber = subscriberArg(name!);
    const filter = filterFromArgs(args);
    const limit =
      integerArg(args, 'limit', 1, maxDeadLetterListLimit) ?? defaultDeadLetterListLimit;
    const offset = integerArg(args, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const page = await withDeadLetters(context, (deadLetters) =>
      deadLetters.list(subscriber, { limit, offset, ...(filter === undefined ? {} : { filter }) }),
    );
    if (flagArg(args, 'json')) {
      writeJson(context.stdout, { subscriber, offset, limit, ...page });
      return 0;
    }
    if (page.entries.length === 0) {
      context.stdout.write(
        `${deadLetterQueueNameOf(subscriber)}: no matching entries (total ${page.total})\n`,
      );
      return 0;
    }
    context.stdout.write(
      formatTable(
        ['ID', 'FAILED AT', 'REASON', 'TYPE', 'TENANT', 'ATTEMPTS', 'LAST ERROR'],
        page.entries.map(entryRow),
      ),
    );
    context.stdout.write(
      `${offset + 1}-${offset + page.entries.length} of ${page.total} matching in ${deadLetterQueueNameOf(subscriber)}\n`,
    );
    return 0;
  },
};

export const dlqShowCommand: Command = {
  name: 'dlq show',
  summary: "one dead letter in full: event, reason, every attempt's error",
  usage: `Usage: sy dlq show <subscriber> <id> [--json]

Prints one entry of <subscriber>.dlq: its record, every attempt's error and
the original event. <id> is the entry id shown by \`sy dlq ls\`.

Options:
  --json    the record as JSON

Examples:
  sy dlq show notifications 0f8c3c9e-6f0e-4c8e-9d57-2d1f3b2a9c11
  sy dlq show billing evt_123 --json | jq .errors
`,
  options: {},
  needsRedis: () => true,
  async run(args, context) {
    const [name, id] = requirePositionals(args, ['subscriber', 'id'], 'dlq show');
    noExtraPositionals(args, 2, 'dlq show');
    const subscriber = subscriberArg(name!);
    const record = await withDeadLetters(context, (deadLetters) =>
      deadLetters.get(subscriber, id!),
    );
    if (record === undefined) {
      throw new OperationError(
        `no entry ${JSON.stringify(id)} in ${deadLetterQueueNameOf(subscriber)}`,
      );
    }
    if (flagArg(args, 'json')) {
      writeJson(context.stdout, { id, record });
      return 0;
    }
    const { stdout } = context;
    const fields: [string, string | number | undefined][] = [
      ['id', id],
      ['queue', record.queue],
      ['job', `${record.jobName} ${record.jobId}`],
      ['reason', record.reason],
      ['event id', record.eventId],
      ['event type', record.eventType],
      ['tenant', record.tenantId],
      ['correlation id', record.correlationId],
      ['idempotency key', record.idempotencyKey],
      ['attempts', record.attempts],
      ['replays', record.replays],
      ['enqueued at', record.enqueuedAt],
      ['failed at', record.failedAt],
      ['worker', record.workerId],
    ];
    for (const [label, value] of fields) {
      if (value !== undefined)
        stdout.write(`${`${label}:`.padEnd(17)}${printable(String(value))}\n`);
    }
    stdout.write(`errors (${record.errors.length}):\n`);
    for (const error of record.errors) {
      stdout.write(
        `  #${error.attempt} ${oneLine(`${error.at} ${error.code} ${error.name}`, 200)}: ${oneLine(error.message, 200)}\n`,
      );
    }
    stdout.write(`event:\n${jsonText(record.event)}\n`);
    return 0;
  },
};

export const dlqReplayCommand: Command = {
  name: 'dlq replay',
  summary: 'put dead letters back into their queue, paced, each exactly once',
  usage: `Usage: sy dlq replay <subscriber> [<id>...] [filters | --all] [--rate n/s] [--limit n] [--dry-run] [--json]

Re-enqueues the selected entries' events into <subscriber> (same event id and
idempotency key) and removes them from <subscriber>.dlq, add first, then
remove. Select by ids, by filters, or both (AND); --all selects every entry.
Concurrent runs never replay an entry twice. A progress bar (progress lines
when stderr is not a terminal) is drawn on stderr; Ctrl-C stops between
entries.

${filterUsage}

Options:
  --all            every entry (required when no id or filter is given)
  --rate <n/s>     most entries per second, 1-${maxReplayRatePerSecond} (default ${defaultReplayRatePerSecond}), e.g. 200/s
  --limit <n>      most entries, oldest first
  --dry-run        count the selection, change nothing
  --json           the result as JSON, no progress

Exit code 1 when any entry failed, an id was not found, or the run was stopped.

Examples:
  sy dlq replay notifications 0f8c3c9e-6f0e-4c8e-9d57-2d1f3b2a9c11
  sy dlq replay billing --reason attempts_exhausted --rate 200/s --dry-run
  sy dlq replay provisioning --all --rate 200/s
`,
  options: {
    ...filterOptions,
    all: { type: 'boolean' },
    rate: { type: 'string' },
    limit: { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  needsRedis: () => true,
  async run(args, context) {
    const [name] = requirePositionals(args, ['subscriber'], 'dlq replay');
    const subscriber = subscriberArg(name!);
    const selection = selectionFromArgs(args, args.positionals.slice(1), 'dlq replay');
    const ratePerSecond = rateArg(args, maxReplayRatePerSecond) ?? defaultReplayRatePerSecond;
    const limit = integerArg(args, 'limit', 1, Number.MAX_SAFE_INTEGER);
    const dryRun = flagArg(args, 'dry-run');
    const json = flagArg(args, 'json');
    const progress = createProgress({
      stderr: context.stderr,
      isTTY: context.isTTY,
      clock: context.clock,
      label: 'replayed',
      silent: json || dryRun,
    });
    const startedAt = context.clock.monotonic();
    let result;
    try {
      result = await withDeadLetters(context, (deadLetters) =>
        deadLetters.replay(subscriber, {
          ...selection,
          ratePerSecond,
          dryRun,
          ...(limit === undefined ? {} : { limit }),
          ...(context.signal === undefined ? {} : { signal: context.signal }),
          onProgress: (done, total) => progress.update(done, total),
        }),
      );
    } finally {
      // Ends the bar's line, so an error is not printed on top of it.
      progress.finish();
    }
    const elapsedMs = context.clock.monotonic() - startedAt;
    const ok = result.failed.length === 0 && result.missing.length === 0 && !result.aborted;
    if (json) {
      writeJson(context.stdout, {
        subscriber,
        ratePerSecond,
        elapsedMs: Math.round(elapsedMs),
        ...result,
      });
      return ok ? 0 : 1;
    }
    const { stdout } = context;
    const from = deadLetterQueueNameOf(subscriber);
    if (dryRun) {
      stdout.write(
        `dry run: ${result.matched} entries of ${from} would be replayed into ${queueNameOf(subscriber)}\n`,
      );
    } else {
      stdout.write(
        `replayed ${result.replayed} of ${result.matched} selected from ${from} into ${queueNameOf(subscriber)} in ${formatDuration(elapsedMs)}` +
          ` (skipped ${result.skipped}, failed ${result.failed.length}, missing ${result.missing.length})${result.aborted ? ', stopped early' : ''}\n`,
      );
    }
    for (const failure of result.failed)
      stdout.write(
        `failed ${oneLine(`${failure.id}: ${failure.code}`, 200)}: ${oneLine(failure.error, 200)}\n`,
      );
    for (const id of result.missing) stdout.write(`missing ${id}\n`);
    return ok ? 0 : 1;
  },
};

export const dlqPurgeCommand: Command = {
  name: 'dlq purge',
  summary: 'delete dead letters for good (needs --yes)',
  usage: `Usage: sy dlq purge <subscriber> [<id>...] [filters | --all] [--limit n] (--yes | --dry-run) [--json]

Removes the selected entries of <subscriber>.dlq for good. Refuses to run
without --yes, unless --dry-run. An entry a replay is re-enqueueing right now
is left in place (counted as skipped).

${filterUsage}

Options:
  --all            every entry (required when no id or filter is given)
  --limit <n>      most entries, oldest first
  --dry-run        count the selection, change nothing
  --yes            really delete
  --json           the result as JSON

Examples:
  sy dlq purge billing --reason schema_invalid --dry-run
  sy dlq purge billing --reason schema_invalid --until 2030-01-01T00:00:00Z --yes
`,
  options: {
    ...filterOptions,
    all: { type: 'boolean' },
    limit: { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
  },
  needsRedis: () => true,
  async run(args, context) {
    const [name] = requirePositionals(args, ['subscriber'], 'dlq purge');
    const subscriber = subscriberArg(name!);
    const selection = selectionFromArgs(args, args.positionals.slice(1), 'dlq purge');
    const limit = integerArg(args, 'limit', 1, Number.MAX_SAFE_INTEGER);
    const dryRun = flagArg(args, 'dry-run');
    if (!dryRun && !flagArg(args, 'yes')) {
      throw new UsageError(
        'dlq purge deletes entries for good: add --yes (or --dry-run to count them first)',
      );
    }
    const result = await withDeadLetters(context, (deadLetters) =>
      deadLetters.purge(subscriber, {
        ...selection,
        dryRun,
        ...(limit === undefined ? {} : { limit }),
        ...(context.signal === undefined ? {} : { signal: context.signal }),
      }),
    );
    const ok = result.missing.length === 0 && !result.aborted;
    if (flagArg(args, 'json')) {
      writeJson(context.stdout, { subscriber, ...result });
      return ok ? 0 : 1;
    }
    const from = deadLetterQueueNameOf(subscriber);
    context.stdout.write(
      dryRun
        ? `dry run: ${result.matched} entries of ${from} would be purged\n`
        : `purged ${result.purged} of ${result.matched} selected from ${from} (skipped ${result.skipped}, missing ${result.missing.length})${result.aborted ? ', stopped early' : ''}\n`,
    );
    for (const id of result.missing) context.stdout.write(`missing ${id}\n`);
    return ok ? 0 : 1;
  },
};
