/**
 * startRedisServer: a redis-server of the chaos suite's own, with a
 * durability profile, that a scenario can SIGKILL and restart.
 *
 * Use it for every scenario that breaks Redis, and for the negative
 * controls (persistence off; `allkeys-lru` under a memory cap), e.g.
 *
 *   const redis = await startRedisServer({ profile: 'aof-always' });
 *   await redis.kill();      // SIGKILL: no shutdown, no final fsync
 *   await redis.restart();   // same port, same dir: clients reconnect, the AOF is replayed
 *   await redis.stop();      // always, in afterAll / finally
 *
 * Contract:
 * - a redis-server child on a free 127.0.0.1 port with a fresh temp dir
 *   (the testkit's process server: never REDIS_URL, never a container, never
 *   the shared 127.0.0.1:6379); RDB snapshots are off in every profile;
 * - it is tied to this process (testkit guardChild): SIGKILLed, and its dir
 *   removed, when the test process dies however it dies; stop() ends it by
 *   its own child handle (SIGTERM, SIGKILL after 5 s) and removes the dir;
 * - restart() starts it again on the same port with the same dir and
 *   resolves once PING answers, i.e. after the AOF is loaded;
 * - what a kill loses, by profile:
 *   - 'aof-always': appendfsync always: every write is in the AOF before it
 *     is answered, so a SIGKILL loses nothing that was acknowledged;
 *   - 'aof-everysec': appendfsync everysec: the AOF is written at once but
 *     fsynced once a second. A process SIGKILL (unlike a power cut) leaves
 *     written data in the OS page cache, so it normally loses nothing either;
 *     Redis's documented bound is about one second of acknowledged writes;
 *   - 'no-persistence': everything (a negative control).
 */
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import { Redis } from 'ioredis';
import { ChaosError } from './errors.js';

export type RedisProfile = 'aof-always' | 'aof-everysec' | 'no-persistence';

export interface StartRedisServerOptions {
  /** Durability profile; see the module comment. */
  profile: RedisProfile;
  /** Redis `maxmemory`, e.g. '32mb'. Default unset (no cap). */
  maxmemory?: string;
  /** Redis `maxmemory-policy`. Default 'noeviction' (what BullMQ requires); 'allkeys-lru' for a negative control. */
  maxmemoryPolicy?: 'noeviction' | 'allkeys-lru' | 'volatile-lru' | 'allkeys-random';
  /** Extra redis-server arguments, e.g. ['--hz', '50']. Default none. */
  extraArgs?: string[];
}

export interface RedisServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly profile: RedisProfile;
  /** SIGKILLs taken so far. */
  readonly kills: number;
  /** SIGKILL (the only signal: a crash, not a shutdown); resolves once the process is gone. */
  kill(signal?: 'SIGKILL'): Promise<void>;
  /** Same port, same dir; resolves once PING answers (the AOF loaded). */
  restart(): Promise<void>;
  /** Graceful stop and the temp dir removed; idempotent. */
  stop(): Promise<void>;
  /** `INFO <section>` as name -> value; throws RedisServerError when the server does not answer in 2 s. */
  info(section?: string): Promise<Record<string, string>>;
  /** Commands Redis refused with -OOM since it (re)started (INFO errorstats). */
  oomRejections(): Promise<number>;
}

/** The server did not answer a question the harness asked it. */
export class RedisServerError extends ChaosError {
  override readonly code = 'SY_ERR_CHAOS_REDIS_SERVER';
}

const appendonlyOf = {
  'aof-always': 'always',
  'aof-everysec': 'everysec',
  'no-persistence': false,
} as const;

export async function startRedisServer(opts: StartRedisServerOptions): Promise<RedisServer> {
  const handle: RedisHandle = await startRedis({
    forceProcess: true,
    appendonly: appendonlyOf[opts.profile],
    maxmemoryPolicy: opts.maxmemoryPolicy ?? 'noeviction',
    ...(opts.maxmemory === undefined ? {} : { maxmemory: opts.maxmemory }),
    extraArgs: opts.extraArgs ?? [],
  });
  let kills = 0;

  const info = async (section = 'default'): Promise<Record<string, string>> => {
    const client = new Redis({
      host: handle.host,
      port: handle.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2_000,
      commandTimeout: 2_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const text = await client.info(section);
      const fields: Record<string, string> = {};
      for (const line of text.split('\r\n')) {
        const at = line.indexOf(':');
        if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
      }
      return fields;
    } catch (error) {
      throw new RedisServerError(`INFO ${section} on port ${handle.port} failed`, {
        cause: error,
      });
    } finally {
      client.disconnect();
    }
  };

  return {
    url: handle.url,
    host: handle.host,
    port: handle.port,
    profile: opts.profile,
    get kills() {
      return kills;
    },
    async kill() {
      kills += 1;
      await handle.kill();
    },
    restart: () => handle.restart(),
    stop: () => handle.stop(),
    info,
    async oomRejections() {
      const stats = await info('errorstats');
      // e.g. errorstat_OOM:count=12
      const match = /count=(\d+)/.exec(stats.errorstat_OOM ?? '');
      return match === null ? 0 : Number(match[1]);
    },
  };
}
