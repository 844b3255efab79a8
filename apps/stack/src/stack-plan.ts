/**
 * What `pnpm start` and `pnpm dev` run: which apps, with which ports and
 * environment. Worker apps are found by listing apps/worker-*, so a new
 * worker needs no change here; the dashboard runs only once apps/dashboard
 * is built (start) or has a src/main.ts (dev).
 *
 * The two modes differ only in how a child is launched:
 * - start: `node apps/<app>/dist/main.js`;
 * - dev: `node <tsx cli> watch --conditions=@switchyard/source src/main.ts`
 *   from the app's folder. Workspace packages then resolve to their
 *   TypeScript source, and tsx watches every file the app imports,
 *   packages/* included (they are reached through node_modules symlinks,
 *   but tsx watches the resolved paths), so an edit anywhere restarts exactly
 *   the apps that import the file. tsx stops the app with SIGTERM on a change
 *   (SIGKILL after 5 s) and keeps waiting for the next change when the app
 *   crashes, so a crash in dev mode waits for a fix instead of looping.
 *
 * Reads the filesystem, starts nothing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type { Credentials } from './credentials.js';
import type { StackEnv, StackMode } from './env.js';
import { AppNotBuiltError, AppSourceMissingError, PortInUseError } from './errors.js';
import type { ChildSpec } from './supervisor.js';

export type AppKind = 'sandbox' | 'producer' | 'worker' | 'dashboard';

export interface PlannedChild extends ChildSpec {
  kind: AppKind;
  /** Folder under apps/. */
  app: string;
  port: number;
  /** Where the child is reachable: its HTTP API, or a worker's health server. */
  url: string;
  /** Polled until 200 before the stack calls itself ready. */
  readyUrl: string;
  /** Whether the child gets REDIS_URL (known only once Redis is resolved). */
  needsRedis: boolean;
}

export interface PortClaim {
  port: number;
  /** The variable that sets it, for the error message. */
  variable: string;
  child: string;
}

export interface StackPlan {
  children: PlannedChild[];
  ports: PortClaim[];
}

export interface PlanStackOptions {
  /** Repository root (holds apps/). */
  root: string;
  env: StackEnv;
  credentials: Credentials;
  /** Node to run the apps with. Default process.execPath. */
  execPath?: string;
  /**
   * The supervisor's environment, which every child inherits (less
   * SCOPED_VARIABLES), so that `BODY_LIMIT_BYTES=... npm start` reaches the
   * app that reads it. Default process.env.
   */
  parentEnv?: Readonly<Record<string, string | undefined>>;
  /** How children are launched (see the header). Default `start`. */
  mode?: StackMode;
  /** tsx's CLI (dev mode). Default: the `tsx/cli` this package depends on. */
  tsxCli?: string;
}

/**
 * Variables a child gets only from the stack, and only if it uses them:
 * secrets (a REDIS_URL may hold a password) are not handed to apps that have
 * no use for them. Every other variable of the stack's environment passes
 * through, and the values the stack sets for a child (ports, HOST, LOG_LEVEL,
 * SANDBOX_URL, HEALTH_PORT, WORKER_ID, and these) override inherited ones.
 */
export const SCOPED_VARIABLES = [
  'REDIS_URL',
  'API_KEYS',
  'DASHBOARD_USER',
  'DASHBOARD_PASSWORD',
] as const;

const HOST = '127.0.0.1';
/** Health ports of consecutive worker apps are this far apart (> 32 replicas). */
export const WORKER_PORT_STRIDE = 100;

/** apps/worker-* folders that are workspace packages, in name order. */
export function discoverWorkerApps(root: string): string[] {
  const appsDir = join(root, 'apps');
  if (!existsSync(appsDir)) return [];
  return readdirSync(appsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith('worker-'))
    .filter((entry) => existsSync(join(appsDir, entry.name, 'package.json')))
    .map((entry) => entry.name)
    .sort();
}

export function appEntry(root: string, app: string): string {
  return join(root, 'apps', app, 'dist', 'main.js');
}

/** What dev mode runs of an app, relative to the app's folder. */
export const DEV_ENTRY = join('src', 'main.ts');

/** tsx's command-line entry, resolved from this package. */
export function resolveTsxCli(): string {
  return createRequire(import.meta.url).resolve('tsx/cli');
}

/**
 * Throws AppNotBuiltError naming every required app without dist/main.js,
 * and PortInUseError when two children would get the same port.
 */
