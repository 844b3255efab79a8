/**
 * SIGTERM under load, with the built worker-notifications app and the built
 * sandbox as processes: the stopped worker exits 0 within its deadline, its
 * in-flight jobs are handed back without spending an attempt, and every job
 * is applied exactly once downstream.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { deliveryJobOptions, queueNameOf } from '@switchyard/events';
import { freePort, signedUp, startApp, waitFor } from '@switchyard/testkit';
import { useRedisHarness } from './support/redis-harness.js';

const builtApp = fileURLToPath(
  new URL('../../../apps/worker-notifications/dist/main.js', import.meta.url),
);

const harness = useRedisHarness({ sandbox: true });

describe('worker shutdown', () => {
  describe('when SIGTERM arrives during load', () => {
    it('exits 0 within the deadline, loses no job, and spends no attempt', async () => {
      const jobs = 200;
      const shutdownTimeoutMs = 500;
      const prefix = `sy-test-${randomUUID()}`;
      const queue = new Queue(queueNameOf('notifications'), { connection: harness.client, prefix });
      // Slower than the shutdown deadline, so the stopped worker must hand jobs back.
      await harness.sandbox.control({ latencyMs: 800 });
      const start = async (workerId: string) => {
        const port = await freePort();
        return startApp({
          entry: builtApp,
          name: workerId,
          env: {
            REDIS_URL: harness.redisUrl,
            HEALTH_PORT: String(port),
            SANDBOX_URL: harness.sandbox.url,
            QUEUE_PREFIX: prefix,
            WORKER_ID: workerId,
            WORKER_CONCURRENCY: '50',
            SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
            LOCK_DURATION_MS: '5000',
            STALLED_INTERVAL_MS: '2000',
          },
          readyUrl: `http://127.0.0.1:${port}/readyz`,
        });
      };
      const [stopped, survivor] = await Promise.all([start('stopped'), start('survivor')]);
      try {
        const envelopes = Array.from({ length: jobs }, (_, i) => signedUp(`u_${i}`));
        await queue.addBulk(
          envelopes.map((e) => ({
            name: e.type,
            data: e,
            opts: { ...deliveryJobOptions, jobId: e.id },
          })),
        );
        await waitFor(async () => (await queue.getActiveCount()) >= 60, {
          message: 'both workers busy',
        });

        const signalledAt = Date.now();
        const exitCode = await stopped.stop('SIGTERM', 10_000);
        const tookMs = Date.now() - signalledAt;

        expect(exitCode).toBe(0);
        expect(tookMs).toBeLessThan(shutdownTimeoutMs + 2_000);
        await waitFor(async () => (await queue.getCompletedCount()) === jobs, {
          timeoutMs: 20_000,
          message: 'every job completed',
        });
        const completed = await queue.getCompleted(0, jobs);
        expect(completed).toHaveLength(jobs);
        // Completion counts 1; a handed-back attempt would have made it 2.
        expect(completed.filter((job) => job.attemptsMade !== 1)).toEqual([]);
        // Handed back, not recovered by the stalled checker after its lock expired.
        expect(completed.filter((job) => job.stalledCounter !== 0).map((job) => job.id)).toEqual(
          [],
        );
        expect(stopped.output()).toContain('job handed back to the queue by shutdown');
        const ledger = await harness.sandbox.ledger();
        const keys = new Set(envelopes.map((e) => e.idempotencyKey));
        const ours = ledger.filter((call) => keys.has(call.idempotencyKey));
        expect(ours).toHaveLength(jobs);
        expect(new Set(ours.map((call) => call.idempotencyKey)).size).toBe(jobs);
        // The sandbox dedupes keys, so only `repeats` shows a second call with the same key.
        expect(ours.filter((call) => call.repeats !== 0)).toEqual([]);
      } finally {
        await harness.sandbox.control({ latencyMs: 0 });
        await stopped.kill();
        expect(await survivor.stop('SIGTERM')).toBe(0);
        await queue.obliterate({ force: true });
        await queue.close();
      }
    });
  });
});
