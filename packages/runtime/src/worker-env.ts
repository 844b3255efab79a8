/**
 * The environment every worker app reads, parsed once at start. Names and
 * defaults are part of each worker app's README.
 */
import { envFields } from '@switchyard/observability';
import { z } from 'zod';

/**
 * The schema for app `name`; `WORKER_ID` defaults to `<name>-<pid>`, unique
 * among replicas on one machine.
 */
export function workerEnvSchema(name: string) {
  return z.object({
    /** Redis holding the queues. Default: redis://127.0.0.1:6379. */
    REDIS_URL: envFields.REDIS_URL,
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
    /** pino level. Default: info. */
    LOG_LEVEL: envFields.LOG_LEVEL,
  });
}

export type WorkerEnv = Readonly<z.infer<ReturnType<typeof workerEnvSchema>>>;
