/**
 * A local Sentinel setup for one suite: one master redis-server and one
 * Sentinel (`redis-server <conf> --sentinel`) that monitors it under
 * `masterName`, both on free loopback ports (never 6379) with temp dirs of
 * their own. Stopped by their own pids; a watchdog kills them if the test
 * process dies.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisStartError } from './errors.js';
import { freePort } from './free-port.js';
import { askOnce, spawnRedisServer, type RedisServerChild } from './redis-server-child.js';

const host = '127.0.0.1';

export interface StartRedisSentinelOptions {
  /** The name Sentinel knows the master by. Default 'sy-master'. */
  masterName?: string;
}

export interface RedisSentinelHandle {
  /** `redis+sentinel://127.0.0.1:<sentinel port>/<masterName>`, for createRedisConnection. */
  url: string;
  /** The master's own `redis://` URL (admin access in tests). */
  masterUrl: string;
  masterName: string;
  /** Stops the Sentinel and the master and removes their dirs. Idempotent. */
  stop(): Promise<void>;
}

async function sentinelKnowsMaster(port: number, masterName: string): Promise<boolean> {
  return askOnce(
    port,
    async (client) => {
      const address = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as
        string[] | null;
      return Array.isArray(address) && address.length === 2;
    },
    false,
  );
}

export async function startRedisSentinel(
  options: StartRedisSentinelOptions = {},
): Promise<RedisSentinelHandle> {
  const masterName = options.masterName ?? 'sy-master';
  const servers: RedisServerChild[] = [];
  const dirs: string[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // The Sentinel first, so it never sees the master go down.
      for (const server of [...servers].reverse()) await server.stop();
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    })();
    return stopping;
  };
  try {
    const masterPort = await freePort();
    const masterDir = await mkdtemp(join(tmpdir(), 'switchyard-sentinel-master-'));
    dirs.push(masterDir);
    servers.push(
      await spawnRedisServer({
        binary: 'redis-server',
        host,
        port: masterPort,
        dir: masterDir,
        role: 'redis master',
        args: [
          '--port',
          String(masterPort),
          '--bind',
          host,
          '--dir',
          masterDir,
          '--daemonize',
          'no',
          '--appendonly',
          'no',
          '--save',
          '',
        ],
      }),
    );
    const sentinelPort = await freePort();
    const sentinelDir = await mkdtemp(join(tmpdir(), 'switchyard-sentinel-'));
    dirs.push(sentinelDir);
    // Sentinel rewrites its config file, so it lives in the temp dir.
    const config = join(sentinelDir, 'sentinel.conf');
    await writeFile(
      config,
      [
        `port ${sentinelPort}`,
        `bind ${host}`,
        `dir ${sentinelDir}`,
        `sentinel monitor ${masterName} ${host} ${masterPort} 1`,
        `sentinel down-after-milliseconds ${masterName} 5000`,
        '',
      ].join('\n'),
    );
    servers.push(
      await spawnRedisServer({
        binary: 'redis-server',
        host,
        port: sentinelPort,
        dir: sentinelDir,
        role: 'redis sentinel',
        args: [config, '--sentinel'],
      }),
    );
    const deadline = Date.now() + 10_000;
    while (!(await sentinelKnowsMaster(sentinelPort, masterName))) {
      if (Date.now() > deadline) {
        throw new RedisStartError(
          `the sentinel on port ${sentinelPort} does not name ${masterName}`,
        );
      }
      await sleep(50);
    }
    return {
      url: `redis+sentinel://${host}:${sentinelPort}/${masterName}`,
      masterUrl: `redis://${host}:${masterPort}`,
      masterName,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
