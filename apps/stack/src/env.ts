/**
 * The stack's configuration, read once from the environment. Variables shared
 * with the apps keep the names in DESIGN.md ("Environment") and, where an app
 * reads them too, observability's schemas (`envFields`), so the stack never
 * accepts a value an app would refuse; the STACK_* ones only tune the
 * supervisor. An empty value counts as unset, as shells and compose files
 * often leave them.
 */
import { isAbsolute } from 'node:path';
import { envFields, parseEnv } from '@switchyard/observability';
import { z } from 'zod';

// Not envFields.port: 0 ("any free port") would leave the stack unable to
// tell the user, or its readiness probes, where a child listens.
const port = (fallback: number) => z.coerce.number().int().min(1).max(65_535).default(fallback);
const millis = (fallback: number) =>
  z.coerce.number().int().min(0).max(3_600_000).default(fallback);

export const stackEnvSchema = z.object({
  /**
   * Redis for every app. Default: unset, which means "a Redis answering PING on
   * 127.0.0.1:STACK_REDIS_PORT, else a redis-server the stack starts there".
   * When set it is used as is: the stack neither probes nor starts anything.
   * A cluster URL also needs a hash-tagged QUEUE_PREFIX, which the apps check.
   */
  REDIS_URL: z
    .string()
    .regex(
      /^rediss?(\+(cluster|sentinel))?:\/\/\S+$/i,
      'must be a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL (see docs/operations.md)',
    )
    .optional(),
  /** Port probed for an existing Redis, and used by a started one. Default 6379. */
  STACK_REDIS_PORT: port(6379),
  /** Producer HTTP port. Default 3000. */
  PRODUCER_PORT: port(3000),
  /** Dashboard HTTP port (only when apps/dashboard is built). Default 3001. */
  DASHBOARD_PORT: port(3001),
  /** Sandbox HTTP port; workers get SANDBOX_URL pointing at it. Default 3002. */
  SANDBOX_PORT: port(3002),
  /**
   * Health port of worker app `i` (0-based, apps/worker-* in name order),
   * replica `r` (1-based) is WORKER_HEALTH_PORT_BASE + 100 * i + (r - 1).
   * Default 3100, so worker-billing-1 serves on 3100, worker-billing-2 on 3101,
   * the next worker app on 3200, ...
   */
  WORKER_HEALTH_PORT_BASE: port(3100),
  /** Processes per worker app. Default 2 (1 in dev mode, see parseStackEnv); 1 to 32. */
  WORKER_REPLICAS: z.coerce.number().int().min(1).max(32).default(2),
  /**
   * Comma-separated ingest keys for the producer, checked with the producer's
   * own schema (1 to 100 keys of 16 to 256 visible characters), so a key it
   * would refuse stops `npm start` at once instead of crash-looping the
   * producer. Default: one generated and printed.
   */
  API_KEYS: envFields.API_KEYS.optional(),
  /** Dashboard login. Default `admin`. */
  DASHBOARD_USER: z.string().min(1).default('admin'),
  /** Dashboard password (8-1024 characters, as the dashboard requires). Default: one generated and printed. */
  DASHBOARD_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(1024).optional(),
  /** Passed to every child. Default `info`. */
  LOG_LEVEL: envFields.LOG_LEVEL,
  /** How long children get to exit after SIGTERM before SIGKILL. Default 15000. */
  STACK_SHUTDOWN_TIMEOUT_MS: millis(15_000),
  /** How long to wait for every child's /readyz before printing the summary anyway. Default 30000. */
  STACK_READY_TIMEOUT_MS: millis(30_000),
  /** First restart delay of a crashed child; doubles per consecutive crash. Default 500. */
  STACK_RESTART_DELAY_MS: millis(500),
  /** Ceiling of the restart delay. Default 30000. */
  STACK_RESTART_MAX_DELAY_MS: millis(30_000),
  /** A child up this long before it exits starts again at STACK_RESTART_DELAY_MS. Default 60000. */
  STACK_RESTART_RESET_AFTER_MS: millis(60_000),
  /**
   * Repository root: where apps/ and .data/ are. Default: two levels above
   * this app (derived from main.js), which is right unless a test points the
   * stack at a fake repository.
   */
  STACK_ROOT: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
});

export type StackEnv = Readonly<z.infer<typeof stackEnvSchema>>;

/**
 * `start` runs the built apps (`pnpm start`); `dev` runs them from source in
 * watch mode (`pnpm dev`), where one replica per worker app is the default:
 * a reload restarts fewer processes and the logs stay readable.
 */
export type StackMode = 'start' | 'dev';

/** The same variables with dev mode's defaults. */
const devStackEnvSchema = stackEnvSchema.extend({
  WORKER_REPLICAS: z.coerce.number().int().min(1).max(32).default(1),
});

/** Parses the stack's variables; throws observability's ConfigError naming every bad one. */
export function parseStackEnv(
  env: Readonly<Record<string, string | undefined>>,
  mode: StackMode = 'start',
): StackEnv {
  return parseEnv(mode === 'dev' ? devStackEnvSchema : stackEnvSchema, { ...env });
}
