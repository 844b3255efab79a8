import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HandleStoppedError, RedisStartError } from './errors.js';
import { freePort } from './free-port.js';
import { guardChild } from './guard-child.js';
import { OutputBuffer } from './output-buffer.js';
import { pingRedis } from './ping-redis.js';
import { redisServerArgs, type RedisHandle, type StartRedisOptions } from './redis-handle.js';
import { within } from './within.js';

const HOST = '127.0.0.1';
/** Bound on "spawned -> answers PING", including AOF loading. */
const READY_TIMEOUT_MS = 10_000;
/** Bound on a graceful SIGTERM shutdown before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * Runs `redis-server` as a child of this process, on a free port with a
 * fresh temp dir (its AOF lives there, so restart() finds it again).
 */
export async function startRedisProcess(
  opts: StartRedisOptions,
  binary = 'redis-server',
): Promise<RedisHandle> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--dir',
    dir,
    '--daemonize',
    'no',
    ...redisServerArgs(opts),
  ];
  // One log across restarts, so a failed restart shows what came before it.
  const log = new OutputBuffer(64 * 1024);
  let child: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;

  const isRunning = (c: ChildProcess | undefined): c is ChildProcess =>
    c !== undefined && c.exitCode === null && c.signalCode === null;

  const waitForExit = async (c: ChildProcess): Promise<void> => {
    if (!isRunning(c)) return;
    await once(c, 'exit');
  };

  const terminate = async (c: ChildProcess | undefined): Promise<void> => {
    if (!isRunning(c)) return;
    const exited = waitForExit(c);
    c.kill('SIGTERM');
    if (!(await within(exited, STOP_TIMEOUT_MS)).settled) {
      c.kill('SIGKILL');
      await exited;
    }
  };

  const launch = async (): Promise<void> => {
    const started = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    guardChild(started, { removeDir: dir });
    started.stdout?.on('data', (chunk: Buffer) => log.append(chunk));
    started.stderr?.on('data', (chunk: Buffer) => log.append(chunk));
    let spawnError: Error | undefined;
    started.once('error', (error) => {
      spawnError = error;
    });

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (spawnError !== undefined || !isRunning(started)) {
        throw new RedisStartError(
          `redis-server on port ${port} exited before answering PING` +
            `${spawnError ? ` (${spawnError.message})` : ` (code ${started.exitCode}, signal ${started.signalCode})`}` +
            `; last log lines:\n${log.tail()}`,
          { cause: spawnError },
        );
      }
      if (await pingRedis(HOST, port, 500)) return;
      await sleep(25);
    }
    started.kill('SIGKILL');
    await waitForExit(started);
    throw new RedisStartError(
      `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms; last log lines:\n${log.tail()}`,
    );
  };

  try {
    await launch();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    kind: 'process',
    stop() {
      stopping ??= (async () => {
        await terminate(child);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
    async kill() {
      if (!isRunning(child)) return;
      const exited = waitForExit(child);
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      if (stopping !== undefined) {
        throw new HandleStoppedError(
          `redis-server on port ${port} was stopped; its data dir is gone`,
        );
      }
      await terminate(child);
      log.append(`\n--- testkit: restarting redis-server on port ${port} ---\n`);
      await launch();
    },
  };
}
