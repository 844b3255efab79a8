import { afterEach, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisHandle } from '@switchyard/testkit';
import { RedisUnavailableError } from '../src/index.js';
import {
  openPublisherFixture,
  paymentFailed,
  signedUp,
  type PublisherFixture,
} from './support/publisher-fixture.js';

let server: RedisHandle | undefined;
let fx: PublisherFixture | undefined;

afterEach(async () => {
  await fx?.close();
  await server?.stop();
  fx = undefined;
  server = undefined;
});

async function timed<T>(work: () => Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}

describe('when Redis is unavailable', () => {
  describe('when the server was just killed', () => {
    it('fails a publish with RedisUnavailableError within the command timeout', async () => {
      server = await startRedis({ forceProcess: true });
      fx = await openPublisherFixture(server);
      await fx.publisher.publish(signedUp('u_0'));

      await server.kill();
      const { error, ms } = await timed(() => fx!.publisher.publish(signedUp('u_1')));

      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(error).toMatchObject({ code: 'SY_ERR_REDIS_UNAVAILABLE' });
      expect(ms).toBeLessThan(1_500);
    });
  });

  describe('when the connection already knows it is down', () => {
    it('fails publish and publishBatch at once, without waiting for a timeout', async () => {
      server = await startRedis({ forceProcess: true });
      fx = await openPublisherFixture(server);
      await server.kill();
      await waitFor(() => fx!.connection.status !== 'ready', { timeoutMs: 2_000 });

      const single = await timed(() => fx!.publisher.publish(signedUp('u_1')));
      const batch = await timed(() => fx!.publisher.publishBatch([paymentFailed('in_1')]));

      expect(single.error).toBeInstanceOf(RedisUnavailableError);
      expect(batch.error).toBeInstanceOf(RedisUnavailableError);
      // Well under the fixture's 1 s command timeout: nothing waited for it.
      expect(single.ms).toBeLessThan(500);
      expect(batch.ms).toBeLessThan(500);
    });

    it('publishes again once Redis is back', async () => {
      server = await startRedis({ forceProcess: true });
      fx = await openPublisherFixture(server);
      await fx.publisher.publish(signedUp('u_0'));
      await server.kill();
      await waitFor(() => fx!.connection.status !== 'ready', { timeoutMs: 2_000 });

      await server.restart();
      const result = await waitFor(() => fx!.publisher.publish(signedUp('u_1')), {
        timeoutMs: 10_000,
      });

      expect(result.status).toBe('accepted');
      expect(await fx.jobsIn('notifications')).toHaveLength(1);
    });
  });

  describe('when Redis stops answering (paused clients)', () => {
    it('gives up after timeoutMs even if the connection would wait longer', async () => {
      server = await startRedis({ forceProcess: true });
      fx = await openPublisherFixture(server, {
        timeoutMs: 200,
        redis: { commandTimeout: 10_000 },
      });
      await fx.admin.call('CLIENT', 'PAUSE', '1000', 'WRITE');

      const { error, ms } = await timed(() => fx!.publisher.publish(signedUp('u_1')));

      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect((error as Error).message).toMatch(/within 200 ms/);
      expect(ms).toBeLessThan(900); // timeoutMs 200, far below the 10 s command timeout
    });
  });
});
