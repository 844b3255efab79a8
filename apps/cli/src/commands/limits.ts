/**
 * `sy limits get|set`: a subscriber queue's queue-wide limits (the runtime's
 * readQueueLimits/writeQueueLimits: BullMQ's queue meta plus a marker saying
 * who set them) and its per-tenant overrides (readTenantLimits /
 * writeTenantLimits). Every replica applies a change at its next fetch or
 * admission, without a restart. The runtime owns the storage and the
 * guarantees; this file parses, validates and prints.
 */
import { userInfo } from 'node:os';
import { queueNameOf, subscriberNames, type SubscriberName } from '@switchyard/events';
import {
  allTenants,
  maxGlobalConcurrency,
  maxLimitsByLength,
  maxRateLimitDurationMs,
  maxRateLimitMax,
  maxTenantLimit,
  minTenantRatePerSecond,
  QueueLimitsError,
  readQueueLimits,
  readTenantLimits,
  TenantLimitsError,
  writeQueueLimits,
  writeTenantLimits,
  type QueueLimits,
  type QueueRateLimit,
  type TenantLimits,
} from '@switchyard/runtime';
import type { RedisConnection } from '@switchyard/client';
import {
  flagArg,
  noExtraPositionals,
  requirePositionals,
  stringArg,
  writeJson,
  type Command,
  type ParsedArgs,
} from '../command.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../format.js';
import { subscriberArg } from '../subscriber-arg.js';

/** One queue's limits as `sy limits` reports them. */
export interface QueueLimitsReport extends QueueLimits {
  queue: string;
  /** Per-tenant overrides, by tenant id (`*`: every tenant without its own). */
  tenants: Record<string, TenantLimits>;
}

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `100/1s`, `100/s`, `10/500ms`, `6000/1m` -> { max, durationMs }; `off` -> null. */
export function parseRate(raw: string): QueueRateLimit | null {
  const text = raw.trim();
  if (text === 'off') return null;
  const match = /^(\d+)\/(\d*)(ms|s|m|h)$/.exec(text);
  const max = match === null ? NaN : Number(match[1]);
  const durationMs =
    match === null ? NaN : Number(match[2] === '' ? 1 : match[2]) * units[match[3]!]!;
  if (
    !Number.isSafeInteger(max) ||
    max < 1 ||
    max > maxRateLimitMax ||
    !Number.isSafeInteger(durationMs) ||
    durationMs < 1 ||
    durationMs > maxRateLimitDurationMs
  ) {
    throw new UsageError(
      `--rate ${JSON.stringify(raw)} must be <max>/<duration> (max 1-${maxRateLimitMax}, duration with ms, s, m or h, e.g. 100/1s, 10/500ms, 6000/1m) or off`,
    );
  }
  return { max, durationMs };
}

function parseConcurrency(raw: string): number | null {
  if (raw.trim() === 'off') return null;
  const value = Number(raw);
  if (
    !/^\d+$/.test(raw.trim()) ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > maxGlobalConcurrency
  ) {
    throw new UsageError(
      `--concurrency ${JSON.stringify(raw)} must be an integer from 1 to ${maxGlobalConcurrency}, or off`,
    );
  }
  return value;
}

/** `5`, `5/s`, `0.5/s`; 0 or `off` = no rate limit. */
function parseTenantRate(raw: string): number {
  const text = raw.trim();
  if (text === 'off') return 0;
  const match = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(text);
  const value = match === null ? NaN : Number(match[1]);
  if (
    !Number.isFinite(value) ||
    value > maxTenantLimit ||
    (value !== 0 && value < minTenantRatePerSecond)
  ) {
    throw new UsageError(
      `--tenant-rate ${JSON.stringify(raw)} must be jobs per second from ${minTenantRatePerSecond} to ${maxTenantLimit} (e.g. 5/s, 0.5/s), or 0 / off for none`,
    );
  }
  return value;
}

/** A whole number 0..maxTenantLimit; 0 or `off` = none. */
function parseTenantCount(raw: string, flag: string): number {
  const text = raw.trim();
  if (text === 'off') return 0;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value > maxTenantLimit) {
    throw new UsageError(
      `--${flag} ${JSON.stringify(raw)} must be an integer from 0 to ${maxTenantLimit} (0 or off for none)`,
    );
  }
  return value;
}

function formatRate(rate: QueueRateLimit | null): string {
  if (rate === null) return '-';
  const { max, durationMs } = rate;
  for (const [unit, ms] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (durationMs % ms === 0)
      return `${max}/${durationMs / ms === 1 ? '' : durationMs / ms}${unit}`;
  }
  return `${max}/${durationMs}ms`;
}

function defaultBy(): string {
  try {
    return `${userInfo().username} (sy)`;
  } catch {
    return 'sy';
  }
}

