/**
 * The environment every worker app reads, parsed once at start. Names and
 * defaults are part of each worker app's README.
 */
import { refineQueuePrefixForCluster } from '@switchyard/client';
import { envFields } from '@switchyard/observability';
import { z } from 'zod';

/**
 * The schema for app `name`; `WORKER_ID` defaults to `<name>-<pid>`, unique
 * among replicas on one machine.
 */
export function workerEnvSchema(name: string) {
  return (
    z
      .object({
        /** Redis holding the queues. Default: redis://127.0.0.1:6379. */
        REDIS_URL: envFields.REDIS_URL,
        /** CA (PEM file) that a rediss:// REDIS_URL must chain to, instead of Node's roots. Default: unset. */
        REDIS_TLS_CA_FILE: envFields.REDIS_TLS_CA_FILE,
        /** Address the health server binds. Default: 127.0.0.1. */
        HOST: envFields.HOST,
        /** Port of /healthz, /readyz, /metrics; 0 picks a free one. One per replica. Default: 3100. */
        HEALTH_PORT: envFields.port(3100),
        /** Base URL of the downstream stand-in (apps/sandbox). Default: http://127.0.0.1:3002. */
        SANDBOX_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3002'),
        /** Names this replica on jobs and log lines. Default: `<name>-<pid>`. */
        WORKER_ID: z
          .string()
          .max(100)
          .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII without spaces')
          .default(`${name}-${process.pid}`),
        /** Jobs this replica runs at once. Default: 10. */
        WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(10),
        /** BullMQ key prefix; must match the producer's. Default: sy. */
        QUEUE_PREFIX: z
          .string()
          .max(50)
          .regex(/^[A-Za-z0-9_.:{}-]+$/, 'may hold letters, digits and _ . : { } -')
          .default('sy'),
        /** How long a shutdown waits for in-flight jobs before it aborts them. Default: 10000. */
        SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
        /**
         * Start even when Redis's maxmemory-policy is not noeviction (it may
         * evict jobs). `true`/`false` (also 1/0, yes/no, on/off). Default: false.
         */
        ALLOW_EVICTION_POLICY: z.stringbool().default(false),
        /** BullMQ lockDuration: a job whose lock is not renewed for this long is stalled. Default: 30000. */
        LOCK_DURATION_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
        /** BullMQ stalledInterval: how often this worker looks for stalled jobs. Default: 30000. */
        STALLED_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
        /**
         * How often a job may stall (its worker died) and be redelivered; the
         * next worker to take it after that dead-letters it (reason stalled).
         * Default: 1.
         */
        MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(100).default(1),
        /**
         * How long start may take (Redis unreachable) before the app exits 1.
         * Default: 30000.
         */
        STARTUP_TIMEOUT_MS: z.coerce.number().int().min(1).max(600_000).default(30_000),
        /**
         * Queue-wide rate limit (docs/flow-control.md): at most RATE_LIMIT_MAX
         * jobs of this subscriber start per RATE_LIMIT_DURATION_MS, across every
         * replica (1..999999999). Unset: no rate limit. Written at start unless
         * an operator set the limits at runtime (`sy limits set`).
         */
        RATE_LIMIT_MAX: z.coerce.number().int().min(1).max(999_999_999).optional(),
        /** The rate limit's window, in ms (1..3600000). Default: 1000. Ignored without RATE_LIMIT_MAX. */
        RATE_LIMIT_DURATION_MS: z.coerce.number().int().min(1).max(3_600_000).optional(),
        /**
         * Most jobs of this subscriber active at once across every replica
         * (1..1000000). Unset: only WORKER_CONCURRENCY per replica bounds it.
         */
        GLOBAL_CONCURRENCY: z.coerce.number().int().min(1).max(1_000_000).optional(),
        /**
         * Circuit breaker of each downstream client (circuit-breaker.ts): opens
         * when more than BREAKER_ERROR_PERCENT % of the calls in the last
         * BREAKER_WINDOW_MS failed with an outage (5xx, timeout, network), once
         * the window holds BREAKER_VOLUME_THRESHOLD calls; probes again after
         * BREAKER_RESET_MS. Unset: the breaker's defaults, 50, 5, 10000, 10000
         * (circuit-breaker.ts).
         */
        BREAKER_ERROR_PERCENT: z.coerce.number().int().min(1).max(100).optional(),
        BREAKER_VOLUME_THRESHOLD: z.coerce.number().int().min(0).max(1_000_000).optional(),
        BREAKER_WINDOW_MS: z.coerce.number().int().min(100).max(3_600_000).optional(),
        BREAKER_RESET_MS: z.coerce.number().int().min(100).max(3_600_000).optional(),
        /**
         * Per-tenant limits (tenant-limiter.ts), the defaults of every tenant
         * without an override in Redis (`sy limits set --tenant`). Setting any
         * of the three turns the gate on, overrides included; 0 = no default
         * limit of that kind. Unset: no per-tenant limits, no Redis call.
         * TENANT_RATE_PER_SECOND: jobs one tenant may start per second (0 or 0.001..1000000).
         */
        TENANT_RATE_PER_SECOND: z.coerce
          .number()
          .min(0)
          .max(1_000_000)
          .refine((n) => n === 0 || n >= 0.001, 'must be 0 or at least 0.001')
          .optional(),
        /** Jobs one tenant may start at once after being idle. Default with a rate: max(1, ceil(rate)). */
        TENANT_BURST: z.coerce.number().int().min(0).max(1_000_000).optional(),
        /** Jobs of one tenant running at once across every replica. */
        TENANT_CONCURRENCY: z.coerce.number().int().min(0).max(1_000_000).optional(),
        /** pino level. Default: info. */
        LOG_LEVEL: envFields.LOG_LEVEL,
      })
      // A cluster URL needs a hash-tagged QUEUE_PREFIX (docs/operations.md).
      .superRefine(refineQueuePrefixForCluster)
  );
}

export type WorkerEnv = Readonly<z.infer<ReturnType<typeof workerEnvSchema>>>;
