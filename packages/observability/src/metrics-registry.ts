/**
 * Each process keeps its own prom-client registry (never the global one), so
 * tests and several servers in one process do not share counters.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsRegistryOptions {
  /** Added as the `service` label on every series. */
  service: string;
  /** Collect Node.js process metrics (CPU, memory, event-loop lag, GC). Default: true. */
  processMetrics?: boolean;
}

export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