async function readReport(redis: RedisConnection, prefix: string, subscriber: SubscriberName) {
  const queue = queueNameOf(subscriber);
  const [limits, tenants] = await Promise.all([
    readQueueLimits(redis, { prefix, queue }),
    readTenantLimits({ redis, prefix, queueName: queue }),
  ]);
  return { queue, ...limits, tenants: Object.fromEntries(tenants) } satisfies QueueLimitsReport;
}

function printReports(reports: QueueLimitsReport[], write: (text: string) => void): void {
  write(
    formatTable(
      ['QUEUE', 'RATE', 'CONCURRENCY', 'SET BY', 'UPDATED', 'WHO'],
      reports.map((r) => [
        r.queue,
        formatRate(r.rateLimit),
        r.concurrency === null ? '-' : String(r.concurrency),
        r.source ?? '-',
        r.updatedAt === null ? '-' : new Date(r.updatedAt).toISOString(),
        r.by ?? '-',
      ]),
    ),
  );
  const tenantRows = reports.flatMap((r) =>
    Object.entries(r.tenants).map(([tenant, limits]) => [
      r.queue,
      tenant,
      limits.ratePerSecond ? `${limits.ratePerSecond}/s` : '-',
      limits.burst ? String(limits.burst) : '-',
      limits.concurrency ? String(limits.concurrency) : '-',
    ]),
  );
  if (tenantRows.length === 0) {
    write('\nno tenant overrides (workers apply their configured defaults)\n');
    return;
  }
  write(`\n${formatTable(['QUEUE', 'TENANT', 'RATE', 'BURST', 'CONCURRENCY'], tenantRows)}`);
}

/** Turns the runtime's validation errors into usage errors (exit 2). */
async function asUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof QueueLimitsError || error instanceof TenantLimitsError) {
      throw new UsageError(error.message, { cause: error });
    }
    throw error;
  }
}

export const limitsGetCommand: Command = {
  name: 'limits get',
  summary: 'queue-wide and per-tenant limits of one or every subscriber queue',
  usage: `Usage: sy limits get [<subscriber>] [--json]

Shows each subscriber queue's queue-wide rate limit and global concurrency
(across every replica), who set them last ("config": the workers'
configuration; "cli": an operator, which workers then leave alone at start),
and its per-tenant overrides ("*" applies to every tenant without its own).

Examples:
  sy limits get
  sy limits get billing --json
`,
  options: {},
  needsRedis: () => true,
  async run(args, { redis, config, stdout }) {
    noExtraPositionals(args, 1, 'limits get');
    const name = args.positionals[0];
    const subscribers = name === undefined ? [...subscriberNames] : [subscriberArg(name)];
    const reports: QueueLimitsReport[] = [];
    for (const subscriber of subscribers) {
      reports.push(await readReport(redis!, config.prefix, subscriber));
    }
    if (flagArg(args, 'json')) {
      writeJson(stdout, { prefix: config.prefix, queues: reports });
      return 0;
    }
    printReports(reports, (text) => stdout.write(text));
    return 0;
  },
};

interface SetPlan {
  rateLimit?: QueueRateLimit | null;
  concurrency?: number | null;
  useConfig: boolean;
  tenant?: { id: string; clear: boolean; limits: TenantLimits };
  by: string;
}

function planFrom(args: ParsedArgs): SetPlan {
  const plan: SetPlan = {
    useConfig: flagArg(args, 'use-config'),
    by: stringArg(args, 'by') ?? defaultBy(),
  };
  if (plan.by.length === 0 || plan.by.length > maxLimitsByLength) {
    throw new UsageError(`--by must be 1 to ${maxLimitsByLength} characters`);
  }
  const rate = stringArg(args, 'rate');
  if (rate !== undefined) plan.rateLimit = parseRate(rate);
  const concurrency = stringArg(args, 'concurrency');
  if (concurrency !== undefined) plan.concurrency = parseConcurrency(concurrency);
  if (plan.useConfig && (rate !== undefined || concurrency !== undefined)) {
    throw new UsageError(
      'limits set: --use-config cannot be combined with --rate or --concurrency',
    );
  }

  const tenant = stringArg(args, 'tenant');
  const tenantFlags = {
    ratePerSecond: stringArg(args, 'tenant-rate'),
    burst: stringArg(args, 'tenant-burst'),
    concurrency: stringArg(args, 'tenant-concurrency'),
  };
  const anyTenantValue = Object.values(tenantFlags).some((v) => v !== undefined);
  const clear = flagArg(args, 'clear');
  if (tenant === undefined) {
    if (anyTenantValue || clear) {
      throw new UsageError(
        'limits set: --tenant-rate, --tenant-burst, --tenant-concurrency and --clear need --tenant <id|*>',
      );
    }
  } else {
    if (!/^(?:\*|[A-Za-z0-9._:-]{1,100})$/.test(tenant)) {
      throw new UsageError(
        `--tenant ${JSON.stringify(tenant)} must be "${allTenants}" or 1-100 letters, digits and . _ : -`,
      );
    }
    if (clear === anyTenantValue) {
      throw new UsageError(
        'limits set: with --tenant give --tenant-rate, --tenant-burst and/or --tenant-concurrency, or --clear (not both)',
      );
    }
    const limits: TenantLimits = {};
    if (tenantFlags.ratePerSecond !== undefined)
      limits.ratePerSecond = parseTenantRate(tenantFlags.ratePerSecond);
    if (tenantFlags.burst !== undefined)
      limits.burst = parseTenantCount(tenantFlags.burst, 'tenant-burst');
    if (tenantFlags.concurrency !== undefined) {
      limits.concurrency = parseTenantCount(tenantFlags.concurrency, 'tenant-concurrency');
    }
    plan.tenant = { id: tenant, clear, limits };
  }
  if (
    plan.rateLimit === undefined &&
    plan.concurrency === undefined &&
    !plan.useConfig &&
    plan.tenant === undefined
  ) {
    throw new UsageError(
      'limits set: nothing to change: give --rate, --concurrency, --use-config or --tenant (see sy limits set --help)',
    );
  }
  return plan;
}

