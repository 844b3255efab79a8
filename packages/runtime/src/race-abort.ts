/**
 * Waiting on work that may be aborted or may never settle: shared by the
 * handler worker and the schedule runner.
 */
import type { Logger } from '@switchyard/observability';
import { WorkerClosingError } from './errors.js';

/** How long aborted work may take to unwind before the caller stops waiting for it. */
export const abortUnwindMs = 500;

/**
 * Settles with `work`; when the signal aborts first, gives `work`
 * `abortUnwindMs` to unwind (a cooperative handler releases its effect lease
 * and sockets while the connection is still open), then rejects with the
 * signal's reason, except after a shutdown abort (WorkerClosingError) when
 * `work` succeeded within that window: its work is done, so it resolves
 * (handing it back would run it again). A timeout still fails the attempt.
 * A handler that ignores the signal thus holds its slot at most
 * `abortUnwindMs` past the abort. An abandoned `work` still gets a handler,
 * so its late rejection is logged instead of floating.
 */
export async function raceAbort(
  work: Promise<void>,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const outcome = work.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  try {
    const first = await Promise.race([outcome, aborted]);
    if (first !== 'aborted') {
      if (first.ok) return;
      throw first.error;
    }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  if (await settlesWithin(outcome, abortUnwindMs)) {
    if ((await outcome).ok && signal.reason instanceof WorkerClosingError) return;
  } else {
    void outcome.then((result) =>
      result.ok
        ? logger.warn('abandoned handler finished after its attempt was aborted')
        : logger.warn(
            { err: result.error },
            'abandoned handler failed after its attempt was aborted',
          ),
    );
  }
  throw signal.reason;
}

/** Whether `promise` settled within `ms`; the timer is cleared either way. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
