/**
 * The idempotency ledger: one Redis string per idempotency key.
 *
 *   key:   `<prefix>:idempotency:<tenantId>/<idempotencyKey>` (tenant empty
 *          when none): keys are per tenant, so one tenant's key can neither
 *          collide with nor reveal another's. Tenant ids cannot hold `/`,
 *          so the first `/` separates the two unambiguously.
 *   value: JSON IdempotencyRecord (below)
 *   TTL:   the idempotency window, set once when the key is claimed and kept
 *          when the record is marked accepted (`KEEPTTL`), so the window
 *          runs from the first publish.
 *
 * The record outlives the jobs it describes only if the window is at least
 * the completed-job retention (both default to 24 h); that is what lets a
 * duplicate be recognised after its jobs were processed and removed.
 */
import { IdempotencyRecordInvalidError } from './errors.js';

export interface IdempotencyRecord {
  /** The event id every subscriber job carries as its job id. */
  eventId: string;
  /** events' payloadFingerprint: tells a retry (same) from a conflict (different). */
  fingerprint: string;
  /** The queues the event was (or is being) fanned out to, in routing order. */
  queues: string[];
  /**
   * 'pending': claimed, fan-out not confirmed (in flight, or its publisher
   * failed or died). 'accepted': every queue has the job.
   */
  state: 'pending' | 'accepted';
  /** ISO-8601 time the fan-out was confirmed; null while pending. */
  acceptedAt: string | null;
  /**
   * The envelope fields a retry cannot recompute (its own would differ), so
   * that completing a pending record enqueues the very envelope the first
   * attempt built.
   */
  occurredAt: string;
  correlationId: string;
}

export function idempotencyRecordKey(
  prefix: string,
  idempotencyKey: string,
  tenantId?: string,
): string {
  return `${prefix}:idempotency:${tenantId ?? ''}/${idempotencyKey}`;
}

export function encodeIdempotencyRecord(record: IdempotencyRecord): string {
  return JSON.stringify(record);
}

/** Parses a stored record; throws IdempotencyRecordInvalidError when it is not one. */
export function decodeIdempotencyRecord(key: string, text: string): IdempotencyRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new IdempotencyRecordInvalidError(`${key} does not hold JSON`, {
      cause: error,
      details: { key },
    });
  }
  if (!isIdempotencyRecord(value)) {
    throw new IdempotencyRecordInvalidError(`${key} does not hold an idempotency record`, {
      details: { key },
    });
  }
  return value;
}

function isIdempotencyRecord(value: unknown): value is IdempotencyRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.eventId === 'string' &&
    typeof record.fingerprint === 'string' &&
    Array.isArray(record.queues) &&
    record.queues.every((queue) => typeof queue === 'string') &&
    (record.state === 'pending' || record.state === 'accepted') &&
    (record.acceptedAt === null || typeof record.acceptedAt === 'string') &&
    typeof record.occurredAt === 'string' &&
    typeof record.correlationId === 'string'
  );
}
