import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { NoRedisError } from './errors.js';
import { externalRedis } from './external-redis.js';
import { detectContainerEngine, startRedisContainer } from './redis-container.js';
import type { RedisHandle, StartRedisOptions } from './redis-handle.js';
import { startRedisProcess } from './redis-process.js';

/**
 * A Redis server for one suite, resolved in this order:
 *
 * 1. `REDIS_URL` (unless `forceProcess`): kind 'external'. Server options are
 *    not applied to it; kill/restart refuse.
 * 2. A container engine that answers (unless `forceProcess`): a
 *    `redis:7-alpine` container. An engine that answers but cannot start the
 *    container is an error, not a reason to fall back.
 * 3. `redis-server` on PATH: a child process on a free port.
 * 4. Otherwise NoRedisError, saying how to get one. Never a silent skip.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  let engineReason: string | undefined;
  if (opts.forceProcess !== true) {
    const url = process.env.REDIS_URL;
    if (url !== undefined && url !== '') return externalRedis(url);
    const engine = await detectContainerEngine();
    if (engine.available) return startRedisContainer(opts);
    engineReason = engine.reason;
  }

  const binary = await findOnPath('redis-server');
  if (binary !== undefined) return startRedisProcess(opts, binary);

  throw new NoRedisError(
    [
      opts.forceProcess === true
        ? 'startRedis({ forceProcess: true }) needs redis-server on PATH, and there is none.'
        : `No Redis available: REDIS_URL is unset, no container engine answered (${engineReason}), and redis-server is not on PATH.`,
      'Get one of:',
      '  - a server you run yourself: export REDIS_URL=redis://127.0.0.1:6379 (not for fault tests, which kill the server)',
      '  - redis-server on PATH: apt-get install -y redis-server  |  brew install redis',
      '  - a container engine (Docker, Podman, Colima) for testcontainers: DOCKER_HOST or /var/run/docker.sock',
    ].join('\n'),
  );
}

async function findOnPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}
