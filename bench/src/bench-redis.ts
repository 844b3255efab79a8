/**
 * The benchmark's own redis-server: a child on a free port with a temp dir,
 * no persistence, `noeviction`. Never the Redis on 6379. Stopped by its pid
 * (SIGTERM, then SIGKILL after 3 s); also killed when this process exits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { trackPid } from './child-registry.js';

export interface BenchRedis {
  url: string;
  host: string;
  port: number;
  pid: number;
  /** A plain connection for INFO, FLUSHALL and the like. */
  admin: Redis;
  /** `used_cpu_sys + used_cpu_user` in µs. */
  cpuMicros(): Promise<number>;
  /** `used_memory` in bytes. */
  usedMemory(): Promise<number>;
  /** Calls per command since start (INFO commandstats), e.g. {evalsha: 1200, ...}. */
  commandCalls(): Promise<Record<string, number>>;
  /**
   * Bytes (MEMORY USAGE) of every key, summed by the first of `classes`
   * whose pattern matches its name; keys matching none are not read.
   */
  bytesByKeyClass(classes: Readonly<Record<string, RegExp>>): Promise<Record<string, number>>;
  /** `redis-server --version`'s version. */
  version: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function infoField(info: string, name: string): number {
  const match = new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info);
  if (!match) throw new Error(`INFO has no ${name}`);
  return Number(match[1]);
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--daemonize',
      'no',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('redis-server did not start (is it on PATH?)');
  const untrack = trackPid(pid, 'redis-server', () =>
    rmSync(dir, { recursive: true, force: true }),
  );
  const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await admin.connect();
      await admin.ping();
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING`, { cause: error });
      }
      admin.disconnect();
      await sleep(50);
    }
  }
  const server = await admin.info('server');
  const version = /^redis_version:(.*)$/m.exec(server)?.[1]?.trim() ?? 'unknown';
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    pid,
    admin,
    version,
    async cpuMicros() {
      const info = await admin.info('cpu');
      return Math.round((infoField(info, 'used_cpu_sys') + infoField(info, 'used_cpu_user')) * 1e6);
    },
    async commandCalls() {
      const calls: Record<string, number> = {};
      for (const match of (await admin.info('commandstats')).matchAll(
        /^cmdstat_([^:]+):calls=(\d+)/gm,
      )) {
        calls[match[1]!] = Number(match[2]);
      }
      return calls;
    },
    async usedMemory() {
      return infoField(await admin.info('memory'), 'used_memory');
    },
    async bytesByKeyClass(classes) {
      const totals: Record<string, number> = Object.fromEntries(
        Object.keys(classes).map((name) => [name, 0]),
      );
      const entries = Object.entries(classes);
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
        cursor = next;
        const classified = keys.flatMap((key) => {
          const found = entries.find(([, pattern]) => pattern.test(key));
          return found ? [{ key, name: found[0] }] : [];
        });
        if (classified.length === 0) continue;
        const pipeline = admin.pipeline();
        for (const { key } of classified) pipeline.memory('USAGE', key, 'SAMPLES', '0');
        const replies = (await pipeline.exec()) ?? [];
        classified.forEach(({ name }, index) => {
          const bytes = replies[index]?.[1];
          if (typeof bytes === 'number') totals[name] = (totals[name] ?? 0) + bytes;
        });
      } while (cursor !== '0');
      return totals;
    },
    stop() {
      stopped ??= (async () => {
        admin.disconnect();
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          process.kill(pid, 'SIGTERM');
          const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), 3_000);
          await exited;
          clearTimeout(timer);
        }
        untrack();
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
