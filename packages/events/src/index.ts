export {
  catalogue,
  defineEventVersion,
  eventTypes,
  findEventVersion,
  isEventType,
  latestVersion,
  versionsOf,
  type Catalogue,
  type EventData,
  type EventType,
  type EventVersion,
  type EventVersionDefinition,
} from './catalogue.js';
export {
  createEnvelope,
  envelopeSchema,
  parseEnvelope,
  parsePublishRequest,
  publishRequestSchema,
  type Envelope,
  type EnvelopeDefaults,
  type RawEnvelope,
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
  deadLetterQueueNameOf,
  isSubscriberName,
  queueNameOf,
  subscriberNames,
  subscribers,
  subscribersOf,
  type SubscriberDefinition,
  type SubscriberName,
} from './routing.js';
export { backoffStrategyName, deliveryJobOptions, maxHandlerAttempts } from './delivery.js';
