/**
 * The typed face of both transports (createPublisher): what a service calls,
 * what it gets back, and the request both transports build from it.
 *
 * Types come from the events catalogue: `data` is the newest version's
 * EventData<T> unless `version` names another, so a wrong payload is a
 * compile error; the same payload is checked again at run time by the
 * catalogue's zod schema (SchemaInvalidError).
 */
import {
  isEventType,
  latestVersion,
  type EventData,
  type EventType,
  type EventVersion,
} from '@switchyard/events';
import type { PublishResult, RejectedItem } from './create-redis-publisher.js';

/** Per-event options, the same on both transports. */
export interface PublishEventOptions<V extends number = number> {
  /** Catalogue version of `data`. Default: the type's newest. */
  version?: V;
  /** Tenant of a multi-tenant publisher; scopes the idempotency key. */
  tenantId?: string;
  /** Ties the event to the flow that caused it. Default: the event id. */
  correlationId?: string;
  /**
   * Your idempotency key. Default: derived from type, version, tenant and the
   * schema's business-key fields (events' deriveIdempotencyKey), so
   * publishing the same fact twice is answered 'duplicate'.
   */
  idempotencyKey?: string;
  /** When it happened. Default: when the publish is accepted. */
  occurredAt?: Date | string;
  /** Hold the subscriber jobs this long before delivery, in ms (0 to 30 days). Default 0. */
  delayMs?: number;
  /** BullMQ priority of the subscriber jobs: 1 (highest) to 2 097 152. Default: none (FIFO). */
  priority?: number;
  /**
   * Aborts the publish: the HTTP transport stops its request and its retry
   * waits; the Redis transport checks it before starting. Its outcome may
   * then be unknown: publish again with the same key.
   */
  signal?: AbortSignal;
}

/** One item of publishBatch: an event and its options. */
export type PublishBatchItem = {
  [T in EventType]:
    | ({ type: T; data: EventData<T> } & Omit<PublishEventOptions, 'version' | 'signal'> & {
          version?: undefined;
        })
    | {
        [V in EventVersion<T>]: { type: T; data: EventData<T, V> } & Omit<
          PublishEventOptions<V>,
          'signal'
        > & { version: V };
      }[EventVersion<T>];
}[EventType];

/** One result per batch item, in item order: answered, or rejected with the error it would raise alone. */
export type PublishBatchResult = (PublishResult & { index: number }) | RejectedItem;

export interface Publisher {
  /** Which transport this publisher uses. */
  readonly transport: 'redis' | 'http';
  /**
   * Publishes one event to every subscriber of `type`, atomically. Resolves
   * 'accepted', or 'duplicate' (with the first publish's eventId) when its
   * idempotency key was already accepted with the same payload. Throws
   * SchemaInvalidError / UnknownEventTypeError / UnknownEventVersionError
   * (400), IdempotencyConflictError (409), BacklogFullError (429),
   * RedisUnavailableError or ProducerUnavailableError (503).
   */
  publish<T extends EventType>(
    type: T,
    data: EventData<T>,
    options?: PublishEventOptions & { version?: undefined },
  ): Promise<PublishResult>;
  publish<T extends EventType, V extends EventVersion<T>>(
    type: T,
    data: EventData<T, V>,
    options: PublishEventOptions<V> & { version: V },
  ): Promise<PublishResult>;
  /**
   * Publishes several events in one round trip. Item errors (invalid,
   * conflict, backlog full) come back per item as 'rejected'; a transport
   * failure (Redis or producer unavailable) throws for the whole batch.
   */
  publishBatch(
    items: readonly PublishBatchItem[],
    options?: { signal?: AbortSignal },
  ): Promise<PublishBatchResult[]>;
  /** Stops publishing; closes what the publisher opened itself. Idempotent. */
  close(): Promise<void>;
}

/**
 * What each transport implements: Publisher without the catalogue's types
 * (createPublisher adds them; the checks happen at run time either way).
 */
export interface TransportPublisher {
  readonly transport: 'redis' | 'http';
  publish(type: string, data: unknown, options?: PublishEventOptions): Promise<PublishResult>;
  publishBatch(
    items: readonly PublishBatchItem[],
    options?: { signal?: AbortSignal },
  ): Promise<PublishBatchResult[]>;
  close(): Promise<void>;
}

/** The wire form of a publish (POST /v1/events body; createRedisPublisher input). */
export interface PublishRequestBody {
  type: string;
  version: number;
  data: unknown;
  tenantId?: string;
  correlationId?: string;
  occurredAt?: string;
  idempotencyKey?: string;
  delayMs?: number;
  priority?: number;
}

/** Builds the request both transports send; validation is theirs. */
export function toPublishRequest(
  type: string,
  data: unknown,
  options: Omit<PublishEventOptions, 'signal'> = {},
): PublishRequestBody {
  // An unknown type (untyped callers) is sent as v1 and refused as unknown.
  const version = options.version ?? (isEventType(type) ? latestVersion(type) : 1);
  const occurredAt =
    options.occurredAt instanceof Date ? options.occurredAt.toISOString() : options.occurredAt;
  return {
    type,
    version,
    data,
    ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    ...(occurredAt === undefined ? {} : { occurredAt }),
    ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
    ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
    ...(options.priority === undefined ? {} : { priority: options.priority }),
  };
}

/** toPublishRequest for a batch item. */
export function batchItemRequest(item: PublishBatchItem): PublishRequestBody {
  const { type, data, ...options } = item as { type: string; data: unknown } & Omit<
    PublishEventOptions,
    'signal'
  >;
  return toPublishRequest(type, data, options);
}
