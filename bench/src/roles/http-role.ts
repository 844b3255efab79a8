/**
 * Tier C's publisher: a load generator for the producer app over HTTP/1.1
 * keep-alive (one socket per request in flight). It sends `payment.failed`
 * v1 (one subscriber, billing, so one event is one job) with a unique
 * invoiceId per event (its idempotency key) and the publish time in
 * correlationId (`t<epoch ms>`); `data` is about `payloadBytes` of JSON.
 */
import { Agent, request } from 'node:http';
import type { Role } from '../role-kit.js';
import { paymentFailedEvents } from './payment-failed-event.js';
import type { RoleConfig } from '../protocol.js';

export function createHttpRole(config: RoleConfig): Role {
  const base = new URL(config.producerUrl ?? 'http://127.0.0.1:3000');
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const event = paymentFailedEvents(config.payloadBytes);

  const post = (path: string, body: unknown): Promise<void> =>
    new Promise((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify(body));
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          path,
          method: 'POST',
          agent,
          timeout: 30_000,
          headers: {
            authorization: `Bearer ${config.apiKey ?? ''}`,
            'content-type': 'application/json',
            'content-length': payload.length,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            if (res.statusCode === 202) resolve();
            else
              reject(
                new Error(
                  `${path} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`,
                ),
              );
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });

  return {
    addOne(seq, ts) {
      return post('/v1/events', event(seq, ts));
    },
    addBatch(seq, count, ts) {
      return post(
        '/v1/events/batch',
        Array.from({ length: count }, (_, i) => event(seq + i, ts)),
      );
    },
    startConsumer() {
      return Promise.reject(new Error('the http role only publishes'));
    },
    stopConsumer() {
      return Promise.resolve();
    },
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}
