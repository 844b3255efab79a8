/**
 * The one place that turns a REDIS_URL into an ioredis connection, for every
 * app, the runtime and the CLI.
 *
 * URLs (REDIS_URL):
 *
 *   redis://[user:pass@]host:port[/db]          one Redis (as ioredis reads it)
 *   rediss://…                                  the same over TLS
 *   redis+cluster://[user:pass@]host:port[,host:port…]
 *                                               Redis Cluster: any reachable
 *                                               nodes; the rest are discovered
 *   rediss+cluster://…                          the same over TLS
 *   redis+sentinel://[user:pass@]host:port[,host:port…]/<masterName>[/db]
 *                                               the master that Sentinel names;
 *                                               user:pass authenticate to the
 *                                               master; `?sentinelPassword=…`
 *                                               (and `sentinelUsername`) to the
 *                                               Sentinels
 *   rediss+sentinel://…                         the same over TLS (master and
 *                                               Sentinels)
 *
 * A cluster needs every key of one QUEUE_PREFIX in one hash slot (the
 * fan-out's MULTI and our scripts touch many keys at once): the prefix must
 * hold a hash tag such as `{sy}` (queuePrefixClusterProblem).
 *
 * Profiles (what the caller asks for):
 * - 'fail-fast' (producer, dashboard, publishers): no offline queue, one
 *   retry per command, `commandTimeoutMs`; reconnects in the background.
 * - 'blocking' (BullMQ workers, replay): `maxRetriesPerRequest: null`, so
 *   blocking and lock-renewal commands wait through a reconnect.
 * - 'one-shot' (CLI run, a metrics scrape): 'fail-fast' that connects only
 *   on `connect()` and never reconnects, so an outage is one clear error.
 *
 * The URL's password is never logged: messages use redactRedisUrl.
 *
 * TLS: a rediss scheme connects over TLS, trusting Node's default roots,
 * or only the CA given to useRedisTlsCa (REDIS_TLS_CA_FILE).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** What a REDIS_URL names. */
export type RedisTopology = 'standalone' | 'cluster' | 'sentinel';

/** A Redis connection of any topology; both kinds run the same commands. */
export type RedisConnection = Redis | Cluster;

export type RedisConnectionProfile = 'fail-fast' | 'blocking' | 'one-shot';

