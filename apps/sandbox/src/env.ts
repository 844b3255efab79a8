/**
 * The sandbox's configuration, read once from the environment at start,
 * with observability's parseEnv (empty values count as unset; a bad value is
 * a ConfigError naming the variable) and its shared HOST and LOG_LEVEL.
 *
 * | variable       | default   | meaning                         |
 * |----------------|-----------|---------------------------------|
 * | `SANDBOX_PORT` | 3002      | TCP port (0 picks a free one)   |
 * | `HOST`         | 127.0.0.1 | interface to listen on          |
 * | `LOG_LEVEL`    | info      | pino level, or `silent`         |
 */
import { envFields, loadEnvOrExit, parseEnv } from '@switchyard/observability';
import { z } from 'zod';

export const sandboxEnvSchema = z.object({
  // Stricter than envFields.port, which coerces (' 1', '1e3' and '0x10' would pass).
  SANDBOX_PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number (0-65535)')
    .transform(Number)
    .pipe(z.int().max(65_535, 'must be a port number (0-65535)'))
    .default(3002),
  HOST: envFields.HOST,
  LOG_LEVEL: envFields.LOG_LEVEL,
});

export type SandboxEnv = Readonly<z.infer<typeof sandboxEnvSchema>>;

/** Parses `env`; throws observability's ConfigError naming each bad variable. */
export function parseSandboxEnv(env: Record<string, string | undefined>): SandboxEnv {
  return parseEnv(sandboxEnvSchema, env);
}

/** parseSandboxEnv(process.env) for `main`: on a bad value, prints it and exits 1. */
export function loadSandboxEnv(): SandboxEnv {
  return loadEnvOrExit(sandboxEnvSchema, process.env);
}
