/**
 * The envelope every event travels in, and the two ways in:
 * - `parsePublishRequest` + `createEnvelope`: what a publisher sends (type,
 *   version, data, optional tenant/correlation/time/key) becomes a full
 *   envelope, with id, time, correlation id and idempotency key filled in.
 * - `parseEnvelope`: a job read back from Redis is validated again, since a
 *   job added straight to Redis or from the dashboard bypassed ingest.
 */
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { findEventVersion, isEventType, type EventData, type EventType } from './catalogue.js';
import {
  SchemaInvalidError,
  UnknownEventTypeError,
  UnknownEventVersionError,
  toIssues,
} from './errors.js';
import {
  correlationId,
  eventTypeName,
  eventVersion,
  idempotencyKey,
  tenantId,
  timestamp,
} from './fields.js';
import { deriveIdempotencyKey } from './idempotency-key.js';

/**
 * `data` is any plain object, passed through uncopied: copying it (as
 * `z.record` does) would turn an own `__proto__` key that JSON.parse created
 * into the copy's prototype, hiding it from the strict schema that runs next.
 */
const opaqueData = z.custom<Record<string, unknown>>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null),
  'must be a JSON object',
);

/** What a publisher sends. `data` is checked against the type's schema afterwards. */
export const publishRequestSchema = z.strictObject({
  type: eventTypeName,
  version: eventVersion,
  data: opaqueData,
  tenantId: tenantId.optional(),
  correlationId: correlationId.optional(),
  occurredAt: timestamp.optional(),
  idempotencyKey: idempotencyKey.optional(),
});

/** The stored envelope, with `data` still opaque; see `parseEnvelope`. */
export const envelopeSchema = z.strictObject({
  id: z.uuid({ version: 'v7' }),
  type: eventTypeName,
  version: eventVersion,
  occurredAt: timestamp,
  tenantId: tenantId.optional(),
  correlationId,
  idempotencyKey,
  data: opaqueData,
});

export type RawEnvelope = z.infer<typeof envelopeSchema>;

/** An envelope whose `data` has been validated against its type and version. */
export type Envelope<T extends EventType = EventType> = {
  [K in T]: Omit<RawEnvelope, 'type' | 'data'> & { type: K; data: EventData<K> };
}[T];

/** A publish request whose data matched its schema. */
export interface ValidPublishRequest {
  type: EventType;
  version: number;
  data: Record<string, unknown>;
  tenantId?: string | undefined;
  correlationId?: string | undefined;
  occurredAt?: string | undefined;
  idempotencyKey?: string | undefined;
}

function checkData(
  type: string,
  version: number,
  data: Record<string, unknown>,
  at: (string | number)[],
): { type: EventType; data: Record<string, unknown> } {
  if (!isEventType(type)) {
    throw new UnknownEventTypeError(`unknown event type "${type}"`);
  }
  const definition = findEventVersion(type, version);
  if (!definition) {
    throw new UnknownEventVersionError(`event type "${type}" has no version ${version}`);
  }
  const parsed = definition.schema.safeParse(data);
  if (!parsed.success) {
    throw new SchemaInvalidError(
      `data does not match ${type} v${version}`,
      toIssues(parsed.error, [...at, 'data']),
    );
  }
  return { type, data: parsed.data };
}

/**
 * Validates a publisher's input. Throws SchemaInvalidError (envelope fields or
 * data), UnknownEventTypeError or UnknownEventVersionError.
 * `idempotencyKeyHeader`, when given, wins over a key in the body.
 */
export function parsePublishRequest(
  input: unknown,
  options: { idempotencyKeyHeader?: string | undefined } = {},
): ValidPublishRequest {
  const envelope = publishRequestSchema.safeParse(input);
  if (!envelope.success) {
    throw new SchemaInvalidError('invalid event', toIssues(envelope.error));
  }
  const { type, data } = checkData(
    envelope.data.type,
    envelope.data.version,
    envelope.data.data,
    [],
  );
  let key = envelope.data.idempotencyKey;
  if (options.idempotencyKeyHeader !== undefined) {
    const header = idempotencyKey.safeParse(options.idempotencyKeyHeader);
    if (!header.success) {
      throw new SchemaInvalidError(
        'invalid Idempotency-Key header',
        toIssues(header.error, ['Idempotency-Key']),
      );
    }
    key = header.data;
  }
  return { ...envelope.data, type, data, idempotencyKey: key };
}

export interface EnvelopeDefaults {
  /** Current time; injected so tests control it. Default: `new Date()`. */
  now?: () => Date;
  /** New event id; default UUIDv7 (time-ordered). */
  newId?: () => string;
}

/** Fills in id, occurredAt, correlationId (defaults to the id) and idempotencyKey. */
export function createEnvelope(
  request: ValidPublishRequest,
  defaults: EnvelopeDefaults = {},
): Envelope {
  const id = (defaults.newId ?? uuidv7)();
  const definition = findEventVersion(request.type, request.version);
  if (!definition) {
    throw new UnknownEventVersionError(
      `event type "${request.type}" has no version ${request.version}`,
    );
  }
  const envelope: RawEnvelope = {
    id,
    type: request.type,
    version: request.version,
    occurredAt: request.occurredAt ?? (defaults.now ?? (() => new Date()))().toISOString(),
    ...(request.tenantId === undefined ? {} : { tenantId: request.tenantId }),
    correlationId: request.correlationId ?? id,
    idempotencyKey:
      request.idempotencyKey ??
      deriveIdempotencyKey({
        type: request.type,
        version: request.version,
        tenantId: request.tenantId,
        data: request.data,
        definition,
      }),
    data: request.data,
  };
  return envelope as Envelope;
}

/**
 * Validates a stored envelope and its data. Throws like `parsePublishRequest`;
 * a worker sends any of these errors to the dead-letter queue unretried.
 */
export function parseEnvelope(input: unknown): Envelope {
  const envelope = envelopeSchema.safeParse(input);
  if (!envelope.success) {
    throw new SchemaInvalidError('invalid envelope', toIssues(envelope.error));
  }
  const { type, data } = checkData(
    envelope.data.type,
    envelope.data.version,
    envelope.data.data,
    [],
  );
  return { ...envelope.data, type, data } as Envelope;
}
