/**
 * Correlation context: the ids that tie one event's log lines together
 * across the producer and every worker. Stored in AsyncLocalStorage so a
 * logger call deep inside a handler picks them up without being passed them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CorrelationFields {
  correlationId?: string;
  eventId?: string;
  eventType?: string;
  subscriber?: string;
  attempt?: number;
  tenantId?: string;
}

const storage = new AsyncLocalStorage<CorrelationFields>();

/** Runs `fn` with `fields` merged over the surrounding context. */
export function withCorrelation<T>(fields: CorrelationFields, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...fields }, fn);
}

/** The context of the current async flow; empty outside `withCorrelation`. */
export function currentCorrelation(): CorrelationFields {
  return storage.getStore() ?? {};
}
