/**
 * The worker's Prometheus series, registered on the process's registry:
 * - `sy_jobs_total{subscriber,outcome}`: counter of finished attempts.
 * - `sy_handler_duration_seconds{subscriber}`: histogram of handler run time
 *   (inside its concurrency slot; the wait for the slot is not counted).
 * - `sy_time_in_queue_seconds{subscriber}`: histogram of the time from a
 *   job being due (added, plus its delay) to its first handler start; tenant
 *   delays count in, so do queue holds before that first start.
 * - `sy_job_attempts{subscriber,result}`: histogram of the attempts a job
 *   used when it finished for good (`succeeded` or `dead_lettered`).
 * - `sy_job_retries_total{subscriber}`: counter of failed attempts that will
 *   be retried; `sy_job_timeouts_total{subscriber}`: attempts that timed out.
 * - `sy_dead_letters_total{subscriber,reason}`: counter of DLQ records written.
 * - `sy_breaker_state{downstream}`: gauge, 0 closed, 1 half-open, 2 open.
 * - `sy_breaker_transitions_total{downstream,to}`: counter of state changes.
 * - `sy_rate_limit_waits_total{queue,cause}`: counter of queue holds this
 *   process set after a Retry-After (`retry_after`) or an open breaker
 *   (`breaker`); `sy_rate_limit_wait_seconds{queue,cause}`: their lengths.
 * - `sy_tenant_limit_delays_total{queue,cause}`: counter of jobs delayed by
 *   their tenant's limits (tenant-limiter.ts), cause `rate` or `concurrency`;
 *   never labelled by tenant (unbounded).
 * Labels are bounded (subscriber, queue and downstream names, and the fixed
 * outcome, state and cause sets): never an event id, error message or key.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type MetricsRegistry = Registry;

/**
 * How an attempt ended:
 * - succeeded: the handler resolved.
 * - failed: the handler threw a transient error (retried while attempts remain).
 * - unrecoverable: the handler threw a permanent error (no retry).
 * - invalid: the envelope, its type or version, or the handler lookup failed (no retry, handler not run).
 * - rate_limited: the handler was asked to slow down; the queue waits, no attempt is counted.
 * - handed_back: aborted by a shutdown and put back in the queue, no attempt counted.
 */
export type JobOutcome =
  'succeeded' | 'failed' | 'unrecoverable' | 'invalid' | 'rate_limited' | 'handed_back';

/** A circuit breaker's state, as the `sy_breaker_state` gauge encodes it (0, 1, 2). */
export type BreakerState = 'closed' | 'half_open' | 'open';

/** Why a queue was held (see RateLimitCause in errors.ts). */
export type RateLimitWaitCause = 'retry_after' | 'breaker';

export interface WorkerMetrics {
  countJob(subscriber: string, outcome: JobOutcome): void;
  observeTimeInQueue(subscriber: string, seconds: number): void;
  /** Attempts used by a job that finished for good. */
  observeAttempts(
    subscriber: string,
    result: 'succeeded' | 'dead_lettered',
    attempts: number,
  ): void;
  countRetry(subscriber: string): void;
  countTimeout(subscriber: string): void;
  observeHandlerDuration(subscriber: string, seconds: number): void;
  countDeadLetter(subscriber: string, reason: string): void;
  /** Counts one job delayed by its tenant's limits. */
  countTenantDelay(queue: string, cause: 'rate' | 'concurrency'): void;
  /** Sets the breaker gauge, and counts a transition when `counted` (not for the initial state). */
  setBreakerState(downstream: string, state: BreakerState, counted: boolean): void;
  /** Counts one queue hold this process set and observes its length. */
  countRateLimitWait(queue: string, cause: RateLimitWaitCause, seconds: number): void;
}

const breakerStateValue: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** Seconds; from the 100 ms floor to the long Retry-Afters some APIs send. */
export const rateLimitWaitBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Seconds; from a job picked up at once to one that waited out a long backlog or Retry-After. */
export const timeInQueueBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
];

/** Attempts; up to the ceiling of 100 a job may carry. */
export const attemptBuckets = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50, 100];

/** Seconds; from a fast local call to a slow third party near the default 10 s timeout. */
export const handlerDurationBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/**
 * The worker series on `registry`, created on first use; a second worker in
 * the same process (tests, several subscribers) shares them.
 */
