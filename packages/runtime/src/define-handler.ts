/**
 * A handler: what one subscriber does with one event type. The event's
 * `data` is typed from the catalogue, and the type system only accepts event
 * types that the routing table sends to that subscriber.
 */
import { subscribers, type Envelope, type SubscriberName } from '@switchyard/events';
import type { Logger } from '@switchyard/observability';
import { WorkerConfigError } from './errors.js';

/** The event types the routing table delivers to subscriber `S`. */
export type EventsOf<S extends SubscriberName> = (typeof subscribers)[S]['events'][number];

/** What a handler gets besides the event. */
export interface HandlerContext {
  /**
   * Logs within this job. Its lines carry eventId, eventType, correlationId,
   * subscriber and attempt through the correlation context (createLogger's
   * mixin), and workerId as a binding; the fields are not bound again, so no
   * line holds a key twice.
   */
  logger: Logger;
  /**
   * Aborted when the job must stop: the worker's close() deadline passed, or
   * BullMQ cancelled the job. Pass it to every call that waits.
   */
  signal: AbortSignal;
  /** The event's idempotency key: send it as `Idempotency-Key` on every side effect. */
  idempotencyKey: string;
  /** 1 on the first delivery, then 2, 3, ... for each retry after a failed attempt. */
  attempt: number;
  eventId: string;
  subscriber: SubscriberName;
  /** The worker process running the job (WORKER_ID). */
  workerId: string;
}

export interface HandlerDefinition<S extends SubscriberName, T extends EventsOf<S>> {
  subscriber: S;
  event: T;
  /**
   * Resolve when the side effect is done; throw to fail the attempt. A
   * DownstreamRejectedError or BullMQ UnrecoverableError fails the job at
   * once; any other error is retried while attempts remain.
   */
  handle: (event: Envelope<T>, ctx: HandlerContext) => Promise<void>;
  /**
   * Most jobs of this event type this process runs at once; the worker's own
   * concurrency caps the total across its handlers. Default: 10.
   */
  concurrency?: number;
}

/** A handler of any subscriber and event type it receives; `createWorker` takes a list of these. */
export type Handler = {
  [S in SubscriberName]: { [T in EventsOf<S>]: Required<HandlerDefinition<S, T>> }[EventsOf<S>];
}[SubscriberName];

export const defaultHandlerConcurrency = 10;

export function defineHandler<S extends SubscriberName, T extends EventsOf<S>>(
  definition: HandlerDefinition<S, T>,
): Required<HandlerDefinition<S, T>> {
  const events: readonly string[] = subscribers[definition.subscriber]?.events ?? [];
  if (!events.includes(definition.event)) {
    throw new WorkerConfigError(
      `subscriber "${definition.subscriber}" does not receive "${definition.event}"; its events: ${events.join(', ') || '(unknown subscriber)'}`,
    );
  }
  const concurrency = definition.concurrency ?? defaultHandlerConcurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new WorkerConfigError(
      `handler for ${definition.subscriber}/${definition.event}: concurrency must be a positive integer, got ${concurrency}`,
    );
  }
  return Object.freeze({ ...definition, concurrency });
}
