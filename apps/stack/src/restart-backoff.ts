/**
 * When to restart a child that exited unexpectedly: exponential backoff, so a
 * child that crashes at boot does not spin the CPU, and a reset after a
 * healthy run, so one crash a day is retried at once rather than after 30 s.
 */

export interface RestartBackoffOptions {
  /** Delay before the first restart of a crash streak, in ms. Default 500. */
  initialDelayMs: number;
  /** Ceiling of the delay, in ms. Default 30000. */
  maxDelayMs: number;
  /** A child that ran at least this long (ms) before exiting starts a new streak. Default 60000. */
  resetAfterMs: number;
}

export const defaultRestartBackoff: Readonly<RestartBackoffOptions> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
});

export class RestartBackoff {
  private readonly options: RestartBackoffOptions;
  /** Consecutive quick exits; the delay doubles with each. */
  private streak = 0;
  /** Restarts ever scheduled for this child (not reset): the number users see. */
  private restarts = 0;

  constructor(options: Partial<RestartBackoffOptions> = {}) {
    this.options = { ...defaultRestartBackoff, ...options };
  }

  /** Records an exit after `uptimeMs` of running; returns the delay and the restart's number (1-based). */
  next(uptimeMs: number): { delayMs: number; restart: number } {
    if (uptimeMs >= this.options.resetAfterMs) this.streak = 0;
    const delayMs = Math.min(
      this.options.initialDelayMs * 2 ** this.streak,
      this.options.maxDelayMs,
    );
    this.streak += 1;
    this.restarts += 1;
    return { delayMs, restart: this.restarts };
  }
}

/** `500ms`, `1s`, `1.5s`, `30s`: how the supervisor states a delay. */
export function formatDelay(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}
