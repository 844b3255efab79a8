/**
 * What every role child shares: the clock, the in-flight and paced
 * producers, and the consumer's accounting (HDR latency histogram, done
 * count, CPU and peak RSS).
 */
import * as hdr from 'hdr-histogram-js';
import type { ConsumeResult, ConsumerVariant, ProduceResult } from './protocol.js';

/** Epoch ms with sub-ms precision, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

const cpuMicros = (): number => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

/** The queue operations a role implements; the child drives them. */
export interface Role {
  /** Publishes one job stamped with `publishedAt`. */
  addOne(seq: number, publishedAt: number): Promise<void>;
  /** Publishes `count` jobs (seq .. seq+count-1) in one bulk call. */
  addBatch(seq: number, count: number, publishedAt: number): Promise<void>;
  /** Starts consuming; every handler calls stats.started(publishedAt) and stats.finished(). */
  startConsumer(concurrency: number, variant: ConsumerVariant, stats: ConsumerStats): Promise<void>;
  stopConsumer(): Promise<void>;
  close(): Promise<void>;
}

/** Padding so a job's own data (before any envelope) is about `bytes` of JSON. */
export function padding(bytes: number): string {
  return 'x'.repeat(Math.max(1, bytes));
}

/** Runs fn for n sequence numbers with at most `inFlight` outstanding. */
export async function produceInFlight(
  n: number,
  inFlight: number,
  next: () => number,
  fn: (seq: number, publishedAt: number) => Promise<void>,
): Promise<ProduceResult> {
  const cpu0 = cpuMicros();
  const tStart = now();
  let issued = 0;
  let errors = 0;
  let firstError: unknown;
  const lane = async () => {
    while (issued < n) {
      issued++;
      try {
        await fn(next(), now());
      } catch (error) {
        errors++;
        firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
  if (errors > 0)
    process.stderr.write(`bench child: ${errors} publishes failed, first: ${String(firstError)}\n`);
  return { sent: n - errors, errors, tStart, tEnd: now(), cpuMicros: cpuMicros() - cpu0 };
}

/**
 * Offers `rate` jobs/s for `durationMs`: every 2 ms it issues the jobs now
 * due, each stamped when issued. Past `maxInFlight` outstanding it drops
 * (counted as errors) rather than queueing in this process, so latency is
 * never hidden in the load generator.
 */
export async function producePaced(
  rate: number,
  durationMs: number,
  maxInFlight: number,
  next: () => number,
  fn: (seq: number, publishedAt: number) => Promise<void>,
): Promise<ProduceResult> {
  const cpu0 = cpuMicros();
  const tStart = now();
  let issued = 0;
  let sent = 0;
  let errors = 0;
  let outstanding = 0;
  const pending = new Set<Promise<void>>();
  const total = Math.round((rate * durationMs) / 1000);
  while (issued < total) {
    const due = Math.min(total, Math.floor(((now() - tStart) * rate) / 1000));
    while (issued < due) {
      issued++;
      if (outstanding >= maxInFlight) {
        errors++;
        continue;
      }
      outstanding++;
      const call = fn(next(), now()).then(
        () => {
          sent++;
        },
        () => {
          errors++;
        },
      );
      const tracked = call.finally(() => {
        outstanding--;
        pending.delete(tracked);
      });
      pending.add(tracked);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(pending);
  return { sent, errors, tStart, tEnd: now(), cpuMicros: cpuMicros() - cpu0 };
}

/** One consumer run's accounting; a new one per startConsumer. */
export class ConsumerStats {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  private done = 0;
  private tFirst = 0;
  private tEnd = 0;
  private cpu0 = cpuMicros();
  private rssPeak = process.memoryUsage.rss();
  private readonly sampler = setInterval(() => {
    this.rssPeak = Math.max(this.rssPeak, process.memoryUsage.rss());
  }, 50);
  private waiter: { expect: number; resolve: () => void } | undefined;

  /** Called once the consumer is ready: CPU counts from here. */
  ready(): void {
    this.cpu0 = cpuMicros();
  }

  /** A handler started a job published at `publishedAt` (NaN: unknown). */
  started(publishedAt: number): void {
    const t = now();
    if (this.tFirst === 0) this.tFirst = t;
    if (Number.isFinite(publishedAt)) {
      this.histogram.recordValue(Math.max(1, Math.round((t - publishedAt) * 1000)));
    }
  }

  finished(): void {
    this.done++;
    if (this.waiter && this.done >= this.waiter.expect) {
      this.tEnd = now();
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve();
    }
  }

  /** Resolves once `expect` jobs finished; rejects after timeoutMs with the count so far. */
  async waitFor(expect: number, timeoutMs: number): Promise<ConsumeResult> {
    if (this.done < expect) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          reject(new Error(`only ${this.done} of ${expect} jobs finished within ${timeoutMs} ms`));
        }, timeoutMs);
        this.waiter = {
          expect,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    } else if (this.tEnd === 0) {
      this.tEnd = now();
    }
    return this.result();
  }

  result(): ConsumeResult {
    const h = this.histogram;
    const count = h.totalCount;
    return {
      done: this.done,
      tFirst: this.tFirst,
      tEnd: this.tEnd || now(),
      cpuMicros: cpuMicros() - this.cpu0,
      latency: {
        count,
        p50: count ? h.getValueAtPercentile(50) / 1000 : NaN,
        p99: count ? h.getValueAtPercentile(99) / 1000 : NaN,
        max: count ? h.maxValue / 1000 : NaN,
      },
      rssPeak: this.rssPeak,
    };
  }

  dispose(): void {
    clearInterval(this.sampler);
    this.histogram.destroy();
  }
}
