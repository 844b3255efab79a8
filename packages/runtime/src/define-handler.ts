/**
 * A handler: what one subscriber does with one event type, and the policy it
 * runs under (concurrency, attempts, backoff, timeout, retry budget, which
 * errors are permanent). The event's `data` is typed from the catalogue's
 * newest version of its type (older jobs are upcast before the handler runs),
 * and the type system only accepts event types that the routing table sends
 * to that subscriber.
 */
import {
  maxHandlerAttempts,
  subscribers,
  type Envelope,
  type SubscriberName,
} from '@switchyard/events';
import type { Logger } from '@switchyard/observability';
import { defaultBackoff, type BackoffOptions } from './backoff.js';
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
   * Aborted when the attempt must stop: its `timeoutMs` passed (reason: a
   * TimeoutError), the worker's shutdown deadline passed (WorkerClosingError),
   * or BullMQ cancelled the job. Pass it to every call that waits. A handler
   * that ignores it loses its slot anyway: the worker stops waiting for it.
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
  /**
   * Runs the side effect `fn` once per (subscriber, eventId, name), however
   * often the job is delivered; a repeat resolves with the first run's result
   * (JSON round-tripped; `undefined` when it was undefined or its JSON is over
   * 8 KiB: markers stay small). A concurrent duplicate waits for the running
   * one. See effect-once.ts for the window that remains (the downstream's
   * idempotency key covers it).
   *
   * Marker TTL (createWorker `effectTtlMs`, default 7 days): a marker must
   * outlive every redelivery of its event, i.e. the retry budget (24 h by
   * default) plus the time an entry may sit in the DLQ before a replay; past
   * the TTL a replay runs `fn` again and only the idempotency key protects.
   * Memory: about (key + 8 KiB) per marker at most, times events per TTL.
   */
  once<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** A handler's policy; each option's default is given where it is declared. */
export interface HandlerOptions {
  /**
   * Most jobs of this event type this process runs at once; the worker's own
   * concurrency caps the total across its handlers. Default: 10.
   */
  concurrency?: number;
  /**
   * Attempts before the job is dead-lettered (1..maxHandlerAttempts = 100).
   * The job's own `attempts` option caps it further: the limit is the
   * smaller of the two. Default: 5.
   */
  attempts?: number;
  /**
   * Delay between attempts: min(maxMs, baseMs·2^(n−1)) shortened by up to
   * `jitter` at random. Default: { baseMs: 1000, maxMs: 300000, jitter: 0.2 }.
   */
  backoff?: Partial<BackoffOptions>;
  /**
   * How long one attempt may run, in ms (at most 2147483647, Node's largest
   * timer); then ctx.signal aborts with a TimeoutError and the attempt fails
   * (transient). Default: 30000.
   */
  timeoutMs?: number;
  /**
   * Time from the job's creation after which it is not retried any more, in
   * ms: a retry whose delay would end past it dead-letters the job instead
   * (reason retry_budget_exhausted). At most 2147483647. Default: 86400000 (24 h).
   */
  retryBudgetMs?: number;
  /**
   * Marks more errors as permanent (DLQ after one attempt). PermanentError,
   * DownstreamRejectedError and BullMQ's UnrecoverableError always are.
   * Default: none.
   */
  isPermanent?: (error: unknown) => boolean;
}

export interface HandlerDefinition<
  S extends SubscriberName,
  T extends EventsOf<S>,
> extends HandlerOptions {
  subscriber: S;
  event: T;
  /**
   * Resolve when the side effect is done; throw to fail the attempt. What
   * happens next depends on the error's class (see errors.ts). `event` is
   * always in the newest version of `T`, whichever version was published.
   */
  handle: (event: Envelope<T>, ctx: HandlerContext) => Promise<void>;
}

/** A handler with every option resolved to its value. */
export interface DefinedHandler<S extends SubscriberName, T extends EventsOf<S>> {
  readonly subscriber: S;
  readonly event: T;
  readonly handle: (event: Envelope<T>, ctx: HandlerContext) => Promise<void>;
  readonly concurrency: number;
  readonly attempts: number;
  readonly backoff: Readonly<BackoffOptions>;
  readonly timeoutMs: number;
  readonly retryBudgetMs: number;
  readonly isPermanent: ((error: unknown) => boolean) | undefined;
}

/** A handler of any subscriber and event type it receives; `createWorker` takes a list of these. */
export type Handler = {
  [S in SubscriberName]: { [T in EventsOf<S>]: DefinedHandler<S, T> }[EventsOf<S>];
}[SubscriberName];

export const defaultHandlerConcurrency = 10;
export const defaultHandlerAttempts = 5;
export const defaultHandlerTimeoutMs = 30_000;
export const defaultRetryBudgetMs = 86_400_000;
/**
 * Largest delay Node's timers honour (2^31 − 1 ms, about 24.8 days): a
 * larger one fires at once. Every ms option that may reach a timer is capped
 * at it.
 */
export const maxTimerMs = 2_147_483_647;

export function defineHandler<S extends SubscriberName, T extends EventsOf<S>>(
  definition: HandlerDefinition<S, T>,
): DefinedHandler<S, T> {
  const events: readonly string[] = subscribers[definition.subscriber]?.events ?? [];
  const where = `handler for ${definition.subscriber}/${definition.event}`;
  if (!events.includes(definition.event)) {
    throw new WorkerConfigError(
      `subscriber "${definition.subscriber}" does not receive "${definition.event}"; its events: ${events.join(', ') || '(unknown subscriber)'}`,
    );
  }
  const integer = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new WorkerConfigError(
        `${where}: ${name} must be an integer in ${min}..${max}, got ${value}`,
      );
    }
    return value;
  };
  const backoff = { ...defaultBackoff, ...definition.backoff };
  integer('backoff.baseMs', backoff.baseMs, 0, maxTimerMs);
  integer('backoff.maxMs', backoff.maxMs, backoff.baseMs, maxTimerMs);
  if (!(backoff.jitter >= 0 && backoff.jitter <= 1)) {
    throw new WorkerConfigError(`${where}: backoff.jitter must be in 0..1, got ${backoff.jitter}`);
  }
  return Object.freeze({
    subscriber: definition.subscriber,
    event: definition.event,
    handle: definition.handle,
    concurrency: integer('concurrency', definition.concurrency ?? defaultHandlerConcurrency, 1),
    attempts: integer(
      'attempts',
      definition.attempts ?? defaultHandlerAttempts,
      1,
      maxHandlerAttempts,
    ),
    backoff: Object.freeze(backoff),
    timeoutMs: integer('timeoutMs', definition.timeoutMs ?? defaultHandlerTimeoutMs, 1, maxTimerMs),
    retryBudgetMs: integer(
      'retryBudgetMs',
      definition.retryBudgetMs ?? defaultRetryBudgetMs,
      0,
      maxTimerMs,
    ),
    isPermanent: definition.isPermanent,
  });
}
