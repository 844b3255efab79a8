export {
  createRedisPublisher,
  type BatchItemResult,
  type PublishOptions,
  type PublishReceipt,
  type PublishResult,
  type PublisherLogger,
  type RedisPublisher,
  type RedisPublisherOptions,
  type RejectedItem,
} from './create-redis-publisher.js';
export {
  IdempotencyConflictError,
  IdempotencyRecordInvalidError,
  PublishError,
  PublisherClosedError,
  RedisUnavailableError,
} from './errors.js';
export { idempotencyRecordKey, type IdempotencyRecord } from './idempotency-record.js';
export { deliveryJobOptions } from '@switchyard/events';
