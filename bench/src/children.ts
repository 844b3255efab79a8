/**
 * Starting and talking to the processes of a run: role children (our own
 * code, commands over IPC) and the producer app (apps/producer/dist, over
 * HTTP). Every pid is tracked so an exit or Ctrl-C kills it; every request
 * has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackPid } from './child-registry.js';
import type { Command, Reply, RoleConfig, RoleName } from './protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (bench/dist/.. /..). */
export const repoRoot = join(here, '..', '..');

export interface ProcessHandle {
  pid: number;
  label: string;
  /** User + system CPU of the process so far, in µs (from /proc; 10 ms resolution). */
  cpuMicros(): number;
  /** Resident set size now, in bytes (from /proc). */
  rss(): number;
  /** Sends `signal` (default SIGKILL; SIGKILL anyway after 15 s) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves true once the process has exited, false after `ms`. */
  exited(ms: number): Promise<boolean>;
}

export interface RoleChild extends ProcessHandle {
  request<T>(command: Command, timeoutMs: number): Promise<T>;
}

const clockTicks = 100;

/** Node flags for every process a run starts (set once by main: --cpu-prof). */
let nodeFlags: string[] = [];
export function setCpuProfileDir(dir: string | undefined): void {
  nodeFlags = dir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', dir];
}

function procCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1e6;
}

function procRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

function handleOf(child: ChildProcess, label: string): ProcessHandle {
  const pid = child.pid!;
  const untrack = trackPid(pid, label);
  child.once('exit', untrack);
  return {
    pid,
    label,
    cpuMicros: () => procCpuMicros(pid),
    rss: () => procRss(pid),
    async exited(ms: number) {
      if (child.exitCode !== null || child.signalCode !== null) return true;
      return withDeadline(
        new Promise<boolean>((resolve) => child.once('exit', () => resolve(true))),
        ms,
        'not exited',
      ).catch(() => false);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function spawnRole(
  role: RoleName,
  config: RoleConfig,
  label: string,
): Promise<RoleChild> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, join(here, 'child-main.js'), role, JSON.stringify(config)],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  const handle = handleOf(child, label);
  let nextId = 1;
  const waiting = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  const ready = new Promise<void>((resolve, reject) => {
    waiting.set(0, { resolve: () => resolve(), reject });
  });
  child.on('message', (reply: Reply) => {
    const entry = waiting.get(reply.id);
    if (!entry) return;
    waiting.delete(reply.id);
    if (reply.ok) entry.resolve(reply.result);
    else entry.reject(new Error(`${label}: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const entry of waiting.values())
      entry.reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
    waiting.clear();
  });
  await withDeadline(ready, 15_000, `${label} did not start`);
  return {
    ...handle,
    request<T>(command: Command, timeoutMs: number): Promise<T> {
      const id = nextId++;
      const answer = new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      });
      child.send({ id, command });
      return withDeadline(
        answer,
        timeoutMs,
        `${label}: ${command.cmd} took over ${timeoutMs} ms`,
      ).finally(() => waiting.delete(id));
    },
  };
}

export interface ProducerAppOptions {
  redisUrl: string;
  port: number;
  apiKey: string;
  logLevel: string;
}

/** Starts apps/producer/dist/main.js and waits for /readyz. */
export async function startProducerApp(
  options: ProducerAppOptions,
): Promise<ProcessHandle & { url: string }> {
  const main = join(repoRoot, 'apps', 'producer', 'dist', 'main.js');
  const child = spawn(process.execPath, [...nodeFlags, main], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH,
      REDIS_URL: options.redisUrl,
      HOST: '127.0.0.1',
      PRODUCER_PORT: String(options.port),
      API_KEYS: options.apiKey,
      LOG_LEVEL: options.logLevel,
      // The benchmark's load generator is one key: its per-minute limit would cap the run.
      API_KEY_RATE_LIMIT_PER_MINUTE: '0',
      BACKLOG_LIMIT: '10000000',
    },
  });
  const handle = handleOf(child, 'producer app');
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(
        `producer app exited with code ${child.exitCode} (is it built? pnpm --filter @switchyard/producer... build)`,
      );
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await handle.kill();
      throw new Error('producer app was not ready within 20 s');
    }
    await sleep(100);
  }
  return { ...handle, url };
}

/** `promise`, or a rejection with `message` after `ms`. */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
