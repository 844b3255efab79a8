/**
 * Runs the stack's main.ts as its own process, as `npm start` does (through
 * tsx, so the test exercises the source, not a possibly stale dist/; and with
 * the `@switchyard/source` condition, so workspace packages such as
 * observability come from their source too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CapturedStream } from './captured-stream.js';

const APP_DIR = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export class StackRun {
  readonly stdout = new CapturedStream();
  readonly stderr = new CapturedStream();
  readonly process: ChildProcess;
  /** Exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>;

  /** `args` go to main.ts, e.g. `['--dev']`. */
  constructor(env: Record<string, string>, args: readonly string[] = []) {
    this.process = spawn(
      process.execPath,
      ['--conditions=@switchyard/source', '--import', 'tsx', MAIN, ...args],
      {
        cwd: APP_DIR,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.process.stdout?.pipe(this.stdout);
    this.process.stderr?.pipe(this.stderr);
    this.exited = once(this.process, 'close').then(() => this.process.exitCode);
  }

  /** Everything printed so far, stdout then stderr, for failure messages. */
  get output(): string {
    return `${this.stdout.text}\n--- stderr ---\n${this.stderr.text}`;
  }

  /** Pids from the supervisor's `started <name> (pid N)` lines, last one per name. */
  childPids(): Map<string, number> {
    const pids = new Map<string, number>();
    for (const match of this.stdout.text.matchAll(/started (\S+) \(pid (\d+)\)/g))
      pids.set(match[1] ?? '', Number(match[2]));
    return pids;
  }

  signal(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  /** Kills the stack and, through its exit hook, its children; for afterEach. */
  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGKILL');
      await this.exited;
    }
    for (const pid of this.childPids().values()) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // Already gone (or not a group leader).
        }
      }
    }
  }
}

/** `count` consecutive free ports on 127.0.0.1; returns the first. */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const first = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let port = first; port < first + count && free; port += 1) free = await canBind(port);
    if (free) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}