export const limitsSetCommand: Command = {
  name: 'limits set',
  summary: "change a subscriber queue's rate limit, concurrency or tenant limits at runtime",
  usage: `Usage: sy limits set <subscriber> [--rate <max>/<duration> | --rate off]
                                    [--concurrency <n> | --concurrency off]
                                    [--use-config] [--by <who>]
                                    [--tenant <id|*> (--tenant-rate <n/s> --tenant-burst <n>
                                                      --tenant-concurrency <n> | --clear)] [--json]

Changes the limits of a subscriber queue while its workers run; every
replica applies them at its next fetch, no restart needed.

Queue-wide (all replicas together):
  --rate <max>/<duration>   at most <max> jobs start per <duration> (ms, s, m, h),
                            e.g. 100/1s, 10/500ms, 6000/1m; "off" removes it
  --concurrency <n>         at most <n> jobs active at once; "off" removes it
  --use-config              hand the queue-wide limits back to the workers'
                            configuration (re-applied at their next start)
  --by <who>                recorded as who changed them (default: your user name)
An operator's --rate/--concurrency survive worker restarts until --use-config.

Per tenant (merged into the tenant's current override; 0 or off = no limit):
  --tenant <id|*>           the tenant, or * for every tenant without its own
  --tenant-rate <n/s>       jobs per second, e.g. 5/s or 0.5/s
  --tenant-burst <n>        jobs that may start at once after an idle spell
  --tenant-concurrency <n>  jobs of the tenant running at once
  --clear                   remove the tenant's override

Prints the queue's limits afterwards (as sy limits get).

Examples:
  sy limits set billing --rate 50/1s --concurrency 20
  sy limits set billing --rate off
  sy limits set notifications --tenant acme --tenant-rate 5/s --tenant-burst 10
  sy limits set notifications --tenant '*' --tenant-concurrency 2
  sy limits set notifications --tenant acme --clear
  sy limits set billing --use-config
`,
  options: {
    rate: { type: 'string' },
    concurrency: { type: 'string' },
    'use-config': { type: 'boolean' },
    by: { type: 'string' },
    tenant: { type: 'string' },
    'tenant-rate': { type: 'string' },
    'tenant-burst': { type: 'string' },
    'tenant-concurrency': { type: 'string' },
    clear: { type: 'boolean' },
  },
  needsRedis: () => true,
  async run(args, { redis, config, stdout, clock }) {
    const [name] = requirePositionals(args, ['subscriber'], 'limits set');
    noExtraPositionals(args, 1, 'limits set');
    const subscriber = subscriberArg(name!);
    const plan = planFrom(args);
    const queue = queueNameOf(subscriber);
    const prefix = config.prefix;
    if (plan.rateLimit !== undefined || plan.concurrency !== undefined || plan.useConfig) {
      await asUsage(() =>
        writeQueueLimits(redis!, {
          prefix,
          queue,
          ...(plan.rateLimit === undefined ? {} : { rateLimit: plan.rateLimit }),
          ...(plan.concurrency === undefined ? {} : { concurrency: plan.concurrency }),
          source: plan.useConfig ? 'config' : 'cli',
          by: plan.by,
          now: clock.now(),
        }),
      );
    }
    if (plan.tenant !== undefined) {
      const { id, clear, limits } = plan.tenant;
      const target = { redis: redis!, prefix, queueName: queue };
      if (clear) {
        await asUsage(() => writeTenantLimits(target, id, null));
      } else {
        // Merge: flags not given keep the override's current values.
        const current = (await readTenantLimits(target)).get(id) ?? {};
        await asUsage(() => writeTenantLimits(target, id, { ...current, ...limits }));
      }
    }
    const report = await readReport(redis!, prefix, subscriber);
    if (flagArg(args, 'json')) {
      writeJson(stdout, report);
      return 0;
    }
    printReports([report], (text) => stdout.write(text));
    return 0;
  },
};
