/**
 * The sandbox's configuration, read once from the environment at start.
 *
 * | variable       | default   | meaning                         |
 * |----------------|-----------|---------------------------------|
 * | `SANDBOX_PORT` | 3002      | TCP port (0 picks a free one)   |
 * | `HOST`         | 127.0.0.1 | interface to listen on          |
 * | `LOG_LEVEL`    | info      | pino level, or `silent`         |
 */
import { z } from 'zod';
import { ConfigError } from './errors.js';

const envSchema = z.object({
  SANDBOX_PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number (0-65535)')
    .transform(Number)
    .pipe(z.int().max(65_535, 'must be a port number (0-65535)'))
    .default(3002),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type SandboxEnv = Readonly<z.infer<typeof envSchema>>;

/** Parses `env` (empty strings count as unset); throws ConfigError naming each bad variable. */
export function parseEnv(env: Record<string, string | undefined>): SandboxEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = envSchema.safeParse(cleaned);
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

/** parseEnv(process.env) for `main`: on a bad value, prints it and exits 1. */
export function loadEnv(): SandboxEnv {
  try {
    return parseEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sandbox: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