/** A REDIS_URL that cannot be used; the message never holds the password. */
export class RedisUrlError extends Error {
  readonly code = 'SY_ERR_REDIS_URL';

  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** A parsed cluster or Sentinel URL (a plain one is left to ioredis). */
export interface ParsedRedisUrl {
  topology: RedisTopology;
  tls: boolean;
  /** Seed nodes (cluster) or Sentinels; for a plain URL, its one host. */
  nodes: RedisNodeAddress[];
  username?: string;
  password?: string;
  /** Sentinel only: the monitored master's name. */
  masterName?: string;
  /** Standalone and Sentinel: the database index. Default 0. */
  db?: number;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

/** Every scheme REDIS_URL accepts, for validators and messages. */
export const redisUrlSchemes = [
  'redis',
  'rediss',
  'redis+cluster',
  'rediss+cluster',
  'redis+sentinel',
  'rediss+sentinel',
] as const;

const schemePattern = /^(rediss?)(?:\+(cluster|sentinel))?:\/\//i;

/** The topology a URL names from its scheme alone; undefined for another scheme. */
export function redisTopologyOf(url: string): RedisTopology | undefined {
  const match = schemePattern.exec(url);
  if (match === null) return undefined;
  return (match[2]?.toLowerCase() as 'cluster' | 'sentinel' | undefined) ?? 'standalone';
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RedisUrlError(`REDIS_URL: the ${what} is not valid percent-encoding`);
  }
}

function parseAddress(text: string, defaultPort: number): RedisNodeAddress {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(text);
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (match === null || port < 1 || port > 65_535) {
    throw new RedisUrlError(`REDIS_URL: "${text}" is not host:port`);
  }
  const host = match[1]!.startsWith('[') ? match[1]!.slice(1, -1) : match[1]!;
  return { host, port };
}

/**
 * Parses any accepted REDIS_URL. Throws RedisUrlError naming what is wrong
 * (never echoing the password).
 */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const topology = redisTopologyOf(url);
  if (topology === undefined) {
    throw new RedisUrlError(`REDIS_URL must start with one of ${redisUrlSchemes.join('://, ')}://`);
  }
  const tls = /^rediss/i.test(url);
  if (topology === 'standalone') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RedisUrlError('REDIS_URL is not a valid URL');
    }
    const db = parsed.pathname.replace(/^\//, '');
    return {
      topology,
      tls,
      nodes: [{ host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) }],
      ...(parsed.username === '' ? {} : { username: decode(parsed.username, 'user name') }),
      ...(parsed.password === '' ? {} : { password: decode(parsed.password, 'password') }),
      ...(/^\d+$/.test(db) ? { db: Number(db) } : {}),
    };
  }
  const rest = url.slice(url.indexOf('://') + 3);
  const hashAt = rest.indexOf('#');
  const withoutFragment = hashAt === -1 ? rest : rest.slice(0, hashAt);
  const queryAt = withoutFragment.indexOf('?');
  const beforeQuery = queryAt === -1 ? withoutFragment : withoutFragment.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : withoutFragment.slice(queryAt + 1));
  const slashAt = beforeQuery.indexOf('/');
  const authority = slashAt === -1 ? beforeQuery : beforeQuery.slice(0, slashAt);
  const path = slashAt === -1 ? '' : beforeQuery.slice(slashAt + 1);
  const at = authority.lastIndexOf('@');
  const userInfo = at === -1 ? '' : authority.slice(0, at);
  const hosts = at === -1 ? authority : authority.slice(at + 1);
  const colon = userInfo.indexOf(':');
  const username = decode(colon === -1 ? userInfo : userInfo.slice(0, colon), 'user name');
  const password = colon === -1 ? '' : decode(userInfo.slice(colon + 1), 'password');
  const defaultPort = topology === 'sentinel' ? 26_379 : 6_379;
  const nodes = hosts
    .split(',')
    .filter((host) => host !== '')
    .map((host) => parseAddress(host, defaultPort));
  if (nodes.length === 0) {
    throw new RedisUrlError(`REDIS_URL: a ${topology} URL needs at least one host:port`);
  }
  const parsed: ParsedRedisUrl = {
    topology,
    tls,
    nodes,
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password }),
  };
  const segments = path.split('/').filter((segment) => segment !== '');
  if (topology === 'cluster') {
    if (segments.length > 0) {
      throw new RedisUrlError('REDIS_URL: a cluster URL has no path (a cluster has only db 0)');
    }
    return parsed;
  }
  const [masterName, db, ...extra] = segments;
  if (masterName === undefined || extra.length > 0 || (db !== undefined && !/^\d+$/.test(db))) {
    throw new RedisUrlError(
      'REDIS_URL: a Sentinel URL is redis+sentinel://[user:pass@]host:port[,host:port…]/<masterName>[/db]',
    );
  }
  parsed.masterName = decode(masterName, 'master name');
  if (db !== undefined) parsed.db = Number(db);
  const sentinelUsername = query.get('sentinelUsername');
  const sentinelPassword = query.get('sentinelPassword');
  if (sentinelUsername !== null && sentinelUsername !== '') {
    parsed.sentinelUsername = sentinelUsername;
  }
  if (sentinelPassword !== null && sentinelPassword !== '') {
    parsed.sentinelPassword = sentinelPassword;
  }
  return parsed;
}

/** The URL with its passwords replaced by `***`, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url
    .replace(/^([a-z+]+:\/\/[^:@/]*:)[^/]*@/i, '$1***@')
    .replace(/([?&]sentinelPassword=)[^&#]*/i, '$1***');
}

/**
 * The hash tag of a key prefix: the text between its first `{` and the next
 * `}`, when non-empty (Redis Cluster hashes only that part of a key).
 */
export function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open === -1) return undefined;
  const close = prefix.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return prefix.slice(open + 1, close);
}

/**
 * Why `prefix` cannot be used with `redisUrl`, or undefined when it can: on a
 * cluster every key of a prefix must hash to one slot (the fan-out writes
 * every subscriber queue, the idempotency ledger and the search index in one
 * MULTI), which a hash tag in the prefix (e.g. `{sy}`) does. The message
 * starts with the prefix's value and names both settings (`names`, default
 * QUEUE_PREFIX and REDIS_URL) and the fix.
 */
