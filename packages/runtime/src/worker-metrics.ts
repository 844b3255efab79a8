/**
 * The worker's Prometheus series, registered on the process's registry:
 * - `sy_jobs_total{subscriber,outcome}`: counter of finished attempts.
 * - `sy_handler_duration_seconds{subscriber}`: histogram of handler run time
 *   (inside its concurrency slot; the wait for the slot is not counted).
 * - `sy_dead_letters_total{subscriber,reason}`: counter of DLQ records written.
 * Labels are bounded (subscriber names and the JobOutcome set): never an
 * event id, error message or key.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

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

export interface WorkerMetrics {
  countJob(subscriber: string, outcome: JobOutcome): void;
  observeHandlerDuration(subscriber: string, seconds: number): void;
  countDeadLetter(subscriber: string, reason: string): void;
}

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
  return {
    countDeadLetter: (subscriber, reason) => deadLetters.inc({ subscriber, reason }),
    countJob: (subscriber, outcome) => jobs.inc({ subscriber, outcome }),
    observeHandlerDuration: (subscriber, seconds) => duration.observe({ subscriber }, seconds),
  };
}
