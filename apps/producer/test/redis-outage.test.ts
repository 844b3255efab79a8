import { afterEach, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import { openProducer, signedUp, type ProducerFixture } from './support/producer-fixture.js';

let server: RedisHandle | undefined;
let fx: ProducerFixture | undefined;

afterEach(async () => {
  await fx?.close();
  await server?.stop();
  fx = undefined;
  server = undefined;
});

describe('producer HTTP API', () => {
  describe('when Redis goes down and comes back', () => {
    it('answers 503 with Retry-After and fails readiness within a bounded time, then accepts again', async () => {
      server = await startRedis({ forceProcess: true });
      fx = await openProducer(server);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_0') })).statusCode).toBe(202);

      await server.kill();
      const started = performance.now();
      const refused = await fx.request({ url: '/v1/events', body: signedUp('u_1') });
      const refusedMs = performance.now() - started;

      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json()).toMatchObject({ error: { code: 'SY_ERR_REDIS_UNAVAILABLE' } });
      expect(refusedMs).toBeLessThan(1_500);
      await waitFor(
        async () =>
          (await fx!.request({ method: 'GET', url: '/readyz', auth: null })).statusCode === 503,
        { timeoutMs: 2_000, message: '/readyz answering 503' },
      );
      expect((await fx.request({ method: 'GET', url: '/healthz', auth: null })).statusCode).toBe(
        200,
      );
      const batch = await fx.request({ url: '/v1/events/batch', body: [signedUp('u_2')] });
      expect(batch.statusCode).toBe(503);

      await server.restart();
      await waitFor(
        async () =>
          (await fx!.request({ method: 'GET', url: '/readyz', auth: null })).statusCode === 200,
        { timeoutMs: 10_000, message: '/readyz answering 200 again' },
      );
      const accepted = await fx.request({ url: '/v1/events', body: signedUp('u_3') });
      expect(accepted.statusCode).toBe(202);
      expect((await fx.enqueued()).notifications).toBe(1);
    });
  });
});
