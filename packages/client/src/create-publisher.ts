/**
 * createPublisher: one typed API over two transports with one semantics.
 *
 * - `{ redis }`: straight to Redis through createRedisPublisher, the very
 *   code the producer runs (same validation, tenant-scoped idempotency
 *   ledger, atomic fan-out and backpressure), for services that can reach
 *   the queues' Redis.
 * - `{ baseUrl, apiKey }`: over HTTP to the producer (createHttpPublisher),
 *   with bounded retries under the same idempotency key.
 *
 * Both resolve the same PublishResult / PublishBatchResult and throw the same
 * error classes with the same codes, so code written against one works
 * against the other.
 */
import {
  createRedisPublisher,
  type BatchItemResult,
  type PublishReceipt,
  type PublishResult,
  type RedisPublisherOptions,
} from './create-redis-publisher.js';
import { createHttpPublisher, type HttpPublisherOptions } from './create-http-publisher.js';
import { RedisUnavailableError } from './errors.js';
import { createRedisConnection, type RedisConnection } from './redis-connection.js';
import {
  batchItemRequest,
  toPublishRequest,
  type PublishBatchItem,
  type PublishBatchResult,
  type PublishEventOptions,
  type Publisher,
  type TransportPublisher,
} from './publisher.js';

export interface RedisTransportOptions extends Omit<RedisPublisherOptions, 'connection'> {
  /**
   * The Redis holding the subscriber queues: an ioredis instance (yours to
   * close; build it fail-fast, see createRedisPublisher) or a URL (the
   * publisher opens a fail-fast connection and closes it on `close()`).
   */
  redis: RedisConnection | string;
}

export type CreatePublisherOptions =
  (RedisTransportOptions & { baseUrl?: never }) | (HttpPublisherOptions & { redis?: never });

export function createPublisher(options: CreatePublisherOptions): Publisher {
  const transport: unknown =
    'redis' in options && options.redis !== undefined
      ? createRedisTransport(options)
      : createHttpPublisher(options);
  // The transports check payloads at run time; Publisher's overloads add the
  // catalogue's types (too deep for tsc to compare with the untyped shape).
  return transport as Publisher;
}

const toResult = (receipt: PublishReceipt): PublishResult => ({
  eventId: receipt.eventId,
  idempotencyKey: receipt.idempotencyKey,
  status: receipt.status,
  queues: receipt.queues,
});

const toBatchResult = (result: BatchItemResult): PublishBatchResult =>
  result.status === 'rejected' ? result : { index: result.index, ...toResult(result) };

function createRedisTransport(options: RedisTransportOptions): TransportPublisher {
  const { redis, ...publisherOptions } = options;
  const owned = typeof redis === 'string';
  const connection = owned
    ? createRedisConnection({
        url: redis,
        profile: 'fail-fast',
        commandTimeoutMs: 2_000,
        connectionName: 'sy-publisher',
      })
    : redis;
  // An owned connection reports outages through RedisUnavailableError (its
  // 'error' events are swallowed by createRedisConnection without a logger).
  const core = createRedisPublisher({ connection, ...publisherOptions });
  const readyTimeoutMs = options.timeoutMs ?? 5_000;

  /**
   * One bounded wait for 'ready' shared by every publish that arrives while the
   * connection is still connecting: one listener, not one per call in flight.
   */
  let readyWait: Promise<void> | undefined;
  function sharedReadyWait(): Promise<void> {
    readyWait ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        connection.off('ready', onReady);
        reject(new RedisUnavailableError(`Redis was not ready within ${readyTimeoutMs} ms`));
      }, readyTimeoutMs);
      function onReady() {
        clearTimeout(timer);
        resolve();
      }
      connection.once('ready', onReady);
    }).finally(() => {
      readyWait = undefined;
    });
    return readyWait;
  }

  /** Waits (bounded, and abortable by the caller's signal) for a connection still connecting. */
  async function untilConnected(signal: AbortSignal | undefined): Promise<void> {
    if (connection.status !== 'connecting' && connection.status !== 'connect') return;
    const ready = sharedReadyWait();
    if (!signal) return ready;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      ready.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  return {
    transport: 'redis',
    async publish(type: string, data: unknown, publishOptions: PublishEventOptions = {}) {
      const { signal, ...eventOptions } = publishOptions;
      signal?.throwIfAborted();
      await untilConnected(signal);
      return toResult(await core.publish(toPublishRequest(type, data, eventOptions)));
    },
    async publishBatch(items: readonly PublishBatchItem[], batchOptions = {}) {
      batchOptions.signal?.throwIfAborted();
      await untilConnected(batchOptions.signal);
      const requests = items.map(batchItemRequest);
      return (await core.publishBatch(requests)).map(toBatchResult);
    },
    async close() {
      await core.close();
      if (owned && connection.status !== 'end') {
        await connection.quit().catch(() => connection.disconnect());
      }
    },
  };
}
