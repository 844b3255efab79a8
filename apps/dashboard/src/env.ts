/**
 * The dashboard's configuration, read once from the environment by main.ts
 * (`loadEnvOrExit`) and passed down frozen. A missing or bad variable stops
 * the process with a message naming it; passwords and hashes are never echoed.
 */
import { isIPv6 } from 'node:net';
import { z } from 'zod';
import { refineQueuePrefixForCluster } from '@switchyard/client';
import { envFields } from '@switchyard/observability';
import { parsePasswordHash, type PasswordHash } from './password-hash.js';

export const dashboardRoles = ['admin', 'viewer'] as const;
/** admin: everything; viewer: reads only (every mutating request answers 403). */
export type DashboardRole = (typeof dashboardRoles)[number];

/** A DNS name or IPv4 address, as DASHBOARD_HOSTS takes it (no port). */
const hostName =
  /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** A login name: no `:` (HTTP Basic splits on it) and nothing a log line could confuse. */
const userName = /^[A-Za-z0-9_.@-]{1,64}$/;

/** One `DASHBOARD_USERS` entry, its hash parsed. */
export interface HashedUser {
  name: string;
  role: DashboardRole;
  hash: PasswordHash;
}

const dashboardUsers = z
  .string()
  .default('')
  .transform((text, context) => {
    const users: HashedUser[] = [];
    text
      .split(',')
      .map((entry) => entry.trim())
      .forEach((entry, index) => {
        if (entry === '') return;
        const [name = '', role = '', ...rest] = entry.split(':');
        const problem = !userName.test(name)
          ? 'has a name that is not 1-64 letters, digits or _ . @ -'
          : !(dashboardRoles as readonly string[]).includes(role)
            ? 'has a role that is not admin or viewer'
            : rest.length !== 1
              ? 'is not name:role:hash'
              : undefined;
        const hash = problem === undefined ? parsePasswordHash(rest[0]!) : problem;
        if (typeof hash === 'string') {
          // Entries are named by position and user name only: the hash is a secret.
          context.addIssue({
            code: 'custom',
            message: `entry ${index + 1}${userName.test(name) ? ` (${name})` : ''} ${hash}`,
          });
          return;
        }
        users.push({ name, role: role as DashboardRole, hash });
      });
    return users;
  });

export const dashboardEnvSchema = z
  .object({
    /** Redis holding the queues. Default redis://127.0.0.1:6379. */
    REDIS_URL: envFields.REDIS_URL,
    /** CA (PEM file) that a rediss:// REDIS_URL must chain to, instead of Node's roots. Default unset. */
    REDIS_TLS_CA_FILE: envFields.REDIS_TLS_CA_FILE,
    /** Address to bind. Default 127.0.0.1. */
    HOST: envFields.HOST,
    /** HTTP port. Default 3001. */
    DASHBOARD_PORT: envFields.port(3001),
    /**
     * Users with a password hash: comma-separated `name:role:hash`, role
     * `admin` or `viewer`, hash from `hash-password`. Default none.
     */
    DASHBOARD_USERS: dashboardUsers,
    /** Name of the admin whose plain password is DASHBOARD_PASSWORD. Default `admin`. */
    DASHBOARD_USER: z
      .string()
      .regex(userName, 'must be 1-64 letters, digits or _ . @ -')
      .default('admin'),
    /** Plain password of DASHBOARD_USER (what `pnpm start` generates), at least 8 characters. Default none. */
    DASHBOARD_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(1024).optional(),
    /**
     * Origins that mutating requests may come from (CSRF check), comma-separated,
     * e.g. `https://ops.example.com` behind a TLS proxy. Default: the origin the
     * request was sent to (its Host header, over http or https).
     */
    DASHBOARD_ORIGINS: z
      .string()
      .default('')
      .transform((text, context) => {
        const origins: string[] = [];
        for (const entry of text.split(',').map((part) => part.trim())) {
          if (entry === '') continue;
          let origin: string | undefined;
          try {
            const url = new URL(entry);
            if (url.protocol === 'http:' || url.protocol === 'https:') origin = url.origin;
          } catch {
            origin = undefined;
          }
          if (origin === undefined || origin !== entry.replace(/\/$/, '')) {
            context.addIssue({
              code: 'custom',
              message: `"${entry}" is not an origin like https://ops.example.com`,
            });
            return z.NEVER;
          }
          origins.push(origin);
        }
        return Object.freeze(origins);
      }),
    /**
     * Extra host names (no port) requests may be addressed to, comma-separated,
     * e.g. `ops.example.com`; `*` answers any Host. Always answered: localhost,
     * 127.0.0.1, [::1], HOST unless it is 0.0.0.0 or ::, and the host names of
     * DASHBOARD_ORIGINS (check-host.ts). Default none.
     */
    DASHBOARD_HOSTS: z
      .string()
      .default('')
      .transform((text, context) => {
        const hosts: string[] = [];
        for (const entry of text.split(',').map((part) => part.trim())) {
          if (entry === '') continue;
          if (
            entry !== '*' &&
            !hostName.test(entry) &&
            !isIPv6(entry.replace(/^\[(.*)\]$/, '$1'))
          ) {
            context.addIssue({
              code: 'custom',
              message: `"${entry}" is not a host name like ops.example.com (no scheme, no port) or *`,
            });
            return z.NEVER;
          }
          hosts.push(entry);
        }
        return Object.freeze(hosts);
      }),
    /** BullMQ key prefix of the queues (the same as producer and workers). Default 'sy'. */
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.:{}-]{1,64}$/, 'may hold 1-64 letters, digits and _ . : { } -')
      .default('sy'),
    /** Most jobs one search lists. Default 100; at most 500. */
    SEARCH_LIMIT: z.coerce.number().int().positive().max(500).default(100),
    /** Bound on a graceful shutdown before exiting 1. Default 10 000; at most 600 000. */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    /** ioredis commandTimeout: a Redis command unanswered this long fails the request. Default 5 000; at most 60 000. */
    REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().max(60_000).default(5_000),
    /** pino level. Default info. */
    LOG_LEVEL: envFields.LOG_LEVEL,
  })
  .superRefine(refineQueuePrefixForCluster)
  .superRefine((env, context) => {
    const names = env.DASHBOARD_USERS.map((user) => user.name);
    if (env.DASHBOARD_PASSWORD !== undefined) names.push(env.DASHBOARD_USER);
    if (names.length === 0) {
      context.addIssue({
        code: 'custom',
        path: ['DASHBOARD_PASSWORD'],
        message:
          'no dashboard user: set DASHBOARD_PASSWORD (password of DASHBOARD_USER, an admin) or DASHBOARD_USERS (name:role:scrypt-hash, comma-separated)',
      });
    }
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['DASHBOARD_USERS'],
        message: `user "${duplicate}" is configured twice (DASHBOARD_USERS and DASHBOARD_USER count together)`,
      });
    }
  });

export type DashboardConfig = Readonly<z.infer<typeof dashboardEnvSchema>>;
