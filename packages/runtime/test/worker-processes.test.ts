/**
 * Worker processes as they run in production, against the built sandbox:
 * a SIGKILLed worker's job is taken over within the stall bound with its
 * effect applied once, and a worker refuses an evicting Redis.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryJobOptions, queueNameOf } from '@switchyard/events';
import {
  freePort,
  signedUp,
  startApp,
  startRedis,
  waitFor,
  type AppProcess,
  type RedisHandle,
} from '@switchyard/testkit';
import { useRedisHarness } from './support/redis-harness.js';

const fixture = fileURLToPath(new URL('./fixtures/worker-app.ts', import.meta.url));
const builtApp = fileURLToPath(
  new URL('../../../apps/worker-notifications/dist/main.js', import.meta.url),
);

const harness = useRedisHarness({ sandbox: true });

async function startWorkerProcess(
  entry: string,
  env: Record<string, string>,
): Promise<{ app: AppProcess; port: number }> {
  const port = await freePort();
  const app = await startApp({
    entry,
    name: 'worker',
    env: {
      ...(entry === fixture
        ? { NODE_OPTIONS: '--import tsx --conditions=@switchyard/source' }
        : {}),
      REDIS_URL: harness.redisUrl,
      HEALTH_PORT: String(port),
      SANDBOX_URL: harness.sandbox.url,
      ...env,
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: 20_000,
  });
  harness.cleanups.push(() => app.kill());
  return { app, port };
}

describe('worker processes', () => {
  describe('when a worker is SIGKILLed after its side effect, before the ack', () => {
    it('another worker takes the job within the stall bound and the effect is applied once', async () => {
      const prefix = `sy-test-${randomUUID()}`;
      const queue = new Queue(queueNameOf('notifications'), { connection: harness.client, prefix });
      harness.cleanups.push(async () => {
        await queue.obliterate({ force: true });
        await queue.close();
      });
      const stall = { LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' };
      const { app: doomed } = await startWorkerProcess(fixture, {
        ...stall,
        QUEUE_PREFIX: prefix,
        WORKER_ID: 'doomed',
        FIXTURE_HANG_AFTER_CALL: 'true',
      });
      const envelope = signedUp('u_killed');
      await queue.add(envelope.type, envelope, { ...deliveryJobOptions, jobId: envelope.id });
      await waitFor(() => doomed.output().includes('effect done; hanging'), {
        timeoutMs: 10_000,
        message: 'the doomed worker made the call',
      });
      const { app: survivor } = await startWorkerProcess(fixture, {
        ...stall,
        QUEUE_PREFIX: prefix,
        WORKER_ID: 'survivor',
      });

      await doomed.kill();
      const killedAt = Date.now();
      await waitFor(async () => (await queue.getJobState(envelope.id)) === 'completed', {
        timeoutMs: 10_000,
        message: 'the survivor completed the job',
      });

      // Stall bound: the lock expires (2 s), the next stalled check (1 s) moves the job back.
      expect(Date.now() - killedAt).toBeLessThan(2_000 + 1_000 + 1_500);
      expect((await queue.getJob(envelope.id))?.processedBy).toBe('survivor');
      const calls = (await harness.sandbox.ledger()).filter(
        (call) => call.idempotencyKey === envelope.idempotencyKey,
      );
      // One call reached the sandbox: ctx.once found the effect done and did not call again.
      expect(calls).toEqual([expect.objectContaining({ service: 'email', repeats: 0 })]);
      expect(survivor.output()).toContain('"msg":"job succeeded"');
    });
  });

  describe('when Redis may evict keys', () => {
    let lru: RedisHandle;

    beforeAll(async () => {
      lru = await startRedis({ forceProcess: true, maxmemoryPolicy: 'allkeys-lru' });
    });

    afterAll(async () => {
      await lru.stop();
    });

    it('refuses to start: exit 1, naming the policy and the override', async () => {
      const app = await startApp({
        entry: builtApp,
        name: 'worker-notifications',
        env: { REDIS_URL: lru.url, HEALTH_PORT: '0', SANDBOX_URL: harness.sandbox.url },
      });
      harness.cleanups.push(() => app.kill());

      expect(await app.exited).toBe(1);
      await waitFor(() => app.output().includes('ALLOW_EVICTION_POLICY'), {
        message: 'the override named',
      });
      expect(app.output()).toContain('allkeys-lru');
    });

    it('starts when ALLOW_EVICTION_POLICY=true', async () => {
      const port = await freePort();
      const app = await startApp({
        entry: builtApp,
        name: 'worker-notifications',
        env: {
          REDIS_URL: lru.url,
          HEALTH_PORT: String(port),
          SANDBOX_URL: harness.sandbox.url,
          ALLOW_EVICTION_POLICY: 'true',
        },
        readyUrl: `http://127.0.0.1:${port}/readyz`,
      });
      harness.cleanups.push(() => app.kill());

      expect(app.output()).toContain('starting on an evicting Redis');
      expect(await app.stop('SIGTERM')).toBe(0);
    });
  });
});
