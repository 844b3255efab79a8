import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { basename, dirname } from 'node:path';
import { AppStartError } from './errors.js';
import { guardChild } from './guard-child.js';
import { OutputBuffer } from './output-buffer.js';
import { within } from './within.js';

/** An app running as its own Node process, as users run it. */
export interface AppProcess {
  pid: number;
  /** Origin of `readyUrl` (e.g. http://127.0.0.1:3002); '' when none was given. */
  url: string;
  /** The last 200 KiB (outputLimitBytes) of its stdout and stderr, interleaved as they arrived. */
  output(): string;
  /**
   * Sends `signal` (default SIGTERM), waits up to `timeoutMs` (default
   * 10_000) for the process to exit, then SIGKILLs it. Resolves with the exit
   * code, or null when a signal ended it. Safe to call after it exited.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL; resolves once the process is dead. */
  kill(): Promise<void>;
  /** Resolves (never rejects) with the exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
}

export interface StartAppOptions {
  /** Absolute path to a built entry point (e.g. apps/sandbox/dist/main.js), run with this Node. */
  entry: string;
  /** The app's environment, over PATH and HOME inherited from this process; nothing else is inherited. */
  env: Record<string, string>;
  /** Polled with GET until it answers 200. Default: none (resolve once spawned). */
  readyUrl?: string;
  /** Bound on readiness; the process is killed when it is exceeded. Default 15_000 ms. */
  readyTimeoutMs?: number;
  /** Name in error messages. Default: the entry's package folder (apps/sandbox/dist/main.js -> 'sandbox'). */
  name?: string;
  /**
   * How much of the output `output()` keeps (the last bytes). Default
   * 200 KiB; raise it for a test that must see every line.
   */
  outputLimitBytes?: number;
}

const OUTPUT_LIMIT = 200 * 1024;
/** Grace for the pipes to drain after exit, so an error carries the last words. */
const OUTPUT_DRAIN_MS = 500;

export async function startApp(opts: StartAppOptions): Promise<AppProcess> {
  const name = opts.name ?? basename(dirname(dirname(opts.entry)));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const output = new OutputBuffer(opts.outputLimitBytes ?? OUTPUT_LIMIT);
  const inherited: Record<string, string> = {};
  if (process.env.PATH !== undefined) inherited.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) inherited.HOME = process.env.HOME;

  const child = spawn(process.execPath, [opts.entry], {
    env: { ...inherited, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => output.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.append(chunk));
  const closed = once(child, 'close').then(
    () => undefined,
    () => undefined,
  );
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(child.exitCode));
  });
  let exitedYet = false;
  void exited.then(() => {
    exitedYet = true;
  });

  const failure = async (why: string, cause?: unknown): Promise<AppStartError> => {
    await within(closed, OUTPUT_DRAIN_MS);
    const text = output.toString();
    return new AppStartError(
      `${name} (${opts.entry}) ${why}; its output:\n${text === '' ? '(none)' : text}`,
      child.pid,
      text,
      { cause },
    );
  };

  try {
    await once(child, 'spawn');
  } catch (error) {
    throw await failure('could not be spawned', error);
  }
  const pid = child.pid!;
  guardChild(child);

  const kill = async (): Promise<void> => {
    if (!exitedYet) child.kill('SIGKILL');
    await exited;
  };

  if (opts.readyUrl !== undefined) {
    const deadline = Date.now() + readyTimeoutMs;
    let lastProblem = 'no answer yet';
    for (;;) {
      if (exitedYet) {
        throw await failure(
          `exited with code ${String(await exited)} before ${opts.readyUrl} answered 200`,
        );
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        await kill();
        throw await failure(
          `was not ready within ${readyTimeoutMs} ms (${opts.readyUrl}: ${lastProblem}) and was killed`,
        );
      }
      try {
        const response = await fetch(opts.readyUrl, {
          signal: AbortSignal.timeout(Math.min(remaining, 1_000)),
        });
        await response.body?.cancel();
        if (response.status === 200) break;
        lastProblem = `answered ${response.status}`;
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      await within(exited, 50);
    }
  }

  return {
    pid,
    url: opts.readyUrl === undefined ? '' : new URL(opts.readyUrl).origin,
    output: () => output.toString(),
    exited,
    kill,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) {
      if (exitedYet) return exited;
      child.kill(signal);
      if (!(await within(exited, timeoutMs)).settled) child.kill('SIGKILL');
      return exited;
    },
  };
}
