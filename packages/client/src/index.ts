export {
  createPublisher,
  type CreatePublisherOptions,
  type RedisTransportOptions,
} from './create-publisher.js';
export {
  createHttpPublisher,
  errorFromAnswer,
  retryAfterSecondsOf,
  type HttpPublisherOptions,
} from './create-http-publisher.js';
export {
  toPublishRequest,
  type PublishBatchItem,
  type PublishBatchResult,
  type PublishEventOptions,
  type PublishRequestBody,
  type Publisher,
  type TransportPublisher,
} from './publisher.js';
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
export { BacklogGate, type BacklogGateOptions } from './backlog-gate.js';
export {
  QueueMetricsTimeoutError,
  queueJobStates,
  readQueueFigures,
  registerQueueMetrics,
  type MetricsRegistryLike,
  type QueueFigures,
  type QueueJobState,
  type QueueMetricsOptions,
  type QueueMetricsSource,
} from './queue-metrics.js';
export {
  BacklogFullError,
  IdempotencyConflictError,
  IdempotencyRecordInvalidError,
  ProducerRequestError,
  ProducerUnavailableError,
  PublishError,
  PublisherClosedError,
  PublisherOptionError,
  RedisUnavailableError,
} from './errors.js';
export { idempotencyRecordKey, type IdempotencyRecord } from './idempotency-record.js';
export type { DeliveryOptions } from './fan-out.js';
export { deliveryJobOptions } from '@switchyard/events';
export {
  defaultFindJobsLimit,
  defaultJobIndexMaxPerTenant,
  defaultJobIndexTtlSeconds,
  findJobs,
  indexJobs,
  jobIndexKey,
  jobIndexKinds,
  JobIndexUsageError,
  maxFindJobsLimit,
  queueJobIndexWrites,
  type FindJobsOptions,
  type FoundJob,
  type JobIndexEntry,
  type JobIndexKind,
  type JobIndexRetention,
} from './job-index.js';
export {
  RedisUrlError,
  createRedisConnection,
  hashTagOf,
  isRedisCluster,
  isRedisReachable,
  parseRedisUrl,
  queuePrefixClusterProblem,
  redactRedisUrl,
  redisTopologyOf,
  redisUrlSchemes,
  refineQueuePrefixForCluster,
  useRedisTlsCa,
  type CreateRedisConnectionOptions,
  type ParsedRedisUrl,
  type RedisConnection,
  type RedisConnectionLogger,
  type RedisConnectionProfile,
  type RedisNodeAddress,
  type RedisTopology,
} from './redis-connection.js';
