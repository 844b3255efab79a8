/**
 * The producer's configuration, read once from the environment by main.ts
 * (`loadEnvOrExit`) and passed down frozen. A missing or bad variable stops
 * the process with a message naming it; values (API keys) are never echoed.
 */
import { z } from 'zod';
import { refineQueuePrefixForCluster } from '@switchyard/client';
import { envFields } from '@switchyard/observability';
import { apiKeyId } from './create-api-key-check.js';

const positiveInt = z.coerce.number().int().positive();

export const producerEnvSchema = z
  .object({
    /** Redis holding the queues and the idempotency ledger. Default redis://127.0.0.1:6379. */
    REDIS_URL: envFields.REDIS_URL,
    /** CA (PEM file) that a rediss:// REDIS_URL must chain to, instead of Node's roots. Default unset. */
    REDIS_TLS_CA_FILE: envFields.REDIS_TLS_CA_FILE,
    /** Address to bind. Default 127.0.0.1. */
    HOST: envFields.HOST,
    /** HTTP port. Default 3000. */
    PRODUCER_PORT: envFields.port(3000),
    /** Ingest keys accepted as `Authorization: Bearer <key>`: comma-separated, each at least 16 characters. Required. */
    API_KEYS: envFields.API_KEYS,
    /**
     * Revoked ingest keys, by id (the first 16 hex digits of the key's
     * SHA-256, never the key), comma-separated: such a key is answered 401
     * `SY_ERR_API_KEY_REVOKED` although it is still in API_KEYS. Every id
     * must be one of API_KEYS' (a typo would revoke nothing). Default none.
     */
    API_KEYS_REVOKED: z
      .string()
      .default('')
      .transform((text, context) => {
        const ids: string[] = [];
        // Entries are named by position, never echoed: one may hold a key pasted by mistake.
        for (const [position, entry] of text.split(',').entries()) {
          if (entry.trim() === '') continue;
          if (!/^[0-9a-f]{16}$/.test(entry.trim())) {
            context.addIssue({
              code: 'custom',
              message: `entry ${position + 1} is not a key id (the first 16 hex digits of the key's SHA-256)`,
            });
            return z.NEVER;
          }
          ids.push(entry.trim());
        }
        return Object.freeze(ids);
      }),
    /** Largest request body accepted, in bytes; more is answered 413. Default 1 MiB; at most 64 MiB. */
    BODY_LIMIT_BYTES: positiveInt.max(64 * 1_048_576).default(1_048_576),
    /** Most events in one batch; more is answered 413. Default 1 000. */
    BATCH_MAX_EVENTS: positiveInt.max(100_000).default(1_000),
    /**
     * Bound on receiving a whole request, headers and body: a client slower
     * than this (a slowloris dribbling its body) is answered 408 and
     * disconnected. 1 MiB in 30 s is ~35 KB/s. Default 30 000; at most 600 000.
     */
    REQUEST_TIMEOUT_MS: positiveInt.max(600_000).default(30_000),
    /**
     * Bound on receiving a request's headers, from the connection's first
     * byte (or the previous request's end on a kept-alive connection);
     * at most REQUEST_TIMEOUT_MS. Default 10 000.
     */
    HEADERS_TIMEOUT_MS: positiveInt.max(600_000).default(10_000),
    /**
     * How long an idle kept-alive connection stays open after an answer.
     * Keep it above the idle timeout of any load balancer in front (often
     * 60 s), or the balancer may reuse a connection this side is closing.
     * Default 72 000; at most 600 000.
     */
    KEEP_ALIVE_TIMEOUT_MS: positiveInt.max(600_000).default(72_000),
    /**
     * A connection with no traffic in either direction for this long is
     * destroyed (socket inactivity; the timeouts above bound requests).
     * 0 = off. Default 120 000; at most 3 600 000.
     */
    CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(120_000),
    /**
     * Most open connections; further ones are closed at once, so idle
     * connections cannot use up file descriptors (keep it below
     * `ulimit -n`). Default 10 000; at most 1 000 000.
     */
    MAX_CONNECTIONS: positiveInt.max(1_000_000).default(10_000),
    /** Idempotency window: how long a key answers 'duplicate'. Default 86 400 (24 h); at most 30 days. */
    IDEMPOTENCY_TTL_SECONDS: positiveInt.max(30 * 86_400).default(86_400),
    /** BullMQ key prefix of the subscriber queues and the ledger (workers must use the same). Default 'sy'. */
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.:{}-]{1,64}$/, 'may hold 1-64 letters, digits and _ . : { } -')
      .default('sy'),
    /** Bound on a graceful shutdown (drain requests, close Redis) before exiting 1. Default 10 000; at most 600 000. */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    /** ioredis commandTimeout: a Redis command unanswered this long fails the request with 503. Default 2 000; at most 60 000. */
    REDIS_COMMAND_TIMEOUT_MS: positiveInt.max(60_000).default(2_000),
    /**
     * Backpressure: most jobs a subscriber queue's backlog (waiting +
     * prioritized + delayed already due) may hold; at it, publishes to that
     * queue answer 429 with Retry-After. Default 100 000.
     */
    BACKLOG_LIMIT: z.coerce.number().int().min(0).default(100_000),
    /** Per-queue limits over BACKLOG_LIMIT: `notifications=5000,billing=100`. Default none. */
    BACKLOG_LIMITS: z
      .string()
      .default('')
      .transform((text, context) => {
        const limits: Record<string, number> = {};
        for (const entry of text.split(',').map((part) => part.trim())) {
          if (entry === '') continue;
          const match = /^([A-Za-z0-9_.-]{1,100})=(\d{1,12})$/.exec(entry);
          if (match === null) {
            context.addIssue({
              code: 'custom',
              message: `"${entry}" is not queue=limit (e.g. billing=100)`,
            });
            return z.NEVER;
          }
          limits[match[1]!] = Number(match[2]);
        }
        return Object.freeze(limits);
      }),
    /** How long a queue's backlog figure is reused, in ms (the limit is approximate by it). Default 250; at most 60 000. */
    BACKLOG_CHECK_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(250),
    /** Retry-After of a 429 for backpressure, in seconds. Default 5; at most 3 600. */
    BACKLOG_RETRY_AFTER_SECONDS: positiveInt.max(3_600).default(5),
    /**
     * Requests per minute each API key may make, counted in Redis across all
     * producer replicas; over it, 429 SY_ERR_RATE_LIMITED with Retry-After.
     * 0 turns the limit off. Default 6 000.
     */
    API_KEY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(100_000_000).default(6_000),
    /**
     * Per-key limits over API_KEY_RATE_LIMIT_PER_MINUTE, by key id (the first
     * 16 hex digits of the key's SHA-256, never the key): `3f9a0c1d2e4b5a69=600`;
     * 0 = unlimited for that key. Every id must be one of API_KEYS'. Default none.
     */
    API_KEY_RATE_LIMITS: z
      .string()
      .default('')
      .transform((text, context) => {
        const limits: Record<string, number> = {};
        // Entries are named by position, never echoed: one may hold a key pasted by mistake.
        for (const [position, entry] of text.split(',').entries()) {
          if (entry.trim() === '') continue;
          const match = /^([0-9a-f]{16})=(\d{1,9})$/.exec(entry.trim());
          if (match === null) {
            context.addIssue({
              code: 'custom',
              message: `entry ${position + 1} is not keyId=limit (a key id is the first 16 hex digits of the key's SHA-256)`,
            });
            return z.NEVER;
          }
          limits[match[1]!] = Number(match[2]);
        }
        return Object.freeze(limits);
      }),
    /** pino level. Default info. */
    LOG_LEVEL: envFields.LOG_LEVEL,
  })
  .superRefine(refineQueuePrefixForCluster)
  .superRefine((config, context) => {
    // Node refuses a headers timeout over the request timeout.
    if (config.HEADERS_TIMEOUT_MS > config.REQUEST_TIMEOUT_MS) {
      context.addIssue({
        code: 'custom',
        path: ['HEADERS_TIMEOUT_MS'],
        message: `must be at most REQUEST_TIMEOUT_MS (${config.REQUEST_TIMEOUT_MS})`,
      });
    }
    // An id that matches no configured key is a typo that would silently not apply.
    const ids = new Set(config.API_KEYS.map(apiKeyId));
    const unknown = Object.keys(config.API_KEY_RATE_LIMITS).filter((id) => !ids.has(id));
    if (unknown.length > 0) {
      context.addIssue({
        code: 'custom',
        path: ['API_KEY_RATE_LIMITS'],
        message: `${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not the id of any key in API_KEYS`,
      });
    }
    const unknownRevoked = config.API_KEYS_REVOKED.filter((id) => !ids.has(id));
    if (unknownRevoked.length > 0) {
      context.addIssue({
        code: 'custom',
        path: ['API_KEYS_REVOKED'],
        message: `${unknownRevoked.join(', ')} ${unknownRevoked.length === 1 ? 'is' : 'are'} not the id of any key in API_KEYS (it would revoke nothing)`,
      });
    }
  });

export type ProducerConfig = Readonly<z.infer<typeof producerEnvSchema>>;
