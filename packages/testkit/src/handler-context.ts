import type { Envelope, SubscriberName } from '@switchyard/events';

export interface HandlerContextOptions<Logger> {
  subscriber: SubscriberName;
  /** The handler's logger; the testkit has none of its own (it cannot depend on observability). */
  logger: Logger;
  /** Default `worker-<subscriber>-test`. */
  workerId?: string;
}

/** The fields of the runtime's `HandlerContext`, with the logger left to the caller. */
export interface TestHandlerContext<Logger> {
  logger: Logger;
  signal: AbortSignal;
  idempotencyKey: string;
  /** Always 1; spread and override for a retry (`{ ...ctx, attempt: 2 }`). */
  attempt: number;
  eventId: string;
  subscriber: SubscriberName;
  workerId: string;
  once<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * What the runtime hands a handler for the first attempt at `event`, for
 * calling a handler directly: structurally a runtime `HandlerContext` (the
 * testkit cannot import the runtime, whose tests use the testkit). `once` is
 * a pass-through: such tests exercise the downstream call; ctx.once is the
 * runtime's, tested there.
 */
export function handlerContext<Logger>(
  event: Envelope,
  opts: HandlerContextOptions<Logger>,
): TestHandlerContext<Logger> {
  return {
    logger: opts.logger,
    signal: new AbortController().signal,
    idempotencyKey: event.idempotencyKey,
    attempt: 1,
    eventId: event.id,
    subscriber: opts.subscriber,
    workerId: opts.workerId ?? `worker-${opts.subscriber}-test`,
    once: (_name, fn) => fn(),
  };
}
