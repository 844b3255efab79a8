/**
 * Per-test isolation on a suite's own redis-server: a random prefix, a
 * publisher connection built the way the producer builds it, an admin
 * connection to look at what was written, and cleanup of the prefix.
 */
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisHandle } from '@switchyard/testkit';
import {
  createRedisPublisher,
  type RedisPublisher,
  type RedisPublisherOptions,
} from '../../src/index.js';

/** What the producer passes; tests use the same so failures surface the same way. */
export const failFastOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1_000,
};

export interface PublisherFixture {
  prefix: string;
  connection: Redis;
  admin: Redis;
  publisher: RedisPublisher;
  /** The jobs of one queue in any state, oldest first. */
  jobsIn(queue: string): Promise<Job[]>;
  /** Every key under the test's prefix. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

export async function openPublisherFixture(
  server: RedisHandle,
  options: Partial<RedisPublisherOptions> & { redis?: RedisOptions } = {},
): Promise<PublisherFixture> {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const { redis: redisOptions, ...publisherOptions } = options;
  const connection = new Redis(server.url, { ...failFastOptions, ...redisOptions });
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  // Fault tests kill the server; the reconnect errors are expected, not news.
  connection.on('error', () => undefined);
  admin.on('error', () => undefined);
  await Promise.all([waitReady(connection), waitReady(admin)]);
  const publisher = createRedisPublisher({ connection, prefix, ...publisherOptions });
  const queues = new Map<string, Queue>();
  const queue = (name: string): Queue => {
    let found = queues.get(name);
    if (found === undefined) {
      found = new Queue(name, { connection: admin, prefix });
      queues.set(name, found);
    }
    return found;
  };
  return {
    prefix,
    connection,
    admin,
    publisher,
    jobsIn: async (name) => (await queue(name).getJobs()).sort((a, b) => a.timestamp - b.timestamp),
    keys: () => admin.keys(`${prefix}:*`),
    async close() {
      await publisher.close();
      await Promise.all([...queues.values()].map((q) => q.close()));
      connection.disconnect();
      const keys = await admin.keys(`${prefix}:*`).catch(() => {
        // The fault tests killed the server: nothing is left to clean.
        return [];
      });
      if (keys.length > 0) await admin.unlink(...keys);
      admin.disconnect();
    },
  };
}

export async function waitReady(connection: Redis): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    connection.once('ready', resolve);
    connection.once('end', () => reject(new Error('connection ended before it was ready')));
  });
}

export function signedUp(userId = 'u_1', overrides: Record<string, unknown> = {}) {
  return {
    type: 'user.signed_up',
    version: 1,
    data: { userId, email: `${userId}@example.com`, plan: 'free' },
    ...overrides,
  };
}

export function paymentFailed(invoiceId = 'in_1') {
  return {
    type: 'payment.failed',
    version: 1,
    data: {
      userId: 'u_1',
      invoiceId,
      amountCents: 1_999,
      currency: 'EUR',
      reason: 'card declined',
    },
  };
}
