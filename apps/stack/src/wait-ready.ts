/**
 * Polls a readiness endpoint until it answers 200 or time runs out. Uses a
 * fresh connection per probe (no keep-alive agent), so nothing stays open
 * once the wait is over.
 */
import { get } from 'node:http';

export interface WaitReadyOptions {
  /** Give up after this long, in ms. */
  timeoutMs: number;
  /** Pause between probes, in ms. Default 200. */
  intervalMs?: number;
  /** Bound of one probe, in ms. Default 1000. */
  probeTimeoutMs?: number;
  /** Stops waiting early (resolves false), e.g. on shutdown. */
  signal?: AbortSignal;
}

/** Resolves true once `url` answers 200, false on timeout or abort. Never rejects. */
export async function waitReady(url: string, options: WaitReadyOptions): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 200;
  for (;;) {
    if (options.signal?.aborted) return false;
    if ((await probe(url, options.probeTimeoutMs ?? 1_000)) === 200) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(interval, left), options.signal);
  }
}

function probe(url: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = get(url, { agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(undefined));
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
