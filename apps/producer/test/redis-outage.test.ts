import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis, waitFor, waitReady, type RedisHandle } from '@switchyard/testkit';
import {
  openProducer,
  paymentFailed,
  signedUp,
  type ProducerFixture,
} from './support/producer-fixture.js';

let server: RedisHandle | undefined;
let fx: ProducerFixture | undefined;
let others: ProducerFixture[] = [];

afterEach(async () => {
  await Promise.all(others.map((other) => other.close()));
  await fx?.close();
  await server?.stop();
  fx = undefined;
  others = [];
  server = undefined;
});

/** The answer and how long it took, in ms. */
async function timed<T>(work: Promise<T>): Promise<{ answer: T; ms: number }> {
  const started = performance.now();
  const answer = await work;
  return { answer, ms: performance.now() - started };
}

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

  describe('when Redis hangs (connected, answering nothing)', () => {
    it('answers publishes and batches 503 within REDIS_COMMAND_TIMEOUT_MS, /metrics without queue series, and enqueues nothing', async () => {
      const commandTimeoutMs = 1_000;
      server = await startRedis({ forceProcess: true });
      // Rate limit on (its check is the first command) and off (the publish's own reads are).
      fx = await openProducer(server, { REDIS_COMMAND_TIMEOUT_MS: String(commandTimeoutMs) });
      const unlimited = await openProducer(server, {
        REDIS_COMMAND_TIMEOUT_MS: String(commandTimeoutMs),
        API_KEY_RATE_LIMIT_PER_MINUTE: '0',
      });
      others.push(unlimited);
      expect((await fx.request({ url: '/v1/events', body: signedUp('u_0') })).statusCode).toBe(202);
      const pauser = new Redis(server.url);
      await waitReady(pauser);
      // Every client's commands wait 3 s: a hung server, not a closed socket.
      await pauser.client('PAUSE', 3_000, 'ALL');
      pauser.disconnect();

      const answers = await Promise.all(
        [fx, unlimited].flatMap((producer) => [
          timed(producer.request({ url: '/v1/events', body: signedUp('u_1') })),
          timed(
            producer.request({
              url: '/v1/events/batch',
              body: [signedUp('u_2'), paymentFailed('in_2')],
            }),
          ),
        ]),
      );
      const metrics = await timed(fx.request({ method: 'GET', url: '/metrics', auth: null }));

      console.info(
        `hung Redis, REDIS_COMMAND_TIMEOUT_MS=${commandTimeoutMs}: 503 after ` +
          `${answers.map(({ ms }) => Math.round(ms)).join(', ')} ms (single, batch; limited, unlimited); ` +
          `/metrics after ${Math.round(metrics.ms)} ms`,
      );
      for (const { answer, ms } of answers) {
        expect(answer.statusCode).toBe(503);
        expect(answer.headers['retry-after']).toBe('1');
        expect(answer.json()).toMatchObject({ error: { code: 'SY_ERR_REDIS_UNAVAILABLE' } });
        // About the command timeout, far from the 3 s pause (margin for a busy machine).
        expect(ms).toBeGreaterThanOrEqual(commandTimeoutMs - 50);
        expect(ms).toBeLessThan(commandTimeoutMs + 1_000);
      }
      expect(metrics.answer.statusCode).toBe(200);
      expect(metrics.ms).toBeLessThan(2_000);
      expect(metrics.answer.body).not.toMatch(/^sy_queue_backlog\{/m);
      expect(metrics.answer.body).toMatch(/^sy_queue_metrics_failures_total\{[^}]*\} 1$/m);

      // Once Redis answers again, what timed out did not land late.
      await waitFor(async () => (await fx!.admin.ping()) === 'PONG', { timeoutMs: 10_000 });
      expect(await fx.enqueued()).toEqual({ billing: 0, notifications: 1, provisioning: 1 });
      expect(await unlimited.enqueued()).toEqual({ billing: 0, notifications: 0, provisioning: 0 });
    });
  });
});
