/**
 * A started createWorker on a queue of its own (random prefix), with a Queue
 * to add jobs with, its DLQ, and captured logs. Cleanups run in afterEach.
 */
import { randomUUID } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  deadLetterQueueNameOf,
  deliveryJobOptions,
  queueNameOf,
  type SubscriberName,
} from '@switchyard/events';
import { createMetricsRegistry } from '@switchyard/observability';
import { waitFor } from '@switchyard/testkit';
import {
  createWorker,
  type CreateWorkerOptions,
  type DeadLetterRecord,
  type Handler,
} from '../../src/index.js';
import { captureLogs } from './capture-logs.js';

export interface Harness {
  redisUrl: string;
  client: Redis;
  cleanups: (() => Promise<unknown>)[];
}

export async function startWorker(
  harness: Harness,
  handlers: Handler[],
  options: Partial<CreateWorkerOptions> = {},
  subscriber: SubscriberName = 'notifications',
) {
  const prefix = options.prefix ?? `sy-test-${randomUUID()}`;
  const queue = new Queue(queueNameOf(subscriber), { connection: harness.client, prefix });
  const dlq = new Queue<DeadLetterRecord>(deadLetterQueueNameOf(subscriber), {
    connection: harness.client,
    prefix,
  });
  harness.cleanups.push(async () => {
    await queue.obliterate({ force: true });
    await dlq.obliterate({ force: true });
    await queue.close();
    await dlq.close();
  });
  const { logger, lines } = captureLogs();
  const registry = createMetricsRegistry({ service: 'test', processMetrics: false });
  const worker = createWorker({
    handlers,
    connection: harness.redisUrl,
    prefix,
    workerId: 'worker-test-1',
    logger,
    registry,
    ...options,
  });
  harness.cleanups.push(() => worker.close(2_000));
  await worker.start();
  /** Adds a job the way publishers do (deliveryJobOptions), jobId = event id. */
  const publish = (data: { id: string; type: string }, jobOptions: JobsOptions = {}) =>
    queue.add(data.type, data, { ...deliveryJobOptions, jobId: data.id, ...jobOptions });
  const settled = async (jobId: string, timeoutMs = 10_000) =>
    waitFor(
      async () => {
        const state = await queue.getJobState(jobId);
        return state === 'completed' || state === 'failed' ? state : undefined;
      },
      { timeoutMs, message: `job ${jobId} settled` },
    );
  const deadLetters = async () => (await dlq.getJobs()).map((job) => job.data);
  return { prefix, queue, dlq, worker, lines, registry, publish, settled, deadLetters };
}
