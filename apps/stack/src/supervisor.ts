/**
 * Runs a set of child processes, restarts the ones that exit unexpectedly
 * (with backoff, and says so), and stops them all on request.
 *
 * Contracts:
 * - Each child runs in its own process group (`detached`), so a Ctrl-C at the
 *   terminal reaches only the supervisor, which then stops children in the
 *   order it chooses (e.g. workers before the sandbox they call, Redis last).
 *   A straggler's whole group is SIGKILLed, so its own children go too.
 * - Each child's group dies with the supervisor, even when the supervisor is
 *   SIGKILLed: a watchdog per child sends it SIGTERM, then SIGKILL after
 *   `shutdownTimeoutMs` (see group-watchdog.ts).
 * - A child's environment is exactly `spec.env`: whoever builds the spec
 *   decides what it inherits (stack-plan.ts passes the stack's own along).
 * - After `stop()` or `kill()` no child is restarted.
 * - A child that cannot be spawned at all (ENOENT, EACCES) is reported as
 *   such, to `onExit` and in the restart message, never as a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { watchGroup } from './group-watchdog.js';
import { formatDelay, RestartBackoff, type RestartBackoffOptions } from './restart-backoff.js';
import type { TaggedOutput } from './tagged-output.js';

export interface ChildSpec {
  /** Tag of the child's output lines and of messages about it, e.g. `worker-billing-1`. */
  name: string;
  /** Executable, e.g. process.execPath. */
  command: string;
  args: readonly string[];
  /** The child's complete environment: the supervisor adds nothing to it. */
  env: Readonly<Record<string, string>>;
  /** Working directory. Default: the supervisor's. */
  cwd?: string;
  /**
   * Children stop in ascending phase order, each phase only after the one
   * before has exited: give a dependency a higher phase than its users.
   * Default 0.
   */
  stopPhase?: number;
}

export interface SupervisorOptions {
  children: readonly ChildSpec[];
  /** Where child output and supervisor messages go. */
  output: TaggedOutput;
  /** Tag of the supervisor's own messages. Default `stack`. */
  name?: string;
  /** Restart delays. Default: 500 ms doubling to 30 s, reset after 60 s up. */
  backoff?: Partial<RestartBackoffOptions>;
  /**
   * Time from `stop()` until children still running get SIGKILL, in ms,
   * across all phases (a later phase gets at least 1 s). Default 15000.
   */
  shutdownTimeoutMs?: number;
  /**
   * Told of every exit, expected or not, before a restart is scheduled;
   * returning false leaves that child down. `error` is set (and code and
   * signal are null) when the process could not be spawned at all, e.g.
   * ENOENT for a missing executable. Default: always restart.
   */
  onExit?: (
    name: string,
    code: number | null,
    signal: NodeJS.Signals | null,
    error?: Error,
  ) => boolean | void;
}

interface SupervisedChild {
  readonly spec: ChildSpec;
  readonly backoff: RestartBackoff;
  process: ChildProcess | undefined;
  running: boolean;
  startedAt: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** Settles when the current process has exited (or failed to spawn). */
  exited: Promise<void>;
  /** Settles when the current process's output pipes have closed too. */
  closed: Promise<void>;
}

/** How long an exit is held back for the child's last output lines. */
const EXIT_OUTPUT_WAIT_MS = 200;
/** How long stop() waits for the last output of exited children before returning. */
const OUTPUT_DRAIN_MS = 500;

export class Supervisor {
  private readonly children: SupervisedChild[];
  private readonly output: TaggedOutput;
  private readonly name: string;
  private readonly shutdownTimeoutMs: number;
  private readonly onExit: SupervisorOptions['onExit'];
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(options: SupervisorOptions) {
    const names = new Set<string>();
    for (const spec of options.children) {
      if (names.has(spec.name)) throw new TypeError(`two children are named ${spec.name}`);
      names.add(spec.name);
    }
    this.output = options.output;
    this.name = options.name ?? 'stack';
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 15_000;
    this.onExit = options.onExit;
    this.children = options.children.map((spec) => ({
      spec,
      backoff: new RestartBackoff(options.backoff),
      process: undefined,
      running: false,
      startedAt: 0,
      restartTimer: undefined,
      exited: Promise.resolve(),
      closed: Promise.resolve(),
    }));
  }

  /** Spawns every child, in the order given. */
  start(): void {
    if (this.stopping) throw new Error('the supervisor has been stopped');
    for (const child of this.children) this.spawn(child);
  }

