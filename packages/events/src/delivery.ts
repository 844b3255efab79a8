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
} as const;

/**
 * How long finished jobs stay, applied by the worker runtime (BullMQ Worker
 * options `removeOnComplete` / `removeOnFail`, which BullMQ uses for every
 * job whose own options do not say), not carried by each job: the same
 * policy for every job of a queue, without ~80 bytes of options JSON in
 * every job hash. Jobs added with their own retention keep it.
 */
export const deliveryRetention = {
  /**
   * The newest 10 000 completed jobs are kept per queue (for Bull Board,
   * `sy find` and `sy queues` rates), bounded by count only: an age limit
   * would add a sorted-set range query to every completion (BullMQ's
   * finish script), and under load the count binds long before any age
   * would. A retry that re-adds a completed and removed job is covered by
   * the idempotency ledger (an accepted record answers 'duplicate') and by
   * the workers' effect idempotency.
   */
  removeOnComplete: { count: 10_000 },
  /**
   * Failed jobs are kept 7 days (at most 100 000 per queue) for inspection;
   * the dead-letter queue, not this set, is the record of a failure.
   */
  removeOnFail: { age: 7 * 86_400, count: 100_000 },
} as const;
