/**
 * The event catalogue: the one registry that maps each event type and version
 * to its zod schema and business key. Producer, client and workers import it;
 * every payload type is inferred from it, never written twice.
 *
 * Adding a version: add `N: defineEventVersion({ ..., upcast })` under its
 * type, where `upcast` turns version N−1's data into version N's. A version
 * once published never changes shape: `pnpm --filter @switchyard/events
 * schemas:check` compares each version with its committed JSON Schema
 * snapshot in `schemas/`, and `schemas:update` writes the snapshot of a new
 * version. Publishers may send any declared version; workers receive the
 * newest (see `parseEnvelope`).
 */
import { z } from 'zod';
import { entityId } from './fields.js';

export interface EventVersionDefinition<
  S extends z.ZodObject = z.ZodObject,
  Previous = Record<string, unknown>,
> {
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
  /**
   * Turns the previous version's data (already validated against its schema)
   * into this version's. Required on every version but a type's first; absent
   * on the first. Must be pure and synchronous: it runs in the worker on every
   * older job, its result is validated against `schema`, and a throw or an
   * invalid result dead-letters the job (schema_invalid), never crashes.
   * (Method syntax on purpose: its parameter is bivariant, so a typed
   * upcaster still fits the untyped `EventVersionDefinition`.)
   */
  upcast?(previous: Previous): z.input<S>;
}

export function defineEventVersion<S extends z.ZodObject, Previous = Record<string, unknown>>(
  definition: EventVersionDefinition<S, Previous>,
): EventVersionDefinition<S, Previous> {
  return definition;
}

const plan = z.enum(['free', 'pro', 'enterprise']);

const userSignedUpV1 = defineEventVersion({
  description: 'A user created an account.',
  schema: z.strictObject({
    userId: entityId,
    email: z.email().max(254),
    plan,
  }),
  businessKey: ['userId'],
});

export const catalogue = {
  'user.signed_up': {
    1: userSignedUpV1,
    /** v2: `plan` is now `tier` (billing sells tiers), and the user's `locale` for e-mails. */
    2: defineEventVersion({
      description: 'A user created an account (with tier and locale).',
      schema: z.strictObject({
        userId: entityId,
        email: z.email().max(254),
        tier: plan,
        /** BCP-47 language tag, language plus optional region: `en`, `de-CH`. */
        locale: z
          .string()
          .max(35)
          .regex(
            /^[a-z]{2,3}(-[A-Z]{2}|-[0-9]{3})?$/,
            'must be a language tag such as en or de-CH',
          ),
      }),
      businessKey: ['userId'],
      /** v1 publishers did not know the locale: their users get English. */
      upcast: ({ userId, email, plan }: z.output<typeof userSignedUpV1.schema>) => ({
        userId,
        email,
        tier: plan,
        locale: 'en',
      }),
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

/**
 * The largest member of a union of non-negative integer literals (counts up
 * to it, so bounded by the largest version, at most 1 000).
 */
type Largest<N extends number, Count extends unknown[] = [], Found extends number = never> = [
  N,
] extends [never]
  ? Found
  : Count['length'] extends N
    ? Largest<Exclude<N, Count['length']>, [...Count, unknown], Count['length']>
    : Largest<N, [...Count, unknown], Found>;

/** The newest version of `T`: what handlers receive. */
export type LatestVersion<T extends EventType> = Largest<EventVersion<T>>;

/** The data of `T` in version `V`; by default the newest, the shape handlers see. */
export type EventData<T extends EventType, V extends EventVersion<T> = LatestVersion<T>> =
  Catalogue[T][V] extends EventVersionDefinition<infer S, infer _Previous> ? z.infer<S> : never;

/** The data of `T` in any declared version: what a publisher may send and a queue may hold. */
export type AnyVersionEventData<T extends EventType> = {
  [V in EventVersion<T>]: EventData<T, V>;
}[EventVersion<T>];

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
