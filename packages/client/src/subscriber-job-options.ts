/**
 * Options of every job the publisher puts in a subscriber queue. The worker
 * runtime will refine retries and the dead-letter queue; until then these
 * are the contract between producer and workers.
 */
import type { JobsOptions } from 'bullmq';

export const subscriberJobOptions = {
  /** Tries per job before it fails for good. */
  attempts: 5,
  /** 1 s, 2 s, 4 s, 8 s between tries. */
  backoff: { type: 'exponential', delay: 1_000 },
  /**
   * Completed jobs are kept 24 h (at most 10 000 per queue). The idempotency
   * window should not be shorter, or a retry could re-add a completed job.
   */
  removeOnComplete: { age: 86_400, count: 10_000 },
  /** Failed jobs stay until the dead-letter handling takes them. */
  removeOnFail: false,
} as const satisfies JobsOptions;
