/**
 * One `redis-server` child for the multi-process helpers (cluster,
 * Sentinel): spawned with the given arguments, guarded (SIGKILLed and its
 * temp dir removed if this process dies), ready once it answers PING, and
 * stopped by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisStartError } from './errors.js';
import { guardChild } from './guard-child.js';
import { OutputBuffer } from './output-buffer.js';
import { pingRedis } from './ping-redis.js';
import { within } from './within.js';

/** Bound on "spawned -> answers PING". */
const readyTimeoutMs = 10_000;
/** Bound on a graceful SIGTERM shutdown before SIGKILL. */
const stopTimeoutMs = 5_000;

export interface RedisServerChild {
  port: number;
  /** The last lines the server printed, for error messages. */
  log: OutputBuffer;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

const isRunning = (child: ChildProcess): boolean =>
  child.exitCode === null && child.signalCode === null;

export async function spawnRedisServer(options: {
  binary: string;
  args: string[];
  host: string;
  port: number;
  /** Removed by the watchdog if this process dies; the caller removes it after stop(). */
  dir: string;
  /** What the server is, for messages: 'cluster node', 'sentinel'. */
  role: string;
}): Promise<RedisServerChild> {
  const { binary, args, host, port, role } = options;
  const log = new OutputBuffer(64 * 1024);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  guardChild(child, { removeDir: options.dir });
  child.stdout?.on('data', (chunk: Buffer) => log.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => log.append(chunk));
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!isRunning(child)) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      if (!(await within(exited, stopTimeoutMs)).settled) {
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (spawnError !== undefined || !isRunning(child)) {
      throw new RedisStartError(
        `${role} on port ${port} exited before answering PING` +
          `${spawnError ? ` (${spawnError.message})` : ` (code ${child.exitCode}, signal ${child.signalCode})`}` +
          `; last log lines:\n${log.tail()}`,
        { cause: spawnError },
      );
    }
    if (await pingRedis(host, port, 500)) return { port, log, stop };
    await sleep(25);
  }
  await stop();
  throw new RedisStartError(
    `${role} on port ${port} did not answer PING within ${readyTimeoutMs} ms; last log lines:\n${log.tail()}`,
  );
}

/**
 * Asks the server on 127.0.0.1:`port` one question on a throwaway
 * connection that never retries; `fallback` when it cannot answer.
 */
export async function askOnce<T>(
  port: number,
  ask: (client: Redis) => Promise<T>,
  fallback: T,
): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await ask(client);
  } catch {
    return fallback;
  } finally {
    client.disconnect();
  }
}
