/**
 * Tier C's consumer: the Switchyard worker runtime (createWorker) for the
 * `billing` subscriber with a no-op `payment.failed` handler. By default it
 * runs as shipped: ctx.once around the (empty) side effect, Prometheus
 * metrics, pino logs at info (to this child's stdout, which the
 * orchestrator sends to /dev/null). The variants turn one feature off each:
 * - logs: the logger at `silent` (LOG_LEVEL=silent in an app);
 * - metrics: a registry that hands the runtime no-op series. The runtime
 *   has no switch for its metrics (CreateWorkerOptions.registry is
 *   required), so this is the only way to measure their cost without
 *   editing packages/runtime;
 * - once: the handler does not call ctx.once (effect idempotency is the
 *   handler's choice).
 * The publish time rides in the envelope's correlationId (`t<epoch ms>`),
 * set by the http role.
 */
import {
  createWorker,
  defineHandler,
  type MetricsRegistry,
  type SubscriberWorker,
} from '@switchyard/runtime';
import { createLogger, createMetricsRegistry } from '@switchyard/observability';
import type { ConsumerStats, Role } from '../role-kit.js';
import type { RoleConfig } from '../protocol.js';

const noopMetric = { inc() {}, observe() {}, set() {}, labels: () => noopMetric };

/** A registry on which every series the runtime asks for already exists and records nothing. */
function discardingRegistry(): MetricsRegistry {
  const registry = createMetricsRegistry({ service: 'bench-worker', processMetrics: false });
  registry.getSingleMetric = (() => noopMetric) as unknown as MetricsRegistry['getSingleMetric'];
  return registry;
}

export function publishedAtOf(correlationId: string | undefined): number {
  return correlationId?.startsWith('t') ? Number(correlationId.slice(1)) : NaN;
}

export function createSwitchyardRole(config: RoleConfig): Role {
  let worker: SubscriberWorker | undefined;
  return {
    addOne() {
      return Promise.reject(
        new Error('the switchyard role only consumes; the http role publishes'),
      );
    },
    addBatch() {
      return Promise.reject(
        new Error('the switchyard role only consumes; the http role publishes'),
      );
    },
    async startConsumer(concurrency, variant, stats: ConsumerStats) {
      const handler = defineHandler({
        subscriber: 'billing',
        event: 'payment.failed',
        concurrency,
        async handle(event, ctx) {
          stats.started(publishedAtOf(event.correlationId));
          if (variant.once) await ctx.once('noop', () => Promise.resolve());
          stats.finished();
        },
      });
      worker = createWorker({
        handlers: [handler],
        connection: config.redisUrl,
        prefix: config.prefix ?? 'sy',
        workerId: `bench-${process.pid}`,
        logger: createLogger({ name: 'bench-worker', level: variant.logs ? 'info' : 'silent' }),
        registry: variant.metrics
          ? createMetricsRegistry({ service: 'bench-worker' })
          : discardingRegistry(),
        concurrency,
      });
      await worker.start();
    },
    async stopConsumer() {
      const current = worker;
      worker = undefined;
      await current?.close(5_000);
    },
    async close() {
      await this.stopConsumer();
    },
  };
}
