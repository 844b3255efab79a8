/**
 * The BullMQ job options of every job a publisher puts in a subscriber
 * queue: the contract between publishers (producer, client) and the worker
 * runtime. Plain data, so this package stays free of I/O and of bullmq.
 */

/** The most attempts a handler may ask for; job options carry this ceiling. */
export const maxHandlerAttempts = 100;

/** Name of the runtime's backoff strategy (exponential, jittered, capped). */
export const backoffStrategyName = 'switchyard';

export const deliveryJobOptions = {
  /**
   * A ceiling, not the policy: each handler sets its own `attempts` and the
   * runtime dead-letters a job when that many have failed. BullMQ only needs
   * to allow at least as many.
   */
  attempts: maxHandlerAttempts,
  /** Delays come from the handler's backoff options via the runtime's strategy. */
  backoff: { type: backoffStrategyName },
  /**
   * Completed jobs are kept 24 h (at most 10 000 per queue). The idempotency
   * window should not be shorter, or a retry could re-add a completed job.
   */
  removeOnComplete: { age: 86_400, count: 10_000 },
  /**
   * Failed jobs are kept 7 days (at most 100 000 per queue) for inspection;
   * the dead-letter queue, not this set, is the record of a failure.
   */
  removeOnFail: { age: 7 * 86_400, count: 100_000 },
} as const;
