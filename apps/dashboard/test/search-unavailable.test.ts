/**
 * The search page while Redis does not answer: 503 with a generic message;
 * the Redis error itself (which may name hosts, ports or keys) goes to the
 * log only. Real Redis, stopped under the server; server in process.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, parseEnv } from '@switchyard/observability';
import { randomPrefix, startRedis, waitReady, type RedisHandle } from '@switchyard/testkit';
import { buildServer, type DashboardServer } from '../src/build-server.js';
import { createRedisConnection } from '@switchyard/client';
import { dashboardEnvSchema } from '../src/env.js';
import { basic, dashboardEnv, viewer } from './support/dashboard-fixture.js';

let redisServer: RedisHandle | undefined;
let app: DashboardServer;
let redis: ReturnType<typeof createRedisConnection>;
let port: string;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  redisServer = await startRedis();
  port = new URL(redisServer.url).port;
  const config = parseEnv(dashboardEnvSchema, await dashboardEnv(redisServer.url, randomPrefix()));
  redis = createRedisConnection({
    url: redisServer.url,
    profile: 'fail-fast',
    commandTimeoutMs: 1_000,
  });
  await waitReady(redis);
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  app = buildServer({
    config,
    redis,
    logger: createLogger({ name: 'dashboard', level: 'warn', destination }),
  });
  await app.ready();
  await redisServer.stop();
  redisServer = undefined;
});

afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  await redisServer?.stop();
});

describe('the search page while Redis does not answer', () => {
  it('answers 503 with a generic message, and logs the Redis error', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/search?q=evt-1',
      headers: { authorization: basic(viewer.user, viewer.password) },
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toContain(
      'Search failed: the job index could not be read (Redis did not answer); try again shortly',
    );
    const logged = logLines.find((line) => line.msg === 'search failed');
    expect(logged, JSON.stringify(logLines)).toBeDefined();
    const errorText = String((logged!.err as { message?: string }).message);
    expect(errorText.length).toBeGreaterThan(0);
    expect(response.body).not.toContain(errorText);
    expect(response.body).not.toContain(port);
  });
});
