/**
 * Idempotency keys and payload fingerprints.
 *
 * A derived key names the business fact: type, version, tenant and the
 * values of the schema's business-key fields. A fingerprint names the exact
 * payload, so "same key, different payload" can be told apart from a retry.
 * Both hash a canonical JSON form (keys sorted), so property order and the
 * publisher's language do not matter.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import type { EventVersionDefinition } from './catalogue.js';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** Canonical JSON: sorted keys, no whitespace. */
export function canonicalJson(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text;
}

/**
 * The idempotency key for a publish that carries none:
 * `<type>:v<version>:<sha256 of [tenantId, ...business-key values]>`.
 * Deterministic across processes and releases; tenant-scoped so two tenants'
 * `userId: "u_1"` never collide.
 */
export function deriveIdempotencyKey(input: {
  type: string;
  version: number;
  tenantId?: string | undefined;
  data: Record<string, unknown>;
  definition: Pick<EventVersionDefinition, 'businessKey'>;
}): string {
  const values = input.definition.businessKey.map((field) => input.data[field] ?? null);
  return `${input.type}:v${input.version}:${sha256(canonicalJson([input.tenantId ?? null, ...values]))}`;
}

/**
 * The fingerprint of what was published: type, version, tenant and data.
 * The envelope's id, timestamps and correlation id are left out, so a retry
 * that regenerates them is still recognised as the same payload.
 */
export function payloadFingerprint(input: {
  type: string;
  version: number;
  tenantId?: string | undefined;
  data: unknown;
}): string {
  return sha256(
    canonicalJson({
      type: input.type,
      version: input.version,
      tenantId: input.tenantId ?? null,
      data: input.data,
    }),
  );
}
