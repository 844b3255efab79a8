/**
 * Connection settings, read once: flags win over the environment. Each value
 * is zod-checked; a bad one is a UsageError naming the flag or variable.
 */
import {
  RedisUrlError,
  parseRedisUrl,
  redisTopologyOf,
  queuePrefixClusterProblem,
  redactRedisUrl,
} from '@switchyard/client';
import { z } from 'zod';
import { UsageError } from './errors.js';

/** Default Redis when neither --redis nor REDIS_URL is given. */
export const defaultRedisUrl = 'redis://127.0.0.1:6379';
/** Default BullMQ key prefix when neither --prefix nor QUEUE_PREFIX is given. */
export const defaultQueuePrefix = 'sy';

const redisUrl = z
  .string()
  .max(2048)
  .superRefine((url, context) => {
    if (redisTopologyOf(url) === undefined) {
      context.addIssue({
        code: 'custom',
        message: 'must be a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL',
      });
      return;
    }
    try {
      parseRedisUrl(url);
    } catch (error) {
      context.addIssue({
        code: 'custom',
        message:
          error instanceof RedisUrlError
            ? `is not usable: ${error.message.replace(/^REDIS_URL:? /, '')}`
            : 'is not a Redis URL',
      });
    }
  });
// BullMQ joins keys with ':'; a prefix with ':' or spaces would read other keys.
const queuePrefix = z
  .string()
  .regex(/^[A-Za-z0-9_.{}-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _ . - { }');

export interface CliConfig {
  /** Redis of the subscriber queues. */
  redisUrl: string;
  /** Which setting `redisUrl` came from, for error messages: '--redis' or 'REDIS_URL'. */
  redisUrlSource: '--redis' | 'REDIS_URL';
  /** BullMQ key prefix of the subscriber queues and DLQs. */
  prefix: string;
}

export interface ConfigInput {
  env: Readonly<Record<string, string | undefined>>;
  redisFlag: string | undefined;
  prefixFlag: string | undefined;
}

function check<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const shown = typeof value === 'string' ? JSON.stringify(redactUrl(value)) : String(value);
    throw new UsageError(`${name} ${shown} ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
  }
  return parsed.data;
}

export function readConfig({ env, redisFlag, prefixFlag }: ConfigInput): Readonly<CliConfig> {
  const envUrl = env.REDIS_URL === '' ? undefined : env.REDIS_URL;
  const envPrefix = env.QUEUE_PREFIX === '' ? undefined : env.QUEUE_PREFIX;
  const redisUrlSource = redisFlag === undefined ? 'REDIS_URL' : '--redis';
  const prefixSource = prefixFlag === undefined ? 'QUEUE_PREFIX' : '--prefix';
  const config: CliConfig = {
    redisUrl: check(redisUrl, redisFlag ?? envUrl ?? defaultRedisUrl, redisUrlSource),
    redisUrlSource,
    prefix: check(queuePrefix, prefixFlag ?? envPrefix ?? defaultQueuePrefix, prefixSource),
  };
  // The same refusal as the apps' (a cluster needs a hash-tagged prefix), in the CLI's terms.
  const problem = queuePrefixClusterProblem(config.redisUrl, config.prefix, {
    prefix: prefixSource,
    url: redisUrlSource,
  });
  if (problem !== undefined) throw new UsageError(`${prefixSource} ${problem}`);
  return Object.freeze(config);
}

/** The URL with its passwords replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  return redactRedisUrl(url).replace(/\/$/, '');
}