export function queuePrefixClusterProblem(
  redisUrl: string,
  prefix: string,
  names: { prefix: string; url: string } = { prefix: 'QUEUE_PREFIX', url: 'REDIS_URL' },
): string | undefined {
  if (redisTopologyOf(redisUrl) !== 'cluster' || hashTagOf(prefix) !== undefined) return undefined;
  const suggested = `{${prefix.replace(/[{}]/g, '') || 'sy'}}`;
  return (
    `"${prefix}" has no hash tag, but ${names.url} is a Redis Cluster URL: every key of one ` +
    `${names.prefix} must hash to one slot. Put the prefix in braces, e.g. ${names.prefix}=${suggested}`
  );
}

/**
 * The start-time check every app that reads REDIS_URL and QUEUE_PREFIX runs
 * in its env schema (`.superRefine(refineQueuePrefixForCluster)`): a cluster
 * URL with an un-tagged prefix is a QUEUE_PREFIX error, so the app exits 1
 * naming it.
 */
export function refineQueuePrefixForCluster(
  env: { REDIS_URL: string; QUEUE_PREFIX: string },
  context: { addIssue(issue: { code: 'custom'; path: string[]; message: string }): void },
): void {
  const problem = queuePrefixClusterProblem(env.REDIS_URL, env.QUEUE_PREFIX);
  if (problem !== undefined)
    context.addIssue({ code: 'custom', path: ['QUEUE_PREFIX'], message: problem });
}

/** Where the connection reports outages: one warning per outage, one line when it is back. */
export interface RedisConnectionLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export interface CreateRedisConnectionOptions {
  /** A REDIS_URL in any of the accepted forms (see the header). */
  url: string;
  /** How commands behave while Redis is away (see the header). */
  profile: RedisConnectionProfile;
  /**
   * 'fail-fast' and 'one-shot': ioredis commandTimeout, an unanswered
   * command fails after this long. Default 2 000. Ignored for 'blocking'.
   */
  commandTimeoutMs?: number;
  /** Bound on connecting to one node. Default max(commandTimeoutMs, 1 000); 10 000 for 'blocking'. */
  connectTimeoutMs?: number;
  /** CLIENT SETNAME on every connection, e.g. 'sy-producer'. */
  connectionName?: string;
  /**
   * Connection errors are logged here, once per outage (the URL redacted).
   * Without one, errors are swallowed: callers see them as failed commands.
   */
  logger?: RedisConnectionLogger;
}

/**
 * The CA that rediss:// connections of this process trust, set once at
 * start from REDIS_TLS_CA_FILE (useRedisTlsCa); undefined: Node's default
 * roots. Process-wide on purpose: every connection of an app (its own,
 * BullMQ's, a publisher's, a metrics scrape's) is opened from REDIS_URL
 * somewhere below the app's main, and each must trust the same CA.
 */
let tlsCa: string | undefined;

/**
 * Makes every rediss:// connection opened from now on trust only `caPem`
 * (the PEM of the CA that signed the Redis server's certificate, e.g. a
 * private CA), instead of Node's default roots; undefined restores the
 * default. Apps call it once, before their first connection, with their
 * REDIS_TLS_CA_FILE (envFields.REDIS_TLS_CA_FILE reads and checks it).
 * Plain redis:// connections are unaffected.
 */
export function useRedisTlsCa(caPem: string | undefined): void {
  tlsCa = caPem;
}

/** TLS options for a rediss:// connection. */
function tlsOptions(): { ca?: string } {
  return tlsCa === undefined ? {} : { ca: tlsCa };
}

/** True when `connection` is a Redis Cluster client. */
export function isRedisCluster(connection: RedisConnection): connection is Cluster {
  return connection instanceof Cluster;
}

/** The options per node for `profile` (what a cluster hands each node's connection). */
function nodeOptions(options: CreateRedisConnectionOptions): RedisOptions {
  const commandTimeout = options.commandTimeoutMs ?? 2_000;
  const name =
    options.connectionName === undefined ? {} : { connectionName: options.connectionName };
  if (options.profile === 'blocking') {
    return {
      maxRetriesPerRequest: null,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      ...name,
    };
  }
  return {
    maxRetriesPerRequest: 1,
    commandTimeout,
    connectTimeout: options.connectTimeoutMs ?? Math.max(commandTimeout, 1_000),
    ...name,
  };
}

