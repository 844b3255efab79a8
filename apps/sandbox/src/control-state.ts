import { z } from 'zod';

/**
 * Body of `PUT /control`: any subset of the knobs; unknown keys are refused
 * so a typo (`errorrate`) cannot silently do nothing.
 */
export const controlUpdateSchema = z.strictObject({
  /** Delay before every service call is answered, in ms. 0..60_000. */
  latencyMs: z.int().min(0).max(60_000).optional(),
  /** Share of service calls answered 500. 0..1. */
  errorRate: z.number().min(0).max(1).optional(),
  /** Share of service calls answered 429 with Retry-After. 0..1. */
  status429Rate: z.number().min(0).max(1).optional(),
  /** Retry-After sent with injected 429s, in seconds. 0..3_600. */
  retryAfterSeconds: z.int().min(0).max(3_600).optional(),
  /** Starts an outage: every service call answers 503 for this long, from now. 0 ends one. 0..3_600_000. */
  downForMs: z.int().min(0).max(3_600_000).optional(),
});

export type ControlUpdate = z.infer<typeof controlUpdateSchema>;

/** The standing settings; an outage is a window (`downUntil`), not a setting. */
export interface ControlSettings {
  latencyMs: number;
  errorRate: number;
  status429Rate: number;
  retryAfterSeconds: number;
}

/** How service calls were answered since start. */
export interface ControlStats {
  /** First calls applied (201). */
  accepted: number;
  /** Repeated keys answered with the first answer. */
  repeats: number;
  status429: number;
  status500: number;
  status503: number;
}

/** What `GET /control` and `PUT /control` answer. */
export interface ControlView extends ControlSettings {
  /** End of the current outage (ISO-8601), or null when there is none. */
  downUntil: string | null;
  stats: ControlStats;
}

/** Defaults: a healthy, instant API; Retry-After of 1 s once 429s are on. */
const defaultSettings: ControlSettings = {
  latencyMs: 0,
  errorRate: 0,
  status429Rate: 0,
  retryAfterSeconds: 1,
};

/** The sandbox's behaviour knobs, its outage window and its counters. */
export class ControlState {
  private current: ControlSettings = { ...defaultSettings };
  private downUntilMs: number | undefined;
  readonly stats: ControlStats = {
    accepted: 0,
    repeats: 0,
    status429: 0,
    status500: 0,
    status503: 0,
  };

  /** @param clock epoch ms; the outage window is measured with it. */
  constructor(private readonly clock: () => number) {}

  get settings(): Readonly<ControlSettings> {
    return this.current;
  }

  /** Merges `update` into the settings; `downForMs` (re)starts or ends the outage. */
  apply(update: ControlUpdate): void {
    const { downForMs, ...settings } = update;
    this.current = {
      ...this.current,
      ...Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)),
    };
    if (downForMs !== undefined) {
      this.downUntilMs = downForMs === 0 ? undefined : this.clock() + downForMs;
    }
  }

  /** Ms left in the current outage; 0 when the service is up. */
  downRemainingMs(): number {
    if (this.downUntilMs === undefined) return 0;
    const remaining = this.downUntilMs - this.clock();
    if (remaining <= 0) {
      this.downUntilMs = undefined;
      return 0;
    }
    return remaining;
  }

  view(): ControlView {
    const remaining = this.downRemainingMs();
    return {
      ...this.current,
      downUntil: remaining > 0 ? new Date(this.clock() + remaining).toISOString() : null,
      stats: { ...this.stats },
    };
  }
}
