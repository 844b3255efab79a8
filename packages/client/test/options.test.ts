import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { PublisherOptionError, createPublisher, createRedisPublisher } from '../src/index.js';

describe('publisher options', () => {
  describe('when a numeric option is not a usable number', () => {
    it.each([
      ['retries NaN', { retries: Number.NaN }],
      ['retries Infinity', { retries: Infinity }],
      ['a fractional timeoutMs', { timeoutMs: 1.5 }],
      ['a negative retryDelayMs', { retryDelayMs: -1 }],
    ])('refuses an HTTP publisher with %s, naming the option', (_label, bad) => {
      expect(() =>
        createPublisher({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k'.repeat(16), ...bad }),
      ).toThrow(PublisherOptionError);
    });

    it.each([
      ['backlogLimit', { backlogLimit: Number.NaN }],
      ['backlogLimits.billing', { backlogLimits: { billing: -5 } }],
      ['backlogCheckIntervalMs', { backlogCheckIntervalMs: Number.NaN }],
      ['timeoutMs', { timeoutMs: Number.NaN }],
    ])('refuses a Redis publisher with a bad %s, naming it', (name, bad) => {
      const connection = new Redis({ lazyConnect: true });
      try {
        expect(() => createRedisPublisher({ connection, ...bad })).toThrow(name);
      } finally {
        connection.disconnect();
      }
    });

    it('accepts Infinity as "no backlog limit"', async () => {
      const connection = new Redis({ lazyConnect: true });
      try {
        const publisher = createRedisPublisher({ connection, backlogLimit: Infinity });
        await publisher.close();
      } finally {
        connection.disconnect();
      }
    });
  });
});
