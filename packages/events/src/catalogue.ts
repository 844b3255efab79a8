/**
 * The event catalogue: the one registry that maps each event type and version
 * to its zod schema and business key. Producer, client and workers import it;
 * every payload type is inferred from it, never written twice.
 *
 * Adding a version: add `N: defineEventVersion(...)` under its type. A version
 * once published never changes shape (JSON Schema snapshots will guard that).
 */
import { z } from 'zod';
import { entityId } from './fields.js';

export interface EventVersionDefinition<S extends z.ZodObject = z.ZodObject> {
  /** Validates `data`. Objects are strict: an unknown key is an error, not dropped. */
  schema: S;
  /**
   * The fields of `data` that identify the business fact. Two publishes with
   * equal values here (and the same type, version and tenant) derive the same
   * idempotency key, so the second is a duplicate.
   */
  businessKey: readonly (keyof z.infer<S> & string)[];
  /** One line for humans: docs, OpenAPI, the dashboard. */
  description: string;
}

export function defineEventVersion<S extends z.ZodObject>(
  definition: EventVersionDefinition<S>,
): EventVersionDefinition<S> {
  return definition;
}

export const catalogue = {
  'user.signed_up': {
    1: defineEventVersion({
      description: 'A user created an account.',
      schema: z.strictObject({
        userId: entityId,
        email: z.email().max(254),
        plan: z.enum(['free', 'pro', 'enterprise']),
      }),
      businessKey: ['userId'],
    }),
  },
  'payment.failed': {
    1: defineEventVersion({
      description: 'A charge for an invoice was declined or errored.',
      schema: z.strictObject({
        userId: entityId,
        invoiceId: entityId,
        /** Minor units; capped at 10^12 so sums stay exact in a double. */
        amountCents: z.int().min(1).max(1_000_000_000_000),
        /** ISO-4217 code, upper case. */
        currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO-4217 code such as EUR'),
        reason: z.string().min(1).max(500),
      }),
      businessKey: ['invoiceId'],
    }),
  },
} as const;

export type Catalogue = typeof catalogue;
export type EventType = keyof Catalogue;
export type EventVersion<T extends EventType> = keyof Catalogue[T] & number;
export type EventData<T extends EventType, V extends EventVersion<T> = EventVersion<T>> =
  Catalogue[T][V] extends EventVersionDefinition<infer S> ? z.infer<S> : never;

export const eventTypes = Object.keys(catalogue) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(catalogue, type);
}

/** The definition of `type`@`version`, or undefined when either is unknown. */
export function findEventVersion(
  type: string,
  version: number,
): EventVersionDefinition | undefined {
  if (!isEventType(type)) return undefined;
  const versions: Record<number, EventVersionDefinition> = catalogue[type];
  return Object.hasOwn(versions, version) ? versions[version] : undefined;
}

/** Every version of `type`, ascending. */
export function versionsOf(type: EventType): number[] {
  return Object.keys(catalogue[type])
    .map(Number)
    .sort((a, b) => a - b);
}

/** The newest version of `type`: what handlers receive. */
export function latestVersion(type: EventType): number {
  const versions = versionsOf(type);
  return versions[versions.length - 1] ?? 1;
}
