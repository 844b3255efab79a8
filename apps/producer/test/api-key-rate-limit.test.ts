/**
 * Requests per minute per API key, counted in Redis: over the limit the
 * producer answers 429 SY_ERR_RATE_LIMITED with Retry-After (the seconds
 * left in the key's window) and does nothing else; the count is shared by
 * every replica on the same Redis and prefix; Redis only ever sees the key's
 * id, never the key.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '@switchyard/observability';
import { startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import { apiKeyId } from '../src/create-api-key-check.js';
import { producerEnvSchema } from '../src/env.js';
import {
  apiKey,
  openProducer,
  paymentFailed,
  secondApiKey,
  signedUp,
  type ProducerFixture,
} from './support/producer-fixture.js';

let server: RedisHandle;
let fixtures: ProducerFixture[] = [];

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await Promise.all(fixtures.map((fx) => fx.close()));
  fixtures = [];
});

async function open(env: Record<string, string> = {}): Promise<ProducerFixture> {
  const fx = await openProducer(server, env);
  fixtures.push(fx);
  return fx;
}

/** Jobs in every state of every subscriber queue. */
async function jobCount(fx: ProducerFixture): Promise<number> {
  const keys = await fx.admin.keys(`${fx.prefix}:*`);
  // One hash per job: <prefix>:<queue>:<uuid>.
  return keys.filter((key) => /:[0-9a-f]{8}-[0-9a-f-]{27}$/.test(key)).length;
}

const limitOf3 = { API_KEY_RATE_LIMIT_PER_MINUTE: '3' };

