/**
 * Writes dead-letter records into a subscriber's DLQ (see
 * dead-letter-record.ts for the queue's contract).
 *
 * Atomicity: the move is "write the record, then fail the job", not one
 * Redis transaction (BullMQ's moveToFailed is its own script). It is made
 * idempotent instead:
 * - the record's jobId is the original job id, so a second write of the same
 *   failure adds nothing;
 * - killed after the write, before the job failed: the job's lock expires,
 *   BullMQ's stalled check redelivers it, and the worker, seeing a
 *   redelivery (attemptsStarted > attemptsMade + 1, or stalledCounter > 0),
 *   looks for a DLQ entry with that id first and fails the job at once,
 *   without running the handler: no lost record, no second record, no
 *   second side effect.
 * A job stalled more than maxStalledCount times is dead-lettered (reason
 * 'stalled') by the worker that takes it next, through the same path: record
 * first, then fail (BullMQ's own maxStalledCount is set out of reach, so
 * BullMQ never fails a job without a record).
 * Before each write the worker extends the job's lock; if it no longer holds
 * it (the job may be running on another worker) it writes nothing.
 * And between the check and the handler, a replay that already removed the
 * entry lets the original job run again; the effect markers (ctx.once) make
 * that harmless.
 */
import { Queue } from 'bullmq';
import { deadLetterQueueNameOf, type SubscriberName } from '@switchyard/events';
import { indexJobs, type JobIndexRetention, type RedisConnection } from '@switchyard/client';
import {
  deadLetterJobId,
  deadLetterJobOptions,
  type DeadLetterRecord,
} from './dead-letter-record.js';

/**
 * How long the job search index keeps a DLQ entry: 30 days. DLQ entries stay
 * until replayed or purged (deadLetterJobOptions), so they outlive the
 * queue jobs' index retention (the idempotency window, 24 h by default).
 */
export const defaultDeadLetterIndexTtlSeconds = 30 * 86_400;

export interface DeadLetterQueue {
  /** Pauses the DLQ (idempotent), so nothing ever consumes it. Called at worker start. */
  ensurePaused(): Promise<void>;
  /** Whether a record for this original job id exists. */
  has(originalJobId: string): Promise<boolean>;
  /** Adds the record; a no-op when one for the same job id exists. */
  write(record: DeadLetterRecord): Promise<void>;
  close(): Promise<void>;
}

export function openDeadLetterQueue(options: {
  redis: RedisConnection;
  prefix: string;
  subscriber: SubscriberName;
  /**
   * Gets the queue's 'error' events (BullMQ re-emits connection errors
   * there; without a listener they go to console). The worker logs them.
   */
  onError?: (error: Error) => void;
  /**
   * Retention of the DLQ entries in the job search index (client's
   * job-index.ts). Default: `ttlSeconds` = defaultDeadLetterIndexTtlSeconds
   * (30 days), `maxPerTenant` 10 000.
   */
  jobIndex?: JobIndexRetention;
}): DeadLetterQueue {
  const queue = new Queue<DeadLetterRecord>(deadLetterQueueNameOf(options.subscriber), {
    connection: options.redis,
    prefix: options.prefix,
  });
  if (options.onError) queue.on('error', options.onError);
  let paused: Promise<void> | undefined;
  const ensurePaused = () =>
    (paused ??= queue.pause().catch((error: unknown) => {
      paused = undefined;
      throw error;
    }));
  return {
    ensurePaused,
    async has(originalJobId) {
      const key = `${options.prefix}:${deadLetterQueueNameOf(options.subscriber)}:${deadLetterJobId(originalJobId)}`;
      return (await options.redis.exists(key)) === 1;
    },
    async write(record) {
      await ensurePaused();
      const jobId = deadLetterJobId(record.jobId);
      await queue.add(record.jobName, record, { ...deadLetterJobOptions, jobId });
      // The job search index (client's job-index.ts): best effort, never fails the move.
      try {
        await indexJobs(options.redis, {
          prefix: options.prefix,
          entries: [
            {
              queue: queue.name,
              jobId,
              eventId: record.eventId,
              correlationId: record.correlationId,
              idempotencyKey: record.idempotencyKey,
              tenantId: record.tenantId,
            },
          ],
          retention: {
            ...options.jobIndex,
            ttlSeconds: options.jobIndex?.ttlSeconds ?? defaultDeadLetterIndexTtlSeconds,
          },
        });
      } catch (error) {
        options.onError?.(error instanceof Error ? error : new Error(String(error)));
      }
    },
    close: () => queue.close(),
  };
}
