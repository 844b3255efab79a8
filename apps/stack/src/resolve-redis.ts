/**
 * Which Redis the stack's apps use, in order of preference:
 * 1. `REDIS_URL`, as given (not probed: the apps retry until it answers);
 * 2. a Redis already answering PING on 127.0.0.1:<port> (a developer's own);
 * 3. a `redis-server` the stack starts on that port, configured as a database
 *    (AOF fsynced every second, noeviction) with its files in `dataDir`, so
 *    queued jobs survive a restart of the stack. It is supervised like any
 *    child (restarted if it dies) and stopped with SIGTERM, which makes Redis
 *    fsync the AOF; SHUTDOWN NOSAVE or SIGKILL could lose the last second.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { RedisAuthRequiredError, RedisServerMissingError, RedisStartError } from './errors.js';
import { findOnPath } from './find-on-path.js';
import { pingRedis } from './ping-redis.js';
import type { RestartBackoffOptions } from './restart-backoff.js';
import { formatDelay } from './restart-backoff.js';
import { Supervisor } from './supervisor.js';
import type { TaggedOutput } from './tagged-output.js';

export type RedisSource = 'REDIS_URL' | 'existing' | 'started';

export interface ResolvedRedis {
  url: string;
  source: RedisSource;
  /** Where the Redis came from, for people: `from REDIS_URL`, `already running on ...`, ... */
  origin: string;
  /** Stops a Redis the stack started and waits for it to exit; a no-op otherwise. */
  stop(): Promise<void>;
  /** SIGKILL now, for the second Ctrl-C and for `process.on('exit')`; a no-op for a Redis not ours. */
  killNow(): void;
}

export interface ResolveRedisOptions {
  /** REDIS_URL; when set, nothing is probed or started. Default unset. */
  redisUrl?: string | undefined;
  /** Port probed on 127.0.0.1, and given to a started server. Default 6379. */
  port?: number;
  /** Data folder of a started server (created if missing). */
  dataDir: string;
  /** redis.conf for a started server, used when the file exists. Default none. */
  configFile?: string;
  /**
   * The redis-server executable: a name looked up in `searchPath`, or a path
   * (anything with a `/`). Default `redis-server`.
   */
  redisServerBin?: string;
  /**
   * Where a bare `redisServerBin` is looked for, in PATH syntax. The server is
   * spawned by the absolute path found there, so a redis-server outside
   * /usr/bin:/bin (Homebrew, /usr/local/bin) starts too. Default: PATH of
   * this process.
   */
  searchPath?: string | undefined;
  /** Output of a started server, tagged `[redis]`, and the stack's messages about it. */
  output: TaggedOutput;
  /** How long a started server may take to answer PING, in ms. Default 10000. */
  startTimeoutMs?: number;
  /** How long a started server gets after SIGTERM before SIGKILL, in ms. Default 15000. */
  stopTimeoutMs?: number;
  /** Restart delays if a started server dies. Default as the Supervisor's. */
  backoff?: Partial<RestartBackoffOptions>;
  /** Bound of the probe PING, in ms. Default 1000. */
  probeTimeoutMs?: number;
}

const LOOPBACK = '127.0.0.1';

export async function resolveRedis(options: ResolveRedisOptions): Promise<ResolvedRedis> {
  const port = options.port ?? 6379;
  if (options.redisUrl !== undefined) {
    return notOurs(options.redisUrl, 'REDIS_URL', 'from REDIS_URL');
  }
  const probe = await pingRedis(LOOPBACK, port, options.probeTimeoutMs ?? 1_000);
  if (probe === 'pong') {
    return notOurs(
      `redis://${LOOPBACK}:${port}`,
      'existing',
      `already running on ${LOOPBACK}:${port} (answered PING)`,
    );
  }
  if (probe === 'auth-required') throw new RedisAuthRequiredError(port);
  return startRedisServer({ ...options, port });
}

/** Builds the redis-server command line; options given here override the config file. */
export function redisServerArgs(options: {
  port: number;
  dataDir: string;
  configFile?: string;
}): string[] {
  return [
    ...(options.configFile !== undefined && existsSync(options.configFile)
      ? [options.configFile]
      : []),
    ...['--port', String(options.port)],
    ...['--bind', LOOPBACK],
    ...['--protected-mode', 'yes'],
    ...['--dir', options.dataDir],
    ...['--appendonly', 'yes'],
    ...['--appendfsync', 'everysec'],
    ...['--maxmemory-policy', 'noeviction'],
    ...['--daemonize', 'no'],
  ];
}

async function startRedisServer(
  options: ResolveRedisOptions & { port: number },
): Promise<ResolvedRedis> {
  const bin = findOnPath(
    options.redisServerBin ?? 'redis-server',
    options.searchPath ?? process.env.PATH,
  );
  if (bin === undefined) throw new RedisServerMissingError(options.port);
  const check = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  if (check.error !== undefined) {
    throw new RedisStartError(`${bin} --version failed: ${check.error.message}`);
  }
  mkdirSync(options.dataDir, { recursive: true });

  let ready = false;
  let earlyExit: string | undefined;
  let spawnError: Error | undefined;
  const supervisor = new Supervisor({
    children: [
      {
        name: 'redis',
        // Absolute: with this empty environment, a bare name would be looked
        // up in /usr/bin:/bin only.
        command: bin,
        args: redisServerArgs(options),
        // redis-server needs nothing from the environment.
        env: {},
        cwd: options.dataDir,
      },
    ],
    output: options.output,
    shutdownTimeoutMs: options.stopTimeoutMs ?? 15_000,
    ...(options.backoff ? { backoff: options.backoff } : {}),
    // Before the first PONG an exit is a failure to start (a taken port, a bad
    // config), reported at once; after it, a crash to restart from.
    onExit: (_name, code, signal, error) => {
      if (ready) return true;
      if (error !== undefined) spawnError = error;
      else
        earlyExit =
          code !== null ? `exited with code ${code}` : `was killed by ${signal ?? 'a signal'}`;
      return false;
    },
  });
  supervisor.start();

  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (spawnError !== undefined) {
      await supervisor.kill();
      throw new RedisStartError(`could not run ${bin}: ${spawnError.message}`, {
        printedOutput: false,
      });
    }
    if (earlyExit !== undefined) {
      await supervisor.kill();
      throw new RedisStartError(
        `redis-server ${earlyExit} before answering PING (is port ${options.port} taken? set STACK_REDIS_PORT or REDIS_URL)`,
      );
    }
    if ((await pingRedis(LOOPBACK, options.port, 500)) === 'pong') break;
    if (Date.now() >= deadline) {
      await supervisor.kill();
      throw new RedisStartError(
        `no answer to PING on ${LOOPBACK}:${options.port} within ${formatDelay(startTimeoutMs)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  ready = true;
  return {
    url: `redis://${LOOPBACK}:${options.port}`,
    source: 'started',
    origin: `started by the stack on ${LOOPBACK}:${options.port} (AOF in ${options.dataDir})`,
    stop: () => supervisor.stop(),
    killNow: () => supervisor.killNow(),
  };
}

function notOurs(url: string, source: RedisSource, origin: string): ResolvedRedis {
  return { url, source, origin, stop: () => Promise.resolve(), killNow: () => undefined };
}
