/**
 * startFleet: worker replicas as real processes, the way users run them
 * (`node apps/<app>/dist/main.js`), under a supervisor that can SIGKILL,
 * SIGSTOP/SIGCONT and SIGTERM each one and start it again.
 *
 * Contract:
 * - each replica gets its own HEALTH_PORT (a free port) and WORKER_ID
 *   (`<app>-r<i>-g<generation>`), so the jobs it ran (`processedBy`) and its
 *   log lines name the incarnation that ran them;
 * - every child is tied to this process through the testkit's startApp
 *   (guardChild): it is SIGKILLed when the test process dies, however it dies;
 * - a paused replica is resumed before it is stopped or killed, so a SIGTERM
 *   is not left pending in a stopped process.
 */
import { fileURLToPath } from 'node:url';
import { assertBuilt, freePort, startApp, type AppProcess } from '@switchyard/testkit';
import { FleetUsageError } from './errors.js';

const repoRoot = new URL('../../../', import.meta.url);

export interface StartFleetOptions {
  /** The worker app under apps/, e.g. 'worker-notifications'. Its dist/main.js must be built. */
  app: 'worker-notifications' | 'worker-billing' | 'worker-provisioning' | (string & {});
  /** Replicas started at once (1..32). */
  replicas: number;
  /** The replicas' environment (REDIS_URL, SANDBOX_URL, LOCK_DURATION_MS, ...). HEALTH_PORT and WORKER_ID are set per replica. */
  env: Record<string, string>;
  /** Bound on one replica's readiness (/readyz 200). Default 20_000 ms. */
  readyTimeoutMs?: number;
}

export interface Fleet {
  readonly app: string;
  /** How many replica slots the fleet has (running or not). */
  readonly size: number;
  /** The running process of slot `i`, or undefined when it is down. */
  replica(i: number): AppProcess | undefined;
  /** WORKER_ID of slot `i`'s current (or last) incarnation. */
  workerId(i: number): string;
  /** Every WORKER_ID this fleet ever started, in start order. */
  workerIds(): string[];
  /** Sends `signal` (SIGKILL or SIGTERM) to slot `i` and resolves once it exited, with its exit code (null: killed by a signal). */
  kill(i: number, signal?: 'SIGKILL' | 'SIGTERM'): Promise<number | null>;
  /** SIGSTOP: the process keeps its sockets and locks but runs nothing, as a process stuck in GC or swapped out. */
  pause(i: number): void;
  /** SIGCONT after pause(). */
  resume(i: number): void;
  /** Starts slot `i` again (it must be down) and resolves once /readyz answers 200. */
  respawn(i: number): Promise<AppProcess>;
  /**
   * For each slot in turn: SIGTERM, wait for its exit (graceful shutdown:
   * in-flight jobs finish or are handed back), respawn, wait until ready.
   * Resolves with each replica's exit code.
   */
  rollingRestart(opts?: { stopTimeoutMs?: number }): Promise<(number | null)[]>;
  /** The output (last 200 KiB) of every incarnation of slot `i`, oldest first. */
  output(i: number): string;
  /** Stops every replica (resume if paused, SIGTERM, SIGKILL after `timeoutMs`, default 10_000). Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function startFleet(opts: StartFleetOptions): Promise<Fleet> {
  if (!Number.isInteger(opts.replicas) || opts.replicas < 1 || opts.replicas > 32) {
    throw new FleetUsageError(`replicas must be an integer in 1..32, got ${String(opts.replicas)}`);
  }
  const entry = fileURLToPath(new URL(`apps/${opts.app}/dist/main.js`, repoRoot));
  const src = fileURLToPath(new URL(`apps/${opts.app}/src/`, repoRoot));
  assertBuilt(entry, src, `pnpm --filter @switchyard/${opts.app} build`);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;

  const slots: (AppProcess | undefined)[] = Array.from({ length: opts.replicas }, () => undefined);
  const paused = new Set<number>();
  const generations = new Array<number>(opts.replicas).fill(0);
  const ids: string[] = [];
  const outputs: string[][] = Array.from({ length: opts.replicas }, () => []);
  let stopped = false;

  const idOf = (i: number): string => `${opts.app}-r${i}-g${generations[i]}`;
  const check = (i: number): void => {
    if (!Number.isInteger(i) || i < 0 || i >= opts.replicas) {
      throw new FleetUsageError(`no replica ${String(i)} (fleet of ${opts.replicas})`);
    }
  };

  const launch = async (i: number): Promise<AppProcess> => {
    if (stopped) throw new FleetUsageError('the fleet was stopped');
    generations[i] = (generations[i] ?? 0) + 1;
    const port = await freePort();
    const workerId = idOf(i);
    ids.push(workerId);
    const app = await startApp({
      entry,
      name: workerId,
      env: { ...opts.env, HEALTH_PORT: String(port), WORKER_ID: workerId },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs,
    });
    slots[i] = app;
    void app.exited.then(() => {
      outputs[i]!.push(app.output());
      if (slots[i] === app) slots[i] = undefined;
    });
    return app;
  };

  const kill = async (i: number, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') => {
    check(i);
    const app = slots[i];
    if (app === undefined) throw new FleetUsageError(`replica ${i} is not running`);
    if (signal === 'SIGKILL') {
      process.kill(app.pid, 'SIGKILL');
      paused.delete(i);
      return app.exited;
    }
    if (paused.has(i)) resume(i);
    return app.stop('SIGTERM', 30_000);
  };

  const resume = (i: number): void => {
    check(i);
    const app = slots[i];
    if (app === undefined) throw new FleetUsageError(`replica ${i} is not running`);
    process.kill(app.pid, 'SIGCONT');
    paused.delete(i);
  };

  // Start in parallel: each replica waits on its own readiness.
  const launched = await Promise.allSettled(slots.map((_, i) => launch(i)));
  const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    stopped = true;
    await Promise.all(slots.map(async (app) => app?.kill()));
    throw failed.reason;
  }

  return {
    app: opts.app,
    size: opts.replicas,
    replica: (i) => {
      check(i);
      return slots[i];
    },
    workerId: (i) => {
      check(i);
      return idOf(i);
    },
    workerIds: () => [...ids],
    kill,
    pause(i) {
      check(i);
      const app = slots[i];
      if (app === undefined) throw new FleetUsageError(`replica ${i} is not running`);
      process.kill(app.pid, 'SIGSTOP');
      paused.add(i);
    },
    resume,
    async respawn(i) {
      check(i);
      if (slots[i] !== undefined) throw new FleetUsageError(`replica ${i} is still running`);
      return launch(i);
    },
    async rollingRestart({ stopTimeoutMs = 30_000 } = {}) {
      const codes: (number | null)[] = [];
      for (let i = 0; i < opts.replicas; i++) {
        const app = slots[i];
        if (app !== undefined) {
          if (paused.has(i)) resume(i);
          codes.push(await app.stop('SIGTERM', stopTimeoutMs));
          await app.exited;
          slots[i] = undefined;
        } else {
          codes.push(null);
        }
        await launch(i);
      }
      return codes;
    },
    output(i) {
      check(i);
      const current = slots[i];
      return [...outputs[i]!, ...(current === undefined ? [] : [current.output()])].join(
        '\n--- respawned ---\n',
      );
    },
    async stop(timeoutMs = 10_000) {
      stopped = true;
      await Promise.all(
        slots.map(async (app, i) => {
          if (app === undefined) return;
          if (paused.has(i)) process.kill(app.pid, 'SIGCONT');
          await app.stop('SIGTERM', timeoutMs);
        }),
      );
    },
  };
}
