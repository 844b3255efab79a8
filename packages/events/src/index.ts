export {
  catalogue,
  defineEventVersion,
  eventTypes,
  findEventVersion,
  isEventType,
  latestVersion,
  versionsOf,
  type AnyVersionEventData,
  type Catalogue,
  type EventData,
  type EventType,
  type EventVersion,
  type EventVersionDefinition,
  type LatestVersion,
} from './catalogue.js';
export {
  createEnvelope,
  envelopeSchema,
  parseEnvelope,
  parsePublishRequest,
  publishRequestSchema,
  upcastEnvelope,
  type Envelope,
  type EnvelopeDefaults,
  type ParseEnvelopeOptions,
  type RawEnvelope,
  type StoredEnvelope,
  type ValidPublishRequest,
} from './envelope.js';
export {
  EventError,
  SchemaInvalidError,
  UnknownEventTypeError,
  UnknownEventVersionError,
  toIssues,
  type EventIssue,
} from './errors.js';
export { idempotencyKey as idempotencyKeySchema } from './fields.js';
export { canonicalJson, deriveIdempotencyKey, payloadFingerprint } from './idempotency-key.js';
export { eventDataJsonSchemas, publishRequestJsonSchema, type JsonSchema } from './json-schema.js';
export {
  checkSchemaSnapshots,
  snapshotFileName,
  type SchemaCheckResult,
  type SchemaProblem,
  type SchemaSnapshot,
} from './schema-compatibility.js';
export {
  deadLetterQueueNameOf,
  isSubscriberName,
  queueNameOf,
  subscriberNames,
  subscribers,
  subscribersOf,
  type SubscriberDefinition,
  type SubscriberName,
} from './routing.js';
export {
  backoffStrategyName,
  deliveryJobOptions,
  deliveryRetention,
  maxHandlerAttempts,
} from './delivery.js';
