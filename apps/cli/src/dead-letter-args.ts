/** Flags shared by the dlq commands: the filter, and the selection of replay and purge. */
import {
  deadLetterReasons,
  type DeadLetterFilter,
  type DeadLetterReason,
} from '@switchyard/runtime';
import {
  flagArg,
  stringArg,
  stringsArg,
  type ParseArgsOptionsConfig,
  type ParsedArgs,
} from './command.js';
import { UsageError } from './errors.js';

export const filterOptions = {
  reason: { type: 'string', multiple: true },
  type: { type: 'string' },
  tenant: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

export const filterUsage = `Filters (all given ones must match):
  --reason <r>     ${deadLetterReasons.join(' | ')}; repeat for any of several
  --type <t>       event type, e.g. user.signed_up
  --tenant <x>     tenant id
  --since <ISO>    dead-lettered at or after, e.g. 2030-01-31T00:00:00Z
  --until <ISO>    dead-lettered before
                   (ISO 8601: a date, 2030-01-31 = midnight UTC, or a date and time
                   with Z or an offset; anything else exits 2)`;

/**
 * ISO 8601 as `date` (UTC midnight) or `date` + `T` + time + zone (`Z` or
 * `±hh:mm`); anything else, including a time without a zone (which Date
 * would read in the machine's zone), is refused.
 */
const isoDate =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** The date a --since/--until value names, or a UsageError saying what an ISO date looks like. */
export function parseIsoDate(raw: string, flag: string): Date {
  const text = raw.trim();
  const match = isoDate.exec(text);
  const date = match === null ? undefined : new Date(text);
  const [, year, month, day, hour = '0', minute = '0', second = '0'] = match ?? [];
  // Date rolls 2030-02-31 over to March and accepts 24:00; both are typos here.
  const real =
    date !== undefined &&
    !Number.isNaN(date.getTime()) &&
    Number(month) >= 1 &&
    Number(month) <= 12 &&
    Number(day) >= 1 &&
    Number(day) <= new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate() &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second) <= 59;
  if (!real) {
    const zoneless = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(text);
    throw new UsageError(
      `--${flag} ${JSON.stringify(raw)} is not an ISO 8601 date${zoneless ? ' with a zone (add Z or an offset such as +02:00)' : ''}: use e.g. 2030-01-31 or 2030-01-31T14:30:00Z`,
    );
  }
  return date;
}

function dateArg(args: ParsedArgs, name: string): Date | undefined {
  const raw = stringArg(args, name);
  return raw === undefined ? undefined : parseIsoDate(raw, name);
}

function textArg(args: ParsedArgs, name: string): string | undefined {
  const raw = stringArg(args, name);
  if (raw !== undefined && raw.trim() === '') throw new UsageError(`--${name} must not be empty`);
  return raw;
}

/** The filter the flags describe; undefined when none is given. */
export function filterFromArgs(args: ParsedArgs): DeadLetterFilter | undefined {
  const reasons = stringsArg(args, 'reason');
  for (const reason of reasons) {
    if (!(deadLetterReasons as readonly string[]).includes(reason)) {
      throw new UsageError(
        `--reason ${JSON.stringify(reason)} is not one of ${deadLetterReasons.join(', ')}`,
      );
    }
  }
  const filter: DeadLetterFilter = {};
  if (reasons.length > 0) filter.reason = reasons as DeadLetterReason[];
  const eventType = textArg(args, 'type');
  if (eventType !== undefined) filter.eventType = eventType;
  const tenantId = textArg(args, 'tenant');
  if (tenantId !== undefined) filter.tenantId = tenantId;
  const from = dateArg(args, 'since');
  if (from !== undefined) filter.from = from;
  const to = dateArg(args, 'until');
  if (to !== undefined) filter.to = to;
  if (from !== undefined && to !== undefined && from >= to) {
    throw new UsageError('--since must be before --until');
  }
  return Object.keys(filter).length === 0 ? undefined : filter;
}

/**
 * What replay and purge act on: the ids, the filter, or both (AND). With
 * neither, `--all` is required, so a forgotten filter never touches the
 * whole DLQ by accident.
 */
export function selectionFromArgs(
  args: ParsedArgs,
  ids: readonly string[],
  command: string,
): { ids?: string[]; filter?: DeadLetterFilter } {
  const filter = filterFromArgs(args);
  const all = flagArg(args, 'all');
  if (all && (ids.length > 0 || filter !== undefined)) {
    throw new UsageError(`${command}: --all cannot be combined with ids or filters`);
  }
  if (!all && ids.length === 0 && filter === undefined) {
    throw new UsageError(
      `${command}: name entry ids, give a filter, or pass --all for every entry (see sy ${command} --help)`,
    );
  }
  return {
    ...(ids.length > 0 ? { ids: [...ids] } : {}),
    ...(filter !== undefined ? { filter } : all ? { filter: {} } : {}),
  };
}

/** `200` or `200/s`. */
export function rateArg(args: ParsedArgs, max: number): number | undefined {
  const raw = stringArg(args, 'rate');
  if (raw === undefined) return undefined;
  const match = /^(\d+)(?:\/s)?$/.exec(raw.trim());
  const value = match === null ? NaN : Number(match[1]);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new UsageError(
      `--rate ${JSON.stringify(raw)} must be a whole number of entries per second from 1 to ${max}, e.g. 200/s`,
    );
  }
  return value;
}
