/**
 * The dead-letter record: what a subscriber's DLQ holds for one job that
 * failed for good. Pure data and helpers, no I/O (the one ambient read: the
 * active trace id, see createDeadLetterRecord); the worker writes records
 * (dead-letter-queue.ts) and replay reads them (dead-letter-replay.ts).
 *
 * Contract of the DLQ itself:
 * - one BullMQ queue per subscriber, `deadLetterQueueNameOf(subscriber)`
 *   (`<subscriber>.dlq`), under the same prefix as the subscriber queue;
 * - it is paused when the runtime first touches it, so even a worker attached
 *   to it by mistake takes nothing; workers never consume it;
 * - a DLQ job's name is the original job name (the event type), its jobId is
 *   the original job's id (`deadLetterJobId`), so writing the same failure
 *   twice is a no-op: BullMQ ignores an add with an existing jobId;
 * - its options: no attempts, removeOnComplete/removeOnFail false
 *   (`deadLetterJobOptions`); its data is a `DeadLetterRecord`.
 *
 * Original job ids are the eventId; a replayed job gets `<eventId>-r<n>`
 * (`replayJobId`), so each replay can fail into the DLQ again as its own entry.
 */
import { activeTraceIds } from '@switchyard/observability';

/** Why a job was dead-lettered. */
export type DeadLetterReason =
  /** The handler threw a permanent error (PermanentError, DownstreamRejectedError, isPermanent). */
  | 'permanent'
  /** The job's data is not a valid envelope, or its data does not match its schema. */
  | 'schema_invalid'
  /** The event type or version is not in the catalogue. */
  | 'unknown_event'
  /** The event is valid but this subscriber has no handler for it. */
  | 'no_handler'
  /** The last allowed attempt failed. */
  | 'attempts_exhausted'
  /**
   * BullMQ failed the job itself: its lock expired more often than
   * maxStalledCount allows (the workers running it died or hung).
   */
  | 'stalled'
  /** The next retry would end after the handler's retry time budget. */
  | 'retry_budget_exhausted';

export const deadLetterReasons: readonly DeadLetterReason[] = [
  'permanent',
  'schema_invalid',
  'unknown_event',
  'no_handler',
  'attempts_exhausted',
  'retry_budget_exhausted',
  'stalled',
];

/** Most bytes (UTF-16 code units) of an attempt's error message kept in a record. */
export const maxDeadLetterMessageLength = 1024;
/** Most characters of an attempt's stack kept in a record. */
export const maxDeadLetterStackLength = 4096;
/** Most attempt errors kept in a record: the last ones. */
export const maxDeadLetterErrors = 25;
/** Longest event field (eventId, tenantId, ...) copied to the record's top level. */
export const maxDeadLetterFieldLength = 200;

/** One failed attempt. */
export interface DeadLetterAttemptError {
  /** 1-based attempt number. */
  attempt: number;
  /** Stable error code (`SY_ERR_...`); 'SY_ERR_UNEXPECTED' when the error had none. */
  code: string;
  /** Error class name. */
  name: string;
  /** At most `maxDeadLetterMessageLength` characters. */
  message: string;
  /** At most `maxDeadLetterStackLength` characters. */
  stack?: string;
  /** When the attempt failed, ISO 8601. */
  at: string;
}

export interface DeadLetterRecord {
  version: 1;
  subscriber: string;
  /** The original queue name. */
  queue: string;
  /** The original job id. */
  jobId: string;
  jobName: string;
  /** The original job.data, untouched (it may be invalid: that may be why it is here). */
  event: unknown;
  /** Copied from the event when present and short, for filters and search. */
  eventId?: string;
  eventType?: string;
  tenantId?: string;
  correlationId?: string;
  idempotencyKey?: string;
  reason: DeadLetterReason;
  /** Every attempt's error, oldest first, at most the last `maxDeadLetterErrors`. */
  errors: DeadLetterAttemptError[];
  /** Attempts made (including the one that dead-lettered the job). */
  attempts: number;
  /** The original job.timestamp, ISO. */
  enqueuedAt: string;
  /** ISO. */
  failedAt: string;
  /** The worker that dead-lettered the job. */
  workerId: string;
  /** n when the original job id ends in -r<n>, else 0. */
  replays: number;
  /** The trace of the failing attempt, when tracing is on (see docs/observability.md). */
  traceId?: string;
}

