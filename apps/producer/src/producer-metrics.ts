/**
 * The producer's own series, in the registry it is given (which also holds
 * the default process metrics and the queue series, see main.ts and
 * build-server.ts):
 * - sy_http_request_duration_seconds{method, route, status} (histogram) and
 *   sy_http_requests_total{method, route, status} (counter): route is the
 *   route pattern (`/v1/events`), or 'unmatched', never the raw URL, so a
 *   scanner cannot blow up the series count; status is the answered code.
 * - sy_events_published_total{type, status}: status is accepted, duplicate
 *   or rejected; type is a catalogue type or 'unknown'.
 * - sy_rate_limited_requests_total: requests refused 429 because their API
 *   key was over its per-minute limit (no key label: keys are secrets).
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
  countRateLimited(): void;
}

export function createProducerMetrics(registry: Registry): ProducerMetrics {
  const duration = new Histogram({
    name: 'sy_http_request_duration_seconds',
    help: 'Duration of HTTP requests in seconds, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: durationBuckets,
    registers: [registry],
  });
  const requests = new Counter({
    name: 'sy_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const published = new Counter({
    name: 'sy_events_published_total',
    help: 'Events answered by the producer, by type and outcome.',
    labelNames: ['type', 'status'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'sy_rate_limited_requests_total',
    help: 'Requests refused with 429 because their API key was over its per-minute limit.',
    registers: [registry],
  });
  // Label objects built once per label set (method, route pattern and status
  // are bounded, see above), not per request: no per-request object or
  // String(statusCode). prom-client keeps the first object per series.
  type RequestLabels = { method: string; route: string; status: string };
  const requestLabels = new Map<string, Map<string, Map<number, RequestLabels>>>();
  const labelsOf = (method: string, route: string, statusCode: number): RequestLabels => {
    let byRoute = requestLabels.get(method);
    if (byRoute === undefined)
      requestLabels.set(method, (byRoute = new Map<string, Map<number, RequestLabels>>()));
    let byStatus = byRoute.get(route);
    if (byStatus === undefined) byRoute.set(route, (byStatus = new Map<number, RequestLabels>()));
    let labels = byStatus.get(statusCode);
    if (labels === undefined) {
      byStatus.set(statusCode, (labels = { method, route, status: String(statusCode) }));
    }
    return labels;
  };
  const publishedLabels = new Map<string, { type: string; status: string }>();
  return {
    observeRequest({ method, route, statusCode }, seconds) {
      const labels = labelsOf(method, route, statusCode);
      duration.observe(labels, seconds);
      requests.inc(labels);
    },
    countPublished(type, status) {
      const known = typeof type === 'string' && isEventType(type) ? type : 'unknown';
      const key = `${known} ${status}`;
      let labels = publishedLabels.get(key);
      if (labels === undefined) publishedLabels.set(key, (labels = { type: known, status }));
      published.inc(labels);
    },
    countRateLimited: () => rateLimited.inc(),
  };
}
