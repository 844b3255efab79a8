/**
 * The producer's own series, in the registry it is given:
 * - http_request_duration_seconds{method, route, status_code}: route is the
 *   route pattern (`/v1/events`), or 'unmatched', never the raw URL, so a
 *   scanner cannot blow up the series count.
 * - sy_events_published_total{type, status}: status is accepted, duplicate
 *   or rejected; type is a catalogue type or 'unknown'.
 */
import { isEventType } from '@switchyard/events';
import { Counter, Histogram, type Registry } from 'prom-client';

/** prom-client's default buckets, in seconds. */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ProducerMetrics {
  observeRequest(
    labels: { method: string; route: string; statusCode: number },
    seconds: number,
  ): void;
  countPublished(type: unknown, status: 'accepted' | 'duplicate' | 'rejected'): void;
}

export function createProducerMetrics(registry: Registry): ProducerMetrics {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests, by route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: durationBuckets,
    registers: [registry],
  });
  const published = new Counter({
    name: 'sy_events_published_total',
    help: 'Events answered by the producer, by type and outcome.',
    labelNames: ['type', 'status'] as const,
    registers: [registry],
  });
  return {
    observeRequest({ method, route, statusCode }, seconds) {
      duration.observe({ method, route, status_code: String(statusCode) }, seconds);
    },
    countPublished(type, status) {
      published.inc({
        type: typeof type === 'string' && isEventType(type) ? type : 'unknown',
        status,
      });
    },
  };
}
