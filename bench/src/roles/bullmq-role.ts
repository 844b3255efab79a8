/**
 * Tier B, bare BullMQ: Queue.add / addBulk and a Worker with a no-op
 * processor; completed jobs are removed (removeOnComplete), nothing else is
 * configured.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { padding, type ConsumerStats, type Role } from '../role-kit.js';
import type { RoleConfig } from '../protocol.js';

export function createBullmqRole(config: RoleConfig): Role {
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(config.queue, { connection });
  const pad = padding(config.payloadBytes);
  const opts = { removeOnComplete: true };
  let worker: Worker | undefined;
  let workerConnection: Redis | undefined;

  return {
    async addOne(seq, ts) {
      await queue.add('job', { seq, ts, pad }, opts);
    },
    async addBatch(seq, count, ts) {
      await queue.addBulk(
        Array.from({ length: count }, (_, i) => ({
          name: 'job',
          data: { seq: seq + i, ts, pad },
          opts,
        })),
      );
    },
    async startConsumer(concurrency: number, _variant, stats: ConsumerStats) {
      workerConnection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
      worker = new Worker(
        config.queue,
        async (job) => {
          stats.started((job.data as { ts: number }).ts);
          await Promise.resolve();
          stats.finished();
        },
        { connection: workerConnection, concurrency, removeOnComplete: { count: 0 } },
      );
      await worker.waitUntilReady();
    },
    async stopConsumer() {
      const current = worker;
      worker = undefined;
      if (!current) return;
      await current.close();
      await workerConnection?.quit().catch(() => undefined);
      workerConnection = undefined;
    },
    async close() {
      await this.stopConsumer();
      await queue.close();
      await connection.quit();
    },
  };
}