/**
 * Opens a connection to `url` with `profile`: a `Redis` for a plain or
 * Sentinel URL, a `Cluster` for a cluster URL. Throws RedisUrlError for a
 * URL it cannot use. The caller owns and closes it.
 */
export function createRedisConnection(options: CreateRedisConnectionOptions): RedisConnection {
  const { url, profile } = options;
  const parsed = parseRedisUrl(url);
  const perNode = nodeOptions(options);
  const failFast = profile !== 'blocking';
  const oneShot = profile === 'one-shot';
  let connection: RedisConnection;
  if (parsed.topology === 'cluster') {
    const auth = {
      ...(parsed.username === undefined ? {} : { username: parsed.username }),
      ...(parsed.password === undefined ? {} : { password: parsed.password }),
    };
    const clusterOptions: ClusterOptions = {
      redisOptions: { ...perNode, ...auth, ...(parsed.tls ? { tls: tlsOptions() } : {}) },
      ...(failFast ? { enableOfflineQueue: false } : {}),
      ...(oneShot ? { lazyConnect: true, clusterRetryStrategy: () => null } : {}),
      // Connect to the seed host names as given, not to IPs resolved first:
      // a managed cluster's TLS certificate names the host.
      ...(parsed.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    };
    connection = new Cluster(parsed.nodes, clusterOptions);
  } else {
    const common: RedisOptions = {
      ...perNode,
      ...(failFast ? { enableOfflineQueue: false } : {}),
      ...(oneShot ? { lazyConnect: true, retryStrategy: () => null } : {}),
    };
    if (parsed.topology === 'sentinel') {
      connection = new Redis({
        ...common,
        sentinels: parsed.nodes,
        name: parsed.masterName!,
        ...(parsed.username === undefined ? {} : { username: parsed.username }),
        ...(parsed.password === undefined ? {} : { password: parsed.password }),
        ...(parsed.db === undefined ? {} : { db: parsed.db }),
        ...(parsed.sentinelUsername === undefined
          ? {}
          : { sentinelUsername: parsed.sentinelUsername }),
        ...(parsed.sentinelPassword === undefined
          ? {}
          : { sentinelPassword: parsed.sentinelPassword }),
        ...(parsed.tls
          ? { tls: tlsOptions(), enableTLSForSentinelMode: true, sentinelTLS: tlsOptions() }
          : {}),
        ...(oneShot ? { sentinelRetryStrategy: () => null } : {}),
      });
    } else {
      // ioredis reads a plain URL itself (db, TLS, query options), as before;
      // an explicit `tls` (the CA) wins over the one rediss:// implies.
      connection = new Redis(url, parsed.tls ? { ...common, tls: tlsOptions() } : common);
    }
  }
  watchOutages(connection, url, options.logger);
  return connection;
}

/**
 * One warning per outage, one line when the connection is ready again. An
 * 'error' listener is always attached: ioredis would print unhandled ones.
 */
function watchOutages(
  connection: RedisConnection,
  url: string,
  logger: RedisConnectionLogger | undefined,
): void {
  let reported = false;
  connection.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    logger?.warn(
      { err: error, redis: redactRedisUrl(url) },
      'redis connection error; reconnecting',
    );
  });
  connection.on('ready', () => {
    if (reported) logger?.info({ redis: redactRedisUrl(url) }, 'redis connection restored');
    reported = false;
  });
}

/**
 * Readiness probe: PING answered within `timeoutMs`. A connection that is
 * not ready counts as unreachable without sending anything, so the probe
 * never waits on ioredis' reconnect loop. On a cluster the PING goes to one
 * node; a cluster that lost a slot's master answers CLUSTERDOWN to the
 * commands that need it, which fail the requests themselves.
 */
export async function isRedisReachable(
  connection: RedisConnection,
  timeoutMs: number,
): Promise<boolean> {
  if (connection.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      connection.ping().then(
        (reply) => reply === 'PONG',
        () => false,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
