import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  createLogger,
  createMetricsRegistry,
  envFields,
  parseEnv,
  startHealthServer,
  withCorrelation,
  type HealthServer,
} from '../src/index.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('redacts e-mail addresses and secrets at the usual depths', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'test', destination });
    logger.info(
      {
        email: 'a@example.com',
        event: { data: { email: 'b@example.com', userId: 'u_1' } },
        req: { headers: { authorization: 'Bearer secret-key' } },
        user: { password: 'hunter2' },
      },
      'hello',
    );
    const text = JSON.stringify(lines);
    expect(text).not.toContain('example.com');
    expect(text).not.toContain('secret-key');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('u_1');
  });

  it('adds the correlation context to every line inside withCorrelation', async () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'test', destination });
    await withCorrelation({ correlationId: 'c-1', eventId: 'e-1' }, async () => {
      await Promise.resolve();
      withCorrelation({ subscriber: 'billing', attempt: 2 }, () => logger.info('inner'));
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({
      correlationId: 'c-1',
      eventId: 'e-1',
      subscriber: 'billing',
      attempt: 2,
      service: 'test',
    });
    expect(lines[1]).not.toHaveProperty('correlationId');
  });

  it("lets a line's own fields win without writing them into the correlation context", () => {
    // The mixin hands pino the context object itself (no copy per line), so
    // the merge must build a new object: were it pino's default (assign the
    // call's fields into the mixin's object), `jobId` and the overriding
    // `eventId` would stick to every later line of the context.
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'test', destination });
    withCorrelation({ correlationId: 'c-2', eventId: 'e-2' }, () => {
      logger.info({ eventId: 'e-override', jobId: 'j-1' }, 'first');
      logger.info('second');
    });
    expect(lines[0]).toMatchObject({ correlationId: 'c-2', eventId: 'e-override', jobId: 'j-1' });
    expect(lines[1]).toMatchObject({ correlationId: 'c-2', eventId: 'e-2' });
    expect(lines[1]).not.toHaveProperty('jobId');
  });
});

describe('parseEnv', () => {
  const schema = z.object({
    REDIS_URL: envFields.REDIS_URL,
    PORT: envFields.port(3000),
    KEYS: z.string().min(1),
  });

  it('applies defaults and freezes the result', () => {
    const config = parseEnv(schema, { KEYS: 'k', PORT: '' });
    expect(config).toEqual({ REDIS_URL: 'redis://127.0.0.1:6379', PORT: 3000, KEYS: 'k' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('accepts plain, cluster and Sentinel Redis URLs', () => {
    for (const url of [
      'redis://h:6379',
      'rediss://:pw@h:6380/1',
      'redis+cluster://a:7000,b:7001',
      'rediss+cluster://u:pw@a:7000',
      'redis+sentinel://s1:26379,s2:26379/mymaster',
      'rediss+sentinel://s1/mymaster',
    ]) {
      expect(parseEnv(schema, { REDIS_URL: url, KEYS: 'k' }).REDIS_URL).toBe(url);
    }
  });

  it('names every bad variable', () => {
    let error: unknown;
    try {
      parseEnv(schema, { REDIS_URL: 'http://x', PORT: '70000' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('PORT');
    expect(message).toContain('KEYS');
  });
});

describe('startHealthServer', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers liveness, readiness and metrics', async () => {
    let ready = false;
    const registry = createMetricsRegistry({ service: 'test' });
    server = await startHealthServer({ port: 0, registry, isReady: () => ready });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(await metrics.text()).toContain('process_cpu_user_seconds_total{service="test"}');
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('reports not ready when the check throws', async () => {
    const registry = createMetricsRegistry({ service: 'test', processMetrics: false });
    server = await startHealthServer({
      port: 0,
      registry,
      isReady: () => Promise.reject(new Error('redis down')),
    });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });
});
