/**
 * The envelope every event travels in, and the two ways in:
 * - `parsePublishRequest` + `createEnvelope`: what a publisher sends (type,
 *   version, data, optional tenant/correlation/time/key) becomes a full
 *   envelope, with id, time, correlation id and idempotency key filled in.
 * - `parseEnvelope`: a job read back from Redis is validated again, since a
 *   job added straight to Redis or from the dashboard bypassed ingest, and
 *   upcast to its type's newest version, so workers only see that one.
 *
 * Upcasting happens here and nowhere else: a stored envelope is checked
 * against its own version, then each newer version's `upcast` runs in turn
 * and its result is checked against that version's schema. The envelope
 * keeps its id, idempotency key and every other field; only `version` and
 * `data` change. The stored job is never modified.
 */
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import {
  findEventVersion,
  isEventType,
  versionsOf,
  type AnyVersionEventData,
  type EventData,
  type EventType,
} from './catalogue.js';
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
  /**
   * Delivery options, not part of the event: they go into the jobs' BullMQ
   * options and never into the stored envelope or the payload fingerprint.
   * `delayMs`: hold the jobs this long (at most 30 days). `priority`: BullMQ
   * priority, 1 (highest) to 2 097 152; none means plain FIFO.
   */
  delayMs: z
    .int()
    .min(0)
    .max(30 * 86_400_000)
    .optional(),
  priority: z.int().min(1).max(2_097_152).optional(),
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

/**
 * An envelope of `T` in its newest version, data validated: what
 * `parseEnvelope` returns and handlers receive.
 */
export type Envelope<T extends EventType = EventType> = {
  [K in T]: Omit<RawEnvelope, 'type' | 'data'> & { type: K; data: EventData<K> };
}[T];

/**
 * An envelope of `T` in whichever version it was published, data validated
 * against that version: what publishers enqueue and queues hold.
 */
export type StoredEnvelope<T extends EventType = EventType> = {
  [K in T]: Omit<RawEnvelope, 'type' | 'data'> & { type: K; data: AnyVersionEventData<K> };
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
  /** Delivery option (see publishRequestSchema); not copied into the envelope. */
  delayMs?: number | undefined;
  /** Delivery option (see publishRequestSchema); not copied into the envelope. */
  priority?: number | undefined;
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

/**
 * Fills in id, occurredAt, correlationId (defaults to the id) and
 * idempotencyKey. The envelope stays in the published version: a v1 publish
 * is enqueued as v1 (its derived key names v1) and upcast when consumed.
 */
export function createEnvelope(
  request: ValidPublishRequest,
  defaults: EnvelopeDefaults = {},
): StoredEnvelope {
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
  return envelope as StoredEnvelope;
}

export interface ParseEnvelopeOptions {
  /**
   * Upcast to the type's newest version. Default: true. `false` validates
   * the envelope against its own version and returns it as stored.
   */
  upcast?: boolean;
}

/**
 * Validates a stored envelope and its data against the envelope's own
 * version, then (by default) upcasts it to the newest version. Throws
 * SchemaInvalidError (envelope fields, data, or an upcaster that threw or
 * produced invalid data), UnknownEventTypeError or UnknownEventVersionError;
 * a worker sends any of these to the dead-letter queue unretried.
 */
export function parseEnvelope(input: unknown, options?: { upcast?: true }): Envelope;
export function parseEnvelope(input: unknown, options: { upcast: false }): StoredEnvelope;
export function parseEnvelope(input: unknown, options?: ParseEnvelopeOptions): StoredEnvelope;
export function parseEnvelope(
  input: unknown,
  options: ParseEnvelopeOptions = {},
): StoredEnvelope | Envelope {
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
  const stored = { ...envelope.data, type, data } as StoredEnvelope;
  return options.upcast === false ? stored : upcastEnvelope(stored);
}

/**
 * Brings a validated stored envelope to its type's newest version, one
 * version at a time, validating each step's result against that version's
 * schema. Returns the same envelope when it is already the newest. Pure:
 * neither the input nor its data is modified.
 */
export function upcastEnvelope(stored: StoredEnvelope): Envelope {
  let version = stored.version;
  let data = stored.data as Record<string, unknown>;
  for (const next of versionsOf(stored.type)) {
    if (next <= version) continue;
    const definition = findEventVersion(stored.type, next);
    const step = `${stored.type} v${version} -> v${next}`;
    if (!definition?.upcast) {
      // The catalogue test forbids this; an older job must not reach a handler unconverted.
      throw new SchemaInvalidError(`no upcaster for ${step}`);
    }
    let upcast: unknown;
    try {
      upcast = definition.upcast(data);
    } catch (error) {
      throw new SchemaInvalidError(
        `upcaster ${step} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const parsed = definition.schema.safeParse(upcast);
    if (!parsed.success) {
      throw new SchemaInvalidError(
        `upcaster ${step} produced data that does not match ${stored.type} v${next}`,
        toIssues(parsed.error, ['data']),
      );
    }
    data = parsed.data;
    version = next;
  }
  return { ...stored, version, data } as Envelope;
}
