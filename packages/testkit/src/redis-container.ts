import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import { HandleStoppedError, RedisStartError } from './errors.js';
import { freePort } from './free-port.js';
import { pingRedis } from './ping-redis.js';
import { redisServerArgs, type RedisHandle, type StartRedisOptions } from './redis-handle.js';
import { waitFor } from './wait-for.js';
import { within } from './within.js';

const IMAGE = 'redis:7-alpine';
/** Bound on the engine probe; an engine slower than this is treated as absent. */
const PROBE_TIMEOUT_MS = 3_000;
/** Bound on a graceful `docker stop` before the engine kills the container. */
const STOP_TIMEOUT_MS = 5_000;

export type EngineProbe = { available: true } | { available: false; reason: string };

let probe: Promise<EngineProbe> | undefined;

/**
 * Whether a container engine answers, decided once per process.
 *
 * testcontainers' own probe (`getContainerRuntimeClient`) is authoritative
 * but loads dockerode and may wait on a dead socket, so it only runs when
 * one of the places it looks (the same list, in the same order) exists.
 * A machine with a docker CLI and no engine therefore answers in microseconds.
 */
export function detectContainerEngine(env: NodeJS.ProcessEnv = process.env): Promise<EngineProbe> {
  probe ??= probeEngine(env);
  return probe;
}

async function probeEngine(env: NodeJS.ProcessEnv): Promise<EngineProbe> {
  const hints = [
    env.DOCKER_HOST ? `DOCKER_HOST=${env.DOCKER_HOST}` : undefined,
    existsSync(join(homedir(), '.testcontainers.properties'))
      ? '~/.testcontainers.properties'
      : undefined,
    ...[
      '/var/run/docker.sock',
      env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'docker.sock') : undefined,
      join(homedir(), '.docker', 'run', 'docker.sock'),
      join(homedir(), '.docker', 'desktop', 'docker.sock'),
      join('/run', 'user', String(userInfo().uid), 'docker.sock'),
    ].filter((path): path is string => path !== undefined && existsSync(path)),
  ].filter((hint): hint is string => hint !== undefined);
  if (hints.length === 0) {
    return {
      available: false,
      reason: 'no DOCKER_HOST, ~/.testcontainers.properties or docker socket found',
    };
  }

  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = getContainerRuntimeClient();
    // A probe that loses the race keeps running in the background; within()
    // keeps its eventual rejection from surfacing as unhandled.
    if (!(await within(client, PROBE_TIMEOUT_MS)).settled) {
      return {
        available: false,
        reason: `${hints.join(', ')} found, but the engine did not answer within ${PROBE_TIMEOUT_MS} ms`,
      };
    }
    return { available: true };
  } catch (error) {
    return {
      available: false,
      reason: `${hints.join(', ')} found, but no engine answered (${error instanceof Error ? error.message : String(error)})`,
    };
  }
}

/**
 * Runs `redis:7-alpine` with testcontainers. The host port is chosen up front
 * and bound explicitly, because a restarted container with a random binding
 * would come back on a different port. Data lives in the container's /data,
 * which survives kill and restart and is removed with the container.
 * Containers of a crashed test process are reaped by testcontainers' Ryuk.
 */
export async function startRedisContainer(opts: StartRedisOptions): Promise<RedisHandle> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  const hostPort = await freePort();
  let container: StartedTestContainer;
  try {
    container = await new GenericContainer(IMAGE)
      .withCommand([
        'redis-server',
        '--port',
        '6379',
        '--dir',
        '/data',
        '--protected-mode',
        'no',
        ...redisServerArgs(opts),
      ])
      .withExposedPorts({ container: 6379, host: hostPort })
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .withStartupTimeout(60_000)
      .start();
  } catch (error) {
    throw new RedisStartError(
      `could not start a ${IMAGE} container: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }

  const host = container.getHost();
  const port = container.getMappedPort(6379);
  let stopping: Promise<void> | undefined;

  const answersPing = (): Promise<boolean> =>
    waitFor(() => pingRedis(host, port, 500), {
      timeoutMs: 30_000,
      message: `PING to the ${IMAGE} container on ${host}:${port}`,
    });

  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    kind: 'container',
    stop() {
      stopping ??= container.stop({ timeout: STOP_TIMEOUT_MS }).then(() => undefined);
      return stopping;
    },
    async kill() {
      const client = await getContainerRuntimeClient();
      const docker = client.container.getById(container.getId());
      const state = await client.container.inspect(docker);
      if (!state.State.Running) return;
      await docker.kill({ signal: 'SIGKILL' });
      await docker.wait();
    },
    async restart() {
      if (stopping !== undefined) {
        throw new HandleStoppedError(
          `the ${IMAGE} container on port ${port} was stopped and removed`,
        );
      }
      await container.restart({ timeout: STOP_TIMEOUT_MS });
      await answersPing();
    },
  };
}