/** BullMQ job options of a DLQ job: no attempts option, never removed automatically. */
export const deadLetterJobOptions = {
  removeOnComplete: false,
  removeOnFail: false,
} as const;

/**
 * The DLQ job id of an original job: the same id, so a second write is a
 * no-op. Exception: BullMQ refuses integer custom ids, so an auto-generated
 * id (`42`, a job added without jobId, never by our publishers) becomes
 * `job-42`.
 */
export function deadLetterJobId(originalJobId: string): string {
  return /^\d+$/.test(originalJobId) ? `job-${originalJobId}` : originalJobId;
}

const replaySuffix = /-r(\d+)$/;

/** n when `jobId` ends in `-r<n>`, else 0. */
export function replaysOf(jobId: string): number {
  const match = replaySuffix.exec(jobId);
  return match ? Number(match[1]) : 0;
}

/** The id without a trailing `-r<n>`: the eventId for ids the runtime made. */
export function baseJobId(jobId: string): string {
  return jobId.replace(replaySuffix, '');
}

/** The job id of the next replay: `<base>-r<replays+1>`, base without an existing `-r<n>`. */
export function replayJobId(eventIdOrJobId: string, replays: number): string {
  return `${baseJobId(eventIdOrJobId)}-r${replays + 1}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function shortString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= maxDeadLetterFieldLength
    ? value
    : undefined;
}

/** The searchable fields of an event (an envelope, or anything else). */
export function deadLetterEventFields(
  event: unknown,
): Pick<
  DeadLetterRecord,
  'eventId' | 'eventType' | 'tenantId' | 'correlationId' | 'idempotencyKey'
> {
  if (typeof event !== 'object' || event === null) return {};
  const fields = event as Record<string, unknown>;
  const picked = {
    eventId: shortString(fields.id),
    eventType: shortString(fields.type),
    tenantId: shortString(fields.tenantId),
    correlationId: shortString(fields.correlationId),
    idempotencyKey: shortString(fields.idempotencyKey),
  };
  return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined));
}

/** Bounds one attempt's error to the record's limits. */
export function boundAttemptError(error: DeadLetterAttemptError): DeadLetterAttemptError {
  return {
    attempt: error.attempt,
    code: truncate(error.code, maxDeadLetterFieldLength),
    name: truncate(error.name, maxDeadLetterFieldLength),
    message: truncate(error.message, maxDeadLetterMessageLength),
    ...(error.stack === undefined
      ? {}
      : { stack: truncate(error.stack, maxDeadLetterStackLength) }),
    at: error.at,
  };
}

export interface DeadLetterRecordInput {
  subscriber: string;
  queue: string;
  jobId: string;
  jobName: string;
  event: unknown;
  reason: DeadLetterReason;
  errors: DeadLetterAttemptError[];
  attempts: number;
  /** job.timestamp, ms since the epoch. */
  enqueuedAt: number;
  failedAt: Date;
  workerId: string;
  /** The failing attempt's trace id. Default: the active span's, when tracing is on. */
  traceId?: string;
}

/** Builds a record within its bounds (last 25 errors, truncated messages and stacks). */
export function createDeadLetterRecord(input: DeadLetterRecordInput): DeadLetterRecord {
  return {
    version: 1,
    subscriber: input.subscriber,
    queue: input.queue,
    jobId: input.jobId,
    jobName: input.jobName,
    event: input.event,
    ...deadLetterEventFields(input.event),
    reason: input.reason,
    errors: input.errors.slice(-maxDeadLetterErrors).map(boundAttemptError),
    attempts: input.attempts,
    enqueuedAt: new Date(input.enqueuedAt).toISOString(),
    failedAt: input.failedAt.toISOString(),
    workerId: input.workerId,
    replays: replaysOf(input.jobId),
    ...traceIdField(input.traceId ?? activeTraceIds()?.traceId),
  };
}

function traceIdField(traceId: string | undefined): { traceId?: string } {
  return traceId === undefined ? {} : { traceId };
}
