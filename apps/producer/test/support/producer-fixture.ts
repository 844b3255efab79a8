/**
 * A producer built with buildServer on a suite's own redis-server: a random
 * queue prefix per test, logs captured through an injected destination, and
 * helpers to see what reached Redis.
 */
import { Redis } from 'ioredis';
import type { LightMyRequestResponse } from 'fastify';
import { queueNameOf, subscriberNames } from '@switchyard/events';
import { createLogger, createMetricsRegistry, parseEnv } from '@switchyard/observability';
import { randomPrefix, unlinkPrefix, waitReady, type RedisHandle } from '@switchyard/testkit';
import { buildServer, type ProducerServer } from '../../src/build-server.js';
import { createRedisConnection, type RedisConnection } from '@switchyard/client';
import { producerEnvSchema } from '../../src/env.js';

export {
  paymentFailedRequest as paymentFailed,
  signedUpRequest as signedUp,
} from '@switchyard/testkit';

export const apiKey = 'test-key-0123456789abcdef';
export const secondApiKey = 'second-key-9876543210fedcba';

export interface RequestSpec {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  /** Sent as JSON unless it is a string or Buffer (sent as is). */
  body?: unknown;
  /** API key for `Authorization: Bearer`; null sends no header. Default: the configured key. */
  auth?: string | null;
  headers?: Record<string, string | string[]>;
}

export interface ProducerFixture {
  app: ProducerServer;
  prefix: string;
  admin: Redis;
  redis: RedisConnection;
  state: { draining: boolean };
  request(spec: RequestSpec): Promise<LightMyRequestResponse>;
  /** Jobs waiting in each subscriber queue (nothing consumes them in these tests). */
  enqueued(): Promise<Record<string, number>>;
  /**
   * Every key under the test's prefix (jobs, queue metadata, idempotency
   * records) except the API keys' rate-limit counters, which every
   * authenticated request may write.
   */
  keys(): Promise<string[]>;
  /** The API keys' rate-limit counters under the test's prefix. */
  rateLimitKeys(): Promise<string[]>;
  /** The log lines written so far, parsed. */
  logs(): Record<string, unknown>[];
  /** The raw log output, for "never appears" assertions. */
  rawLogs(): string;
  close(): Promise<void>;
}

export async function openProducer(
  server: RedisHandle,
  env: Record<string, string> = {},
): Promise<ProducerFixture> {
  // A QUEUE_PREFIX in `env` shares another fixture's keys (two replicas).
  const prefix = env.QUEUE_PREFIX ?? randomPrefix();
  const config = parseEnv(producerEnvSchema, {
    REDIS_URL: server.url,
    API_KEYS: `${apiKey},${secondApiKey}`,
    QUEUE_PREFIX: prefix,
    BODY_LIMIT_BYTES: '65536',
    BATCH_MAX_EVENTS: '5',
    REDIS_COMMAND_TIMEOUT_MS: '1000',
    ...env,
  });
  const lines: string[] = [];
  const logger = createLogger({
    name: 'producer',
    level: 'info',
    destination: { write: (line: string) => void lines.push(line) },
  });
  const registry = createMetricsRegistry({ service: 'producer', processMetrics: false });
  const redis = createRedisConnection({
    url: server.url,
    profile: 'fail-fast',
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
  });
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  await Promise.all([waitReady(redis), waitReady(admin)]);
  const state = { draining: false };
  const app = buildServer({
    config,
    redis,
    logger,
    registry,
    draining: () => state.draining,
    readinessTimeoutMs: 500,
  });
  await app.ready();

  return {
    app,
    prefix,
    admin,
    redis,
    state,
    request({ method = 'POST', url, body, auth = apiKey, headers = {} }) {
      const raw = typeof body === 'string' || Buffer.isBuffer(body);
      return app.inject({
        method,
        url,
        headers: {
          ...(body === undefined || raw ? {} : { 'content-type': 'application/json' }),
          ...(auth === null ? {} : { authorization: `Bearer ${auth}` }),
          ...headers,
        },
        ...(body === undefined ? {} : { payload: raw ? body : JSON.stringify(body) }),
      });
    },
    async enqueued() {
      const counts: Record<string, number> = {};
      for (const subscriber of subscriberNames) {
        const queue = queueNameOf(subscriber);
        counts[queue] = await admin.llen(`${prefix}:${queue}:wait`);
      }
      return counts;
    },
    keys: async () =>
      (await admin.keys(`${prefix}:*`)).filter((key) => !key.startsWith(`${prefix}:ratelimit:`)),
    rateLimitKeys: () => admin.keys(`${prefix}:ratelimit:*`),
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    rawLogs: () => lines.join(''),
    async close() {
      await app.close();
      redis.disconnect();
      // The outage tests killed the server: nothing is left to clean then.
      await unlinkPrefix(admin, prefix);
      admin.disconnect();
    },
  };
}
