/**
 * Field schemas shared by the envelope and the catalogue. Every string has an
 * upper bound so a hostile payload cannot make us hash, store or log
 * megabytes through one field.
 */
import { z } from 'zod';

/** Visible ASCII only: safe in Redis keys, HTTP headers and log lines. */
const visibleAscii = /^[\x21-\x7e]+$/;

/** Identifiers of domain objects (`userId`, `invoiceId`, ...). */
export const entityId = z.string().min(1).max(128).regex(visibleAscii, 'must be visible ASCII');

/** A caller-chosen idempotency key (`Idempotency-Key` header or field). */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .regex(visibleAscii, 'must be visible ASCII without spaces');

/** Correlates the log lines and jobs of one business flow across services. */
export const correlationId = z
  .string()
  .min(1)
  .max(200)
  .regex(visibleAscii, 'must be visible ASCII without spaces');

/** Tenant of a multi-tenant publisher; scopes derived idempotency keys. */
export const tenantId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._:-]+$/, 'may hold letters, digits and . _ : -');

/** ISO-8601 timestamp with a zone offset (`Z` or `+02:00`). */
export const timestamp = z.iso.datetime({ offset: true });

/** Event type names: dotted lower-case words, e.g. `user.signed_up`. */
export const eventTypeName = z
  .string()
  .min(3)
  .max(100)
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'must be dotted lower-case words');

/** Versions are positive integers; 1 000 leaves room without unbounded values. */
export const eventVersion = z.int().min(1).max(1000);
