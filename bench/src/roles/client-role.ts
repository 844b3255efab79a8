/**
 * Tier C through the TypeScript client instead of HTTP (column C-client):
 * `createRedisPublisher` from @switchyard/client, the same validation,
 * idempotency ledger, backpressure check and atomic fan-out the producer
 * app runs, without the HTTP server. Events are those of the http role
 * (`payment.failed` v1, a unique invoiceId, the publish time in
 * correlationId).
 */
import { Redis } from 'ioredis';
import { createRedisPublisher } from '@switchyard/client';
import type { Role } from '../role-kit.js';
import { paymentFailedEvents } from './payment-failed-event.js';
import type { RoleConfig } from '../protocol.js';

export function createClientRole(config: RoleConfig): Role {
  // Fail fast as the client's docs ask: no offline queue, one retry, a command timeout.
  const connection = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
  });
  const publisher = createRedisPublisher({
    connection,
    prefix: config.prefix ?? 'sy',
    backlogLimit: 10_000_000,
  });
  const event = paymentFailedEvents(config.payloadBytes);
  const ready = new Promise<void>((resolve, reject) => {
    connection.once('ready', () => resolve());
    connection.once('error', reject);
  });

  return {
    async addOne(seq, ts) {
      await ready;
      await publisher.publish(event(seq, ts));
    },
    async addBatch(seq, count, ts) {
      await ready;
      const results = await publisher.publishBatch(
        Array.from({ length: count }, (_, i) => event(seq + i, ts)),
      );
      const refused = results.filter((result) => result.status !== 'accepted').length;
      if (refused > 0) throw new Error(`${refused} of ${count} batch items were not accepted`);
    },
    startConsumer() {
      return Promise.reject(new Error('the client role only publishes'));
    },
    stopConsumer() {
      return Promise.resolve();
    },
    async close() {
      await publisher.close();
      await connection.quit();
    },
  };
}
