/** A Redis server a suite can use, and (when the testkit owns it) break. */
export interface RedisHandle {
  /** `redis://host:port` (for 'external', REDIS_URL exactly as given). */
  url: string;
  port: number;
  host: string;
  /**
   * - 'external': REDIS_URL; shared with others, so never stopped or broken.
   * - 'container': a testcontainers `redis:7-alpine`.
   * - 'process': a `redis-server` child of this process.
   */
  kind: 'external' | 'container' | 'process';
  /** Graceful shutdown; idempotent. Removes the temp data dir for 'process'. */
  stop(): Promise<void>;
  /** SIGKILL the server (no shutdown, no final fsync); resolves once it is dead. */
  kill(): Promise<void>;
  /**
   * Starts the server again on the same port with the same data dir, so
   * whatever reached the AOF survives; resolves once PING answers (after the
   * AOF is loaded). A server still running is shut down gracefully first.
   */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /**
   * AOF persistence. `true` means 'everysec' (Redis's default fsync policy);
   * 'always' fsyncs every write, so data survives kill() at once.
   * Default false (no AOF, and RDB snapshots are always off).
   */
  appendonly?: boolean | 'always' | 'everysec';
  /** Redis `maxmemory-policy`. Default 'noeviction', which BullMQ requires. */
  maxmemoryPolicy?: string;
  /** Redis `maxmemory`, e.g. '64mb'. Default unset (no limit). */
  maxmemory?: string;
  /** Appended to the redis-server command line, e.g. ['--hz', '50']. Default []. */
  extraArgs?: string[];
  /**
   * Ignore REDIS_URL and container engines and run a redis-server process:
   * for fault tests that kill and restart the server. Default false.
   */
  forceProcess?: boolean;
}

/** Command-line settings shared by the process and container servers. */
export function redisServerArgs(opts: StartRedisOptions): string[] {
  const appendonly = opts.appendonly ?? false;
  const args = ['--save', '', '--appendonly', appendonly === false ? 'no' : 'yes'];
  if (appendonly !== false) {
    args.push('--appendfsync', appendonly === true ? 'everysec' : appendonly);
  }
  args.push('--maxmemory-policy', opts.maxmemoryPolicy ?? 'noeviction');
  if (opts.maxmemory !== undefined) args.push('--maxmemory', opts.maxmemory);
  args.push(...(opts.extraArgs ?? []));
  return args;
}
