/**
 * Per-test isolation on a suite's own redis-server: a random prefix, a
 * publisher connection built the way the producer builds it, an admin
 * connection to look at what was written, and cleanup of the prefix.
 */
import { Queue, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { randomPrefix, unlinkPrefix, waitReady, type RedisHandle } from '@switchyard/testkit';
import {
  createRedisPublisher,
  type RedisPublisher,
  type RedisPublisherOptions,
} from '../../src/index.js';

export {
  paymentFailedRequest as paymentFailed,
  signedUpRequest as signedUp,
  waitReady,
} from '@switchyard/testkit';

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
  const prefix = randomPrefix();
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
      // The fault tests killed the server: nothing is left to clean then.
      await unlinkPrefix(admin, prefix);
      admin.disconnect();
    },
  };
}