  /** Pid of each child's current process; undefined while it is down. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(
      this.children.map((child) => [
        child.spec.name,
        child.running ? child.process?.pid : undefined,
      ]),
    );
  }

  /**
   * SIGTERM to every child, phase by phase; SIGKILL to those still running
   * when the deadline passes. Resolves once every child has exited. Calling it
   * again returns the same promise.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  /** SIGKILL to every child's process group now; resolves once they have exited. */
  async kill(): Promise<void> {
    this.killNow();
    await Promise.all(this.children.map((child) => child.exited));
  }

  /**
   * Synchronous kill for `process.on('exit')`: the last chance not to leave
   * orphans behind when the supervisor itself dies.
   */
  killNow(): void {
    this.stopping = true;
    for (const child of this.children) {
      clearTimeout(child.restartTimer);
      if (child.running) signalGroup(child, 'SIGKILL');
    }
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    for (const child of this.children) clearTimeout(child.restartTimer);
    const deadline = Date.now() + this.shutdownTimeoutMs;
    const phases = [...new Set(this.children.map((child) => child.spec.stopPhase ?? 0))].sort(
      (a, b) => a - b,
    );
    for (const phase of phases) {
      const group = this.children.filter(
        (child) => (child.spec.stopPhase ?? 0) === phase && child.running,
      );
      if (group.length === 0) continue;
      for (const child of group) child.process?.kill('SIGTERM');
      const budget = Math.max(deadline - Date.now(), Math.min(1_000, this.shutdownTimeoutMs));
      await withTimeout(Promise.all(group.map((child) => child.exited)), budget);
      const stragglers = group.filter((child) => child.running);
      if (stragglers.length > 0) {
        this.say(
          `${stragglers.map((child) => child.spec.name).join(', ')} still running ` +
            `${formatDelay(this.shutdownTimeoutMs)} after SIGTERM; sending SIGKILL`,
          'stderr',
        );
        for (const child of stragglers) signalGroup(child, 'SIGKILL');
        await Promise.all(stragglers.map((child) => child.exited));
      }
    }
    await withTimeout(Promise.all(this.children.map((child) => child.closed)), OUTPUT_DRAIN_MS);
  }

  private spawn(child: SupervisedChild): void {
    const { spec } = child;
    const proc = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: { ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.process = proc;
    child.running = true;
    child.startedAt = Date.now();
    const watchdog =
      proc.pid === undefined
        ? undefined
        : watchGroup(proc.pid, { graceMs: this.shutdownTimeoutMs });
    if (proc.stdout) this.output.pipe(spec.name, proc.stdout, 'stdout');
    if (proc.stderr) this.output.pipe(spec.name, proc.stderr, 'stderr');
    const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    child.closed = closed;
    child.exited = new Promise((resolve) => {
      let settled = false;
      const settle = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (settled) return;
        settled = true;
        child.running = false;
        resolve();
        this.handleExit(child, code, signal, error);
      };
      proc.once('exit', (code, signal) => {
        child.running = false;
        watchdog?.release();
        // Let the child's last lines (often why it crashed) print before
        // the supervisor's verdict; a grandchild holding the pipes open must
        // not delay the restart, hence the bound.
        void withTimeout(closed, EXIT_OUTPUT_WAIT_MS).then(() => settle(code, signal));
      });
      proc.on('error', (error) => {
        // Without a pid the process never ran and no 'exit' will follow;
        // otherwise this is a failed kill() and the child is still up.
        if (proc.pid === undefined) settle(null, null, error);
        else this.say(`${spec.name}: ${error.message}`, 'stderr');
      });
    });
    if (proc.pid !== undefined) this.say(`started ${spec.name} (pid ${proc.pid})`);
  }

  private handleExit(
    child: SupervisedChild,
    code: number | null,
    signal: NodeJS.Signals | null,
    error: Error | undefined,
  ): void {
    const wanted = this.onExit?.(child.spec.name, code, signal, error);
    if (this.stopping || wanted === false) return;
    const how = error
      ? `could not be started (${error.message})`
      : code !== null
        ? `exited with code ${code}`
        : `was killed by ${signal ?? 'a signal'}`;
    const { delayMs, restart } = child.backoff.next(Date.now() - child.startedAt);
    this.say(
      `${child.spec.name} ${how}; restarting in ${formatDelay(delayMs)} (restart #${restart})`,
      'stderr',
    );
    child.restartTimer = setTimeout(() => {
      child.restartTimer = undefined;
      if (!this.stopping) this.spawn(child);
    }, delayMs);
  }

  private say(message: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.output.line(this.name, message, stream);
  }
}

function signalGroup(child: SupervisedChild, signal: NodeJS.Signals): void {
  const pid = child.process?.pid;
  if (pid === undefined) return;
  try {
    // Negative pid: the child's whole process group (it is its group's leader).
    process.kill(-pid, signal);
  } catch {
    child.process?.kill(signal);
  }
}

/** Waits for `promise` at most `ms`; the timer never outlives the wait. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
