/**
 * Progress of a long run on stderr, so stdout stays the result: a bar
 * redrawn in place on a terminal (at most every 100 ms), else a plain line at
 * every 10 % step. Silent with --json.
 */
import type { Clock, Writer } from './command.js';
import { formatDuration } from './format.js';

export interface Progress {
  update(done: number, total: number): void;
  /** Ends the bar's line on a terminal. */
  finish(): void;
}

const barWidth = 30;
const redrawIntervalMs = 100;

export function createProgress(options: {
  stderr: Writer;
  isTTY: boolean;
  clock: Clock;
  label: string;
  silent: boolean;
}): Progress {
  const { stderr, isTTY, clock, label } = options;
  if (options.silent) return { update: () => undefined, finish: () => undefined };
  const startedAt = clock.monotonic();
  let lastDrawAt = -Infinity;
  let lastStep = -1;
  let drawn = false;

  function describe(done: number, total: number): string {
    const elapsedMs = clock.monotonic() - startedAt;
    const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    const etaMs = rate > 0 ? ((total - done) / rate) * 1000 : undefined;
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    return `${label} ${done}/${total} ${percent}% ${rate.toFixed(0)}/s${etaMs === undefined || done === total ? '' : ` eta ${formatDuration(etaMs)}`}`;
  }

  return {
    update(done, total) {
      if (isTTY) {
        const now = clock.monotonic();
        if (done < total && now - lastDrawAt < redrawIntervalMs) return;
        lastDrawAt = now;
        const filled = total === 0 ? barWidth : Math.round((done / total) * barWidth);
        stderr.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${describe(done, total)}\x1b[K`,
        );
        drawn = true;
        return;
      }
      const step = total === 0 ? 10 : Math.floor((done / total) * 10);
      if (step === lastStep) return;
      lastStep = step;
      stderr.write(`${describe(done, total)}\n`);
    },
    finish() {
      if (isTTY && drawn) stderr.write('\n');
    },
  };
}
