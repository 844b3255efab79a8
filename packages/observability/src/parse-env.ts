/**
 * Config is read once, at the edge: each app's `env.ts` hands its zod schema
 * and `process.env` to `parseEnv`, and gets back a frozen, typed config or a
 * ConfigError that names every bad variable.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'SY_ERR_CONFIG';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined>,
): Readonly<z.infer<S>> {
  // Empty strings count as unset, as shells and compose files often leave them.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: issue.path.map(String).join('.') || '(environment)',
        message: issue.message,
      })),
    );
  }
  return Object.freeze(result.data);
}

/** Like parseEnv, but prints the problem and exits 1: for `main.ts`. */
export function loadEnvOrExit<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<S>> {
  try {
    return parseEnv(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Shared variable schemas, so every app reads them the same way. */
export const envFields = {
  /**
   * redis:// or rediss:// (one Redis), redis+cluster:// or rediss+cluster://
   * (Redis Cluster: `host:port,host:port`), redis+sentinel:// or
   * rediss+sentinel:// (`host:port,host:port/<masterName>`); parsed by
   * @switchyard/client's createRedisConnection. A cluster also needs a
   * hash-tagged QUEUE_PREFIX (queuePrefixClusterProblem).
   */
  REDIS_URL: z
    .string()
    .regex(
      /^rediss?(\+(cluster|sentinel))?:\/\//i,
      'must be a redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel:// URL',
    )
    .default('redis://127.0.0.1:6379'),
  /**
   * A PEM file with the CA certificate(s) that rediss:// connections trust
   * instead of Node's default roots (a private CA, a self-signed server).
   * Read and checked at start: a missing, unreadable or non-PEM file stops
   * the app naming this variable. Parsed to the file's text. Default: unset.
   */
  REDIS_TLS_CA_FILE: z
    .string()
    .optional()
    .transform((path, context) => {
      if (path === undefined) return undefined;
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (error) {
        context.addIssue({
          code: 'custom',
          message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        });
        return z.NEVER;
      }
      if (!text.includes('-----BEGIN CERTIFICATE-----')) {
        context.addIssue({ code: 'custom', message: `${path} holds no PEM certificate` });
        return z.NEVER;
      }
      return text;
    }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().min(1).default('127.0.0.1'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  /**
   * Ingest keys, comma-separated; each 16 to 256 visible characters. The
   * producer requires them; `pnpm start` validates them the same way before
   * handing them over, so a key one accepts the other never refuses.
   */
  API_KEYS: z
    .string({
      error: 'is required: a comma-separated list of API keys, each at least 16 characters',
    })
    .transform((value) =>
      value
        .split(',')
        .map((key) => key.trim())
        .filter((key) => key !== ''),
    )
    .pipe(
      z
        .array(
          z
            .string()
            .min(16, 'every key must be at least 16 characters')
            .max(256, 'every key must be at most 256 characters')
            .regex(/^[\x21-\x7e]+$/, 'keys are visible ASCII without spaces'),
        )
        .min(1, 'needs at least one key')
        .max(100, 'at most 100 keys'),
    ),
};