export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const jobs =
    (registry.getSingleMetric('sy_jobs_total') as Counter<'subscriber' | 'outcome'> | undefined) ??
    new Counter({
      name: 'sy_jobs_total',
      help: 'Finished job attempts, by subscriber and outcome.',
      labelNames: ['subscriber', 'outcome'] as const,
      registers: [registry],
    });
  const duration =
    (registry.getSingleMetric('sy_handler_duration_seconds') as
      Histogram<'subscriber'> | undefined) ??
    new Histogram({
      name: 'sy_handler_duration_seconds',
      help: 'Time a handler ran for one attempt, in seconds.',
      labelNames: ['subscriber'] as const,
      buckets: handlerDurationBuckets,
      registers: [registry],
    });
  const deadLetters =
    (registry.getSingleMetric('sy_dead_letters_total') as
      Counter<'subscriber' | 'reason'> | undefined) ??
    new Counter({
      name: 'sy_dead_letters_total',
      help: 'Jobs moved to the dead-letter queue, by subscriber and reason.',
      labelNames: ['subscriber', 'reason'] as const,
      registers: [registry],
    });
  const breakerState =
    (registry.getSingleMetric('sy_breaker_state') as Gauge<'downstream'> | undefined) ??
    new Gauge({
      name: 'sy_breaker_state',
      help: 'Circuit breaker state per downstream: 0 closed, 1 half-open, 2 open.',
      labelNames: ['downstream'] as const,
      registers: [registry],
    });
  const breakerTransitions =
    (registry.getSingleMetric('sy_breaker_transitions_total') as
      Counter<'downstream' | 'to'> | undefined) ??
    new Counter({
      name: 'sy_breaker_transitions_total',
      help: 'Circuit breaker state changes, by downstream and new state.',
      labelNames: ['downstream', 'to'] as const,
      registers: [registry],
    });
  const rateLimitWaits =
    (registry.getSingleMetric('sy_rate_limit_waits_total') as
      Counter<'queue' | 'cause'> | undefined) ??
    new Counter({
      name: 'sy_rate_limit_waits_total',
      help: 'Queue holds set after a Retry-After or an open circuit breaker, by queue and cause.',
      labelNames: ['queue', 'cause'] as const,
      registers: [registry],
    });
  const rateLimitWaitSeconds =
    (registry.getSingleMetric('sy_rate_limit_wait_seconds') as
      Histogram<'queue' | 'cause'> | undefined) ??
    new Histogram({
      name: 'sy_rate_limit_wait_seconds',
      help: 'Length of the queue holds set after a Retry-After or an open breaker, in seconds.',
      labelNames: ['queue', 'cause'] as const,
      buckets: rateLimitWaitBuckets,
      registers: [registry],
    });
  const tenantDelays =
    (registry.getSingleMetric('sy_tenant_limit_delays_total') as
      Counter<'queue' | 'cause'> | undefined) ??
    new Counter({
      name: 'sy_tenant_limit_delays_total',
      help: 'Jobs delayed because their tenant was over its rate or concurrency limit, by queue and cause.',
      labelNames: ['queue', 'cause'] as const,
      registers: [registry],
    });
  const timeInQueue =
    (registry.getSingleMetric('sy_time_in_queue_seconds') as Histogram<'subscriber'> | undefined) ??
    new Histogram({
      name: 'sy_time_in_queue_seconds',
      help: 'Time from a job being due to its first handler start, in seconds.',
      labelNames: ['subscriber'] as const,
      buckets: timeInQueueBuckets,
      registers: [registry],
    });
  const attemptsUsed =
    (registry.getSingleMetric('sy_job_attempts') as
      Histogram<'subscriber' | 'result'> | undefined) ??
    new Histogram({
      name: 'sy_job_attempts',
      help: 'Attempts a job used when it finished for good, by subscriber and result.',
      labelNames: ['subscriber', 'result'] as const,
      buckets: attemptBuckets,
      registers: [registry],
    });
  const retries =
    (registry.getSingleMetric('sy_job_retries_total') as Counter<'subscriber'> | undefined) ??
    new Counter({
      name: 'sy_job_retries_total',
      help: 'Failed attempts that will be retried after their backoff, by subscriber.',
      labelNames: ['subscriber'] as const,
      registers: [registry],
    });
  const timeouts =
    (registry.getSingleMetric('sy_job_timeouts_total') as Counter<'subscriber'> | undefined) ??
    new Counter({
      name: 'sy_job_timeouts_total',
      help: 'Attempts that ran past their handler timeout, by subscriber.',
      labelNames: ['subscriber'] as const,
      registers: [registry],
    });
  // Label objects are built once per label set and reused: prom-client keeps
  // the first object it sees per series, and a fresh object per call was
  // per-job garbage. The sets are bounded (see the header), so the caches are.
  const bySubscriber = new Map<string, { subscriber: string }>();
  const subscriberLabels = (subscriber: string) => {
    let labels = bySubscriber.get(subscriber);
    if (labels === undefined) bySubscriber.set(subscriber, (labels = { subscriber }));
    return labels;
  };
  /** A cache of `{[a]: first, [b]: second}` objects for one series, without per-call strings. */
  const pairCache = <A extends string, B extends string>(a: A, b: B) => {
    const byFirst = new Map<string, Map<string, Record<A | B, string>>>();
    return (first: string, second: string): Record<A | B, string> => {
      let bySecond = byFirst.get(first);
      if (bySecond === undefined)
        byFirst.set(first, (bySecond = new Map<string, Record<A | B, string>>()));
      let labels = bySecond.get(second);
      if (labels === undefined) {
        labels = { [a]: first, [b]: second } as Record<A | B, string>;
        bySecond.set(second, labels);
      }
      return labels;
    };
  };
  const jobLabels = pairCache('subscriber', 'outcome');
  const attemptLabels = pairCache('subscriber', 'result');
  return {
    observeTimeInQueue: (subscriber, seconds) =>
      timeInQueue.observe(subscriberLabels(subscriber), seconds),
    observeAttempts: (subscriber, result, attempts) =>
      attemptsUsed.observe(attemptLabels(subscriber, result), attempts),
    countRetry: (subscriber) => retries.inc(subscriberLabels(subscriber)),
    countTimeout: (subscriber) => timeouts.inc(subscriberLabels(subscriber)),
    countTenantDelay: (queue, cause) => tenantDelays.inc({ queue, cause }),
    setBreakerState: (downstream, state, counted) => {
      breakerState.set({ downstream }, breakerStateValue[state]);
      if (counted) breakerTransitions.inc({ downstream, to: state });
    },
    countRateLimitWait: (queue, cause, seconds) => {
      rateLimitWaits.inc({ queue, cause });
      rateLimitWaitSeconds.observe({ queue, cause }, seconds);
    },
    countDeadLetter: (subscriber, reason) => deadLetters.inc({ subscriber, reason }),
    countJob: (subscriber, outcome) => jobs.inc(jobLabels(subscriber, outcome)),
    observeHandlerDuration: (subscriber, seconds) =>
      duration.observe(subscriberLabels(subscriber), seconds),
  };
}
