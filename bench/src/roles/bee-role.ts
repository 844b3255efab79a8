/**
 * Tier D, bee-queue on the same Redis: createJob().save() / saveAll and
 * queue.process() with a no-op handler; successful jobs are removed
 * (removeOnSuccess), the producer neither keeps job objects nor listens
 * for events.
 */
import BeeQueue from 'bee-queue';
import { padding, type ConsumerStats, type Role } from '../role-kit.js';
import type { RoleConfig } from '../protocol.js';

interface BeeData {
  seq: number;
  ts: number;
  pad: string;
}

export function createBeeRole(config: RoleConfig): Role {
  const url = new URL(config.redisUrl);
  const redis = { host: url.hostname, port: Number(url.port) };
  const producer = new BeeQueue<BeeData>(config.queue, {
    redis,
    isWorker: false,
    getEvents: false,
    storeJobs: false,
    removeOnSuccess: true,
  });
  const pad = padding(config.payloadBytes);
  let worker: BeeQueue<BeeData> | undefined;

  return {
    async addOne(seq, ts) {
      await producer.createJob({ seq, ts, pad }).save();
    },
    async addBatch(seq, count, ts) {
      const jobs = Array.from({ length: count }, (_, i) =>
        producer.createJob({ seq: seq + i, ts, pad }),
      );
      const failed = await producer.saveAll(jobs);
      if (failed.size > 0) throw new Error(`${failed.size} of ${count} bee-queue saves failed`);
    },
    async startConsumer(concurrency: number, _variant, stats: ConsumerStats) {
      const queue = new BeeQueue<BeeData>(config.queue, {
        redis,
        getEvents: false,
        storeJobs: false,
        removeOnSuccess: true,
        activateDelayedJobs: false,
      });
      worker = queue;
      await queue.ready();
      queue.process(concurrency, async (job) => {
        stats.started(job.data.ts);
        await Promise.resolve();
        // bee-queue marks the job done after this resolves; count it here like the other tiers.
        stats.finished();
      });
    },
    async stopConsumer() {
      const current = worker;
      worker = undefined;
      await current?.close(5_000);
    },
    async close() {
      await this.stopConsumer();
      await producer.close(5_000);
    },
  };
}
