/**
 * A local Redis Cluster for one suite: `masters` redis-server processes in
 * cluster mode on free loopback ports (never 6379), each with a temp dir of
 * its own (cluster-config-file there, no AOF, no snapshots), joined with
 * `redis-cli --cluster create … --cluster-replicas 0`, and ready once every
 * node reports `cluster_state:ok`. Stopped by their own pids; a watchdog
 * kills them if the test process dies.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { RedisStartError } from './errors.js';
import { freePort } from './free-port.js';
import { askOnce, spawnRedisServer, type RedisServerChild } from './redis-server-child.js';

const run = promisify(execFile);
const host = '127.0.0.1';
/** Bound on "created -> every node says cluster_state:ok". */
const clusterOkTimeoutMs = 20_000;

export interface StartRedisClusterOptions {
  /** Master nodes (the 16 384 slots are split among them). 1..10. Default 3. */
  masters?: number;
}

export interface RedisClusterHandle {
  /** `redis+cluster://127.0.0.1:<port>,…`, the REDIS_URL form createRedisConnection reads. */
  url: string;
  nodes: { host: string; port: number }[];
  /** Stops every node (SIGTERM, SIGKILL after 5 s) and removes their dirs. Idempotent. */
  stop(): Promise<void>;
}

async function clusterState(port: number): Promise<string | undefined> {
  return askOnce(
    port,
    async (client) =>
      /^cluster_state:(\w+)/m.exec((await client.call('CLUSTER', 'INFO')) as string)?.[1],
    undefined,
  );
}

export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 1 || masters > 10) {
    throw new RedisStartError(`masters must be an integer from 1 to 10, got ${String(masters)}`);
  }
  const nodes: RedisServerChild[] = [];
  const dirs: string[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    })();
    return stopping;
  };
  try {
    for (let i = 0; i < masters; i += 1) {
      const port = await freePort();
      // The cluster bus gets a port of its own: port + 10000 may be taken or past 65535.
      const busPort = await freePort();
      const dir = await mkdtemp(join(tmpdir(), 'switchyard-cluster-'));
      dirs.push(dir);
      nodes.push(
        await spawnRedisServer({
          binary: 'redis-server',
          host,
          port,
          dir,
          role: 'redis cluster node',
          args: [
            '--port',
            String(port),
            '--bind',
            host,
            '--dir',
            dir,
            '--daemonize',
            'no',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            '5000',
            '--appendonly',
            'no',
            '--save',
            '',
          ],
        }),
      );
    }
    try {
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((node) => `${host}:${node.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: 30_000 },
      );
    } catch (error) {
      const output = error as { stdout?: string; stderr?: string; message: string };
      throw new RedisStartError(
        `redis-cli --cluster create failed: ${output.message}\n${output.stdout ?? ''}${output.stderr ?? ''}`,
        { cause: error },
      );
    }
    const deadline = Date.now() + clusterOkTimeoutMs;
    for (;;) {
      const states = await Promise.all(nodes.map((node) => clusterState(node.port)));
      if (states.every((state) => state === 'ok')) break;
      if (Date.now() > deadline) {
        throw new RedisStartError(
          `the cluster did not reach cluster_state:ok within ${clusterOkTimeoutMs} ms ` +
            `(states: ${states.map(String).join(', ')}); last log lines of the first node:\n${nodes[0]!.log.tail()}`,
        );
      }
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `redis+cluster://${nodes.map((node) => `${host}:${node.port}`).join(',')}`,
    nodes: nodes.map((node) => ({ host, port: node.port })),
    stop,
  };
}
