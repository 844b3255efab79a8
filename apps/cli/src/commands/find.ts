/**
 * `sy find <id>`: every job an eventId, correlationId, idempotency key or
 * tenantId names, across the subscriber queues and their DLQs, from the
 * client's job search index (`findJobs`). Jobs indexed before the index
 * existed, or longer ago than their retention (queue jobs 24 h, DLQ entries
 * 30 days by default), are not found. A Redis failure is exit 3, never
 * reported as "no job found".
 */
import {
  defaultFindJobsLimit,
  findJobs,
  jobIndexKinds,
  maxFindJobsLimit,
  type FoundJob,
  type JobIndexKind,
} from '@switchyard/client';
import {
  flagArg,
  integerArg,
  noExtraPositionals,
  requirePositionals,
  stringsArg,
  writeJson,
  type Command,
} from '../command.js';
import { OperationError, UsageError } from '../errors.js';
import { formatDuration, formatTable, oneLine, printable } from '../format.js';

function kindsArg(values: string[]): JobIndexKind[] | undefined {
  if (values.length === 0) return undefined;
  for (const value of values) {
    if (!(jobIndexKinds as readonly string[]).includes(value)) {
      throw new UsageError(
        `--kind ${JSON.stringify(value)} is not one of ${jobIndexKinds.join(', ')}`,
      );
    }
  }
  return values as JobIndexKind[];
}

function row(job: FoundJob, nowMs: number): string[] {
  return [
    job.queue,
    job.jobId,
    job.state,
    job.matchedBy.join(','),
    job.eventType ?? '-',
    job.tenantId ?? '-',
    job.attemptsMade === undefined ? '-' : String(job.attemptsMade),
    job.timestamp === undefined ? '-' : formatDuration(nowMs - job.timestamp),
  ];
}

export const findCommand: Command = {
  name: 'find',
  summary: 'find jobs by eventId, correlationId, idempotency key or tenant, in every queue and DLQ',
  usage: `Usage: sy find <id> [--kind <k>]... [--limit n] [--json]

Looks <id> up in the job search index, as an eventId, correlationId,
idempotency key and tenant id at once, across every subscriber queue and
its DLQ, and shows each job found with its current state: DLQ entries
first, then newest first. A job removed since it was indexed (completed
and cleaned up, replayed or purged from a DLQ) shows as "gone". The index
keeps queue jobs for the idempotency window (24 h by default), DLQ entries
for 30 days, and 10,000 jobs per tenant. Surrounding whitespace of <id> is
ignored.

Options:
  --kind <k>    only look <id> up as ${jobIndexKinds.join(' | ')}; repeatable
  --limit <n>   most jobs shown, 1-${maxFindJobsLimit} (default ${defaultFindJobsLimit})
  --json        {"id", "jobs": [...]} instead of the table

Exit codes: 0 jobs found, 1 nothing found, 2 usage error, 3 Redis
unreachable or failing.

Examples:
  sy find 0192f1c4-5b6a-7c3d-8e9f-0a1b2c3d4e5f
  sy find acme --kind tenantId --limit 200
  sy find "$CORRELATION_ID" --json | jq '.jobs[] | select(.deadLetter)'
`,
  options: {
    kind: { type: 'string', multiple: true },
    limit: { type: 'string' },
  },
  needsRedis: () => true,
  async run(args, { redis, config, clock, stdout }) {
    const [rawId] = requirePositionals(args, ['id'], 'find');
    noExtraPositionals(args, 1, 'find');
    // As the dashboard's search does: a pasted id often carries a newline or spaces.
    const id = rawId!.trim();
    if (id === '') throw new UsageError('find: <id> must not be empty');
    const kinds = kindsArg(stringsArg(args, 'kind'));
    const limit = integerArg(args, 'limit', 1, maxFindJobsLimit) ?? defaultFindJobsLimit;
    const jobs = await findJobs(redis!, {
      prefix: config.prefix,
      id,
      limit,
      ...(kinds === undefined ? {} : { kinds }),
    });
    if (flagArg(args, 'json')) {
      writeJson(stdout, { id, jobs });
      return jobs.length === 0 ? 1 : 0;
    }
    if (jobs.length === 0) {
      throw new OperationError(
        `no job found for ${printable(JSON.stringify(id))}${kinds === undefined ? '' : ` as ${kinds.join(' or ')}`} (the index keeps queue jobs for the idempotency window, DLQ entries 30 days)`,
      );
    }
    const nowMs = clock.now();
    stdout.write(
      formatTable(
        ['QUEUE', 'JOB ID', 'STATE', 'MATCHED BY', 'TYPE', 'TENANT', 'ATTEMPTS', 'AGE'],
        jobs.map((job) => row(job, nowMs)),
      ),
    );
    const dead = jobs.filter((job) => job.deadLetter && job.state !== 'gone');
    for (const job of dead) {
      stdout.write(
        printable(
          `${job.queue} ${job.jobId}: ${oneLine(job.failedReason ?? 'dead-lettered', 120)} (sy dlq show ${job.queue.slice(0, -'.dlq'.length)} ${job.jobId})`,
        ) + '\n',
      );
    }
    if (jobs.length === limit) stdout.write(`(first ${limit}; raise --limit for more)\n`);
    return 0;
  },
};