export function planStack(options: PlanStackOptions): StackPlan {
  const { root, env, credentials } = options;
  const execPath = options.execPath ?? process.execPath;
  const dev = options.mode === 'dev';
  const tsxCli = dev ? (options.tsxCli ?? resolveTsxCli()) : '';
  const entryOf = (app: string): string =>
    dev ? join(root, 'apps', app, DEV_ENTRY) : appEntry(root, app);
  const launch = (entry: string): string[] =>
    dev
      ? [tsxCli, 'watch', '--clear-screen=false', '--conditions=@switchyard/source', DEV_ENTRY]
      : [entry];
  const parentEnv = options.parentEnv ?? process.env;
  const scoped: readonly string[] = SCOPED_VARIABLES;
  const inherited: Record<string, string> = {};
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value !== undefined && !scoped.includes(name)) inherited[name] = value;
  }
  const common = { ...inherited, LOG_LEVEL: env.LOG_LEVEL, HOST };
  const sandboxUrl = `http://${HOST}:${env.SANDBOX_PORT}`;

  const children: PlannedChild[] = [];
  const ports: PortClaim[] = [];
  const missing: { name: string; entry: string }[] = [];
  const add = (
    child: Omit<PlannedChild, 'command' | 'args' | 'cwd' | 'url' | 'readyUrl'> & {
      variable: string;
    },
  ): void => {
    const entry = entryOf(child.app);
    if (!existsSync(entry) && !missing.some((m) => m.name === `apps/${child.app}`)) {
      missing.push({ name: `apps/${child.app}`, entry: relative(root, entry) });
    }
    const url = `http://${HOST}:${child.port}`;
    const { variable, ...spec } = child;
    children.push({
      ...spec,
      command: execPath,
      args: launch(entry),
      cwd: join(root, 'apps', child.app),
      url,
      readyUrl: `${url}/readyz`,
    });
    ports.push({ port: child.port, variable, child: child.name });
  };

  // Workers call the sandbox while they drain, so it stops after them.
  add({
    kind: 'sandbox',
    name: 'sandbox',
    app: 'sandbox',
    port: env.SANDBOX_PORT,
    variable: 'SANDBOX_PORT',
    needsRedis: false,
    stopPhase: 1,
    env: { ...common, SANDBOX_PORT: String(env.SANDBOX_PORT) },
  });
  add({
    kind: 'producer',
    name: 'producer',
    app: 'producer',
    port: env.PRODUCER_PORT,
    variable: 'PRODUCER_PORT',
    needsRedis: true,
    env: {
      ...common,
      PRODUCER_PORT: String(env.PRODUCER_PORT),
      API_KEYS: credentials.apiKeys.join(','),
    },
  });
  discoverWorkerApps(root).forEach((app, index) => {
    for (let replica = 1; replica <= env.WORKER_REPLICAS; replica += 1) {
      const port = env.WORKER_HEALTH_PORT_BASE + WORKER_PORT_STRIDE * index + (replica - 1);
      const name = `${app}-${replica}`;
      add({
        kind: 'worker',
        name,
        app,
        port,
        variable: 'WORKER_HEALTH_PORT_BASE',
        needsRedis: true,
        env: { ...common, SANDBOX_URL: sandboxUrl, HEALTH_PORT: String(port), WORKER_ID: name },
      });
    }
  });
  if (existsSync(entryOf('dashboard'))) {
    add({
      kind: 'dashboard',
      name: 'dashboard',
      app: 'dashboard',
      port: env.DASHBOARD_PORT,
      variable: 'DASHBOARD_PORT',
      needsRedis: true,
      env: {
        ...common,
        DASHBOARD_PORT: String(env.DASHBOARD_PORT),
        DASHBOARD_USER: credentials.dashboardUser,
        DASHBOARD_PASSWORD: credentials.dashboardPassword,
      },
    });
  }

  if (missing.length > 0)
    throw dev ? new AppSourceMissingError(missing) : new AppNotBuiltError(missing);
  const outOfRange = ports.filter((claim) => claim.port > 65_535);
  const clashes = ports.filter(
    (claim, i) => ports.findIndex((other) => other.port === claim.port) !== i,
  );
  if (outOfRange.length > 0 || clashes.length > 0) {
    throw new PortInUseError([
      ...outOfRange.map((claim) => ({ ...claim, reason: `for ${claim.child} is above 65535` })),
      ...clashes.map((claim) => ({
        ...claim,
        reason: `for ${claim.child} is also given to ${ports.find((other) => other.port === claim.port)?.child ?? '?'}`,
      })),
    ]);
  }
  return { children, ports };
}

/** The children's specs once Redis is known: REDIS_URL added where needed. */
export function withRedis(children: readonly PlannedChild[], redisUrl: string): PlannedChild[] {
  return children.map((child) =>
    child.needsRedis ? { ...child, env: { ...child.env, REDIS_URL: redisUrl } } : child,
  );
}