describe('API key rate limit', () => {
  describe('when a key makes more requests than its limit in a minute', () => {
    it('answers 429 SY_ERR_RATE_LIMITED with Retry-After to the window’s end, and enqueues nothing', async () => {
      const fx = await open(limitOf3);
      for (const user of ['u_1', 'u_2', 'u_3']) {
        expect((await fx.request({ url: '/v1/events', body: signedUp(user) })).statusCode).toBe(
          202,
        );
      }
      const before = await jobCount(fx);

      const refused = await fx.request({ url: '/v1/events', body: signedUp('u_4') });

      expect(refused.statusCode).toBe(429);
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const [counter] = await fx.rateLimitKeys();
      expect(retryAfter).toBe(Math.ceil((await fx.admin.pttl(counter!)) / 1_000));
      expect(refused.json()).toEqual({
        error: {
          code: 'SY_ERR_RATE_LIMITED',
          message: expect.stringContaining('3 requests per 60 s') as string,
          details: { limit: 3, windowSeconds: 60, retryAfterSeconds: retryAfter },
        },
      });
      expect(await jobCount(fx)).toBe(before);
      expect((await fx.enqueued()).notifications).toBe(3);
      expect((await fx.keys()).filter((key) => key.includes(':idempotency:'))).toHaveLength(3);
    });

    it('refuses a batch as a whole, counting it as one request', async () => {
      const fx = await open(limitOf3);
      const batch = [signedUp('u_1'), paymentFailed('in_1'), signedUp('u_2')];
      expect((await fx.request({ url: '/v1/events/batch', body: batch })).statusCode).toBe(202);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_3') })).statusCode).toBe(202);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_4') })).statusCode).toBe(202);
      const before = await jobCount(fx);

      const refused = await fx.request({ url: '/v1/events/batch', body: [signedUp('u_5')] });

      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ error: { code: 'SY_ERR_RATE_LIMITED' } });
      expect(await jobCount(fx)).toBe(before);
    });

    it('accepts again once the window ends', async () => {
      const fx = await open({ API_KEY_RATE_LIMIT_PER_MINUTE: '1' });
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_1') })).statusCode).toBe(202);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_2') })).statusCode).toBe(429);
      // Refusals are not counted, so they do not push the window's end back.
      const [counter] = await fx.rateLimitKeys();
      expect(await fx.admin.get(counter!)).toBe('1');

      // End the window now instead of waiting a minute.
      await fx.admin.pexpire(counter!, 1);
      await waitFor(async () => (await fx.admin.exists(counter!)) === 0, { timeoutMs: 2_000 });

      expect((await fx.request({ url: '/v1/events', body: signedUp('u_2') })).statusCode).toBe(202);
    });

    it('counts it in sy_rate_limited_requests_total', async () => {
      const fx = await open({ API_KEY_RATE_LIMIT_PER_MINUTE: '1' });
      await fx.request({ url: '/v1/events', body: signedUp('u_1') });
      await fx.request({ url: '/v1/events', body: signedUp('u_2') });
      await fx.request({ url: '/v1/events', body: signedUp('u_3') });

      const text = (await fx.request({ method: 'GET', url: '/metrics', auth: null })).body;

      expect(text).toMatch(/^sy_rate_limited_requests_total\{service="producer"\} 2$/m);
    });
  });

  describe('what is counted, and where', () => {
    it('shares one count between replicas on the same Redis', async () => {
      const first = await open(limitOf3);
      const second = await open({ ...limitOf3, QUEUE_PREFIX: first.prefix });

      const statuses = [];
      for (const [index, fx] of [first, second, first, second].entries()) {
        statuses.push(
          (await fx.request({ url: '/v1/events', body: signedUp(`u_${index}`) })).statusCode,
        );
      }

      expect(statuses).toEqual([202, 202, 202, 429]);
    });

    it('counts each key on its own', async () => {
      const fx = await open({ API_KEY_RATE_LIMIT_PER_MINUTE: '1' });
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_1') })).statusCode).toBe(202);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_2') })).statusCode).toBe(429);

      const other = await fx.request({
        url: '/v1/events',
        body: signedUp('u_2'),
        auth: secondApiKey,
      });

      expect(other.statusCode).toBe(202);
    });

    it('keys Redis by the key’s id (sha256, 16 hex digits), never by the key, and expires it with the window', async () => {
      const fx = await open();
      await fx.request({ url: '/v1/events', body: signedUp('u_1') });

      const keys = await fx.rateLimitKeys();

      expect(keys).toEqual([`${fx.prefix}:ratelimit:apikey:${apiKeyId(apiKey)}`]);
      expect(apiKeyId(apiKey)).toMatch(/^[0-9a-f]{16}$/);
      const everything = await fx.admin.keys(`${fx.prefix}:*`);
      expect(everything.some((key) => key.includes(apiKey))).toBe(false);
      const ttl = await fx.admin.pttl(keys[0]!);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it('does not count requests without a valid key, unknown routes, or the public routes', async () => {
      const fx = await open({ API_KEY_RATE_LIMIT_PER_MINUTE: '1' });
      await fx.request({
        url: '/v1/events',
        body: signedUp('u_1'),
        auth: 'not-a-configured-key-at-all',
      });
      await fx.request({ method: 'GET', url: '/v1/nothing-here' });
      await fx.request({ method: 'GET', url: '/metrics', auth: null });
      await fx.request({ method: 'GET', url: '/readyz' });

      expect(await fx.rateLimitKeys()).toEqual([]);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_1') })).statusCode).toBe(202);
    });

    it('applies a per-key limit from API_KEY_RATE_LIMITS over the default', async () => {
      const fx = await open({
        API_KEY_RATE_LIMIT_PER_MINUTE: '100',
        API_KEY_RATE_LIMITS: `${apiKeyId(secondApiKey)}=1`,
      });
      const asSecond = (user: string) =>
        fx.request({ url: '/v1/events', body: signedUp(user), auth: secondApiKey });

      expect((await asSecond('u_1')).statusCode).toBe(202);
      expect((await asSecond('u_2')).statusCode).toBe(429);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_3') })).statusCode).toBe(202);
    });

    it('limits nothing and writes nothing with API_KEY_RATE_LIMIT_PER_MINUTE=0', async () => {
      const fx = await open({ API_KEY_RATE_LIMIT_PER_MINUTE: '0' });
      for (let i = 0; i < 5; i += 1) {
        expect((await fx.request({ url: '/v1/events', body: signedUp(`u_${i}`) })).statusCode).toBe(
          202,
        );
      }
      expect(await fx.rateLimitKeys()).toEqual([]);
    });
  });

  describe('when Redis is down', () => {
    it('answers 503 SY_ERR_REDIS_UNAVAILABLE at once, never 429 or a hang', async () => {
      const own = await startRedis({ forceProcess: true });
      try {
        const fx = await openProducer(own, limitOf3);
        fixtures.push(fx);
        await own.kill();
        const started = performance.now();

        const response = await fx.request({ url: '/v1/events', body: signedUp('u_1') });

        expect(response.statusCode).toBe(503);
        expect(response.headers['retry-after']).toBe('1');
        expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_REDIS_UNAVAILABLE' } });
        expect(performance.now() - started).toBeLessThan(1_500);
      } finally {
        await own.stop();
      }
    });
  });

  describe('configuration', () => {
    const base = { API_KEYS: `${apiKey},${secondApiKey}` };

    it('defaults to 6 000 requests per minute and no per-key limits', () => {
      const config = parseEnv(producerEnvSchema, base);

      expect(config.API_KEY_RATE_LIMIT_PER_MINUTE).toBe(6_000);
      expect(config.API_KEY_RATE_LIMITS).toEqual({});
    });

    it('parses per-key limits by key id', () => {
      const id = apiKeyId(secondApiKey);
      const config = parseEnv(producerEnvSchema, { ...base, API_KEY_RATE_LIMITS: ` ${id}=60 ` });

      expect(config.API_KEY_RATE_LIMITS).toEqual({ [id]: 60 });
    });

    it('refuses an id that is no configured key’s, or a raw key, naming the variable and not echoing the key', () => {
      const unknownId = 'aaaaaaaaaaaaaaaa';
      expect(() =>
        parseEnv(producerEnvSchema, { ...base, API_KEY_RATE_LIMITS: `${unknownId}=1` }),
      ).toThrow(/API_KEY_RATE_LIMITS: aaaaaaaaaaaaaaaa is not the id of any key in API_KEYS/);
      let message = '';
      try {
        parseEnv(producerEnvSchema, { ...base, API_KEY_RATE_LIMITS: `${apiKey}=1` });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/API_KEY_RATE_LIMITS/);
      expect(message).not.toContain(apiKey);
    });

    it('refuses a negative limit, naming the variable', () => {
      expect(() =>
        parseEnv(producerEnvSchema, { ...base, API_KEY_RATE_LIMIT_PER_MINUTE: '-1' }),
      ).toThrow(/API_KEY_RATE_LIMIT_PER_MINUTE/);
    });

    it('still names API_KEYS when it is missing', () => {
      expect(() => parseEnv(producerEnvSchema, {})).toThrow(/API_KEYS/);
    });
  });
});
