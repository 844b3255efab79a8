/**
 * `pnpm start`: Redis, then the sandbox, the producer, WORKER_REPLICAS
 * replicas of every worker app and the dashboard, supervised until Ctrl-C or
 * SIGTERM.
 *
 * `--dev` (`pnpm dev`): the same, but every app runs from its TypeScript
 * source under `tsx watch` and restarts when a file it imports changes
 * (packages/* included), one replica per worker app by default, and the
 * children's pino lines are pretty-printed (in colour on a terminal) behind
 * their `[app]` tag. See stack-plan.ts for how the apps are launched.
 *
 * Shutdown contract: the first SIGINT/SIGTERM/SIGHUP stops the apps (SIGTERM, then
 * SIGKILL after STACK_SHUTDOWN_TIMEOUT_MS; workers before the sandbox they
 * call), then the Redis the stack started, and exits 0. A further signal
 * kills everything at once and exits 1. Copies of one signal that arrive
 * together (a terminal's Ctrl-C reaches npm, the bootstrap and this process,
 * and npm forwards it as well) count as one.
 *
 * Exit codes: 0 after a requested stop; 1 when the stack cannot start (bad
 * variable, app not built, port taken, no Redis) or was killed by a second
 * signal.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@switchyard/observability';
import { resolveCredentials } from './credentials.js';
import { parseStackEnv, type StackMode } from './env.js';
import { createPrettyLogLine } from './pretty-log-line.js';
import { StackError, UsageError } from './errors.js';
import { assertPortsFree } from './check-ports.js';
import { resolveRedis, type ResolvedRedis } from './resolve-redis.js';
import { formatDelay } from './restart-backoff.js';
import { planStack, withRedis } from './stack-plan.js';
import { formatSummary } from './summary.js';
import { Supervisor } from './supervisor.js';
import { TaggedOutput } from './tagged-output.js';
import { waitReady } from './wait-ready.js';

/** Signals closer together than this are one request (see the contract above). */
const SAME_SIGNAL_WINDOW_MS = 1_000;

let redis: ResolvedRedis | undefined;
let supervisor: Supervisor | undefined;
let output = new TaggedOutput({ names: ['stack'] });
const stopping = new AbortController();
let firstSignalAt = 0;

function say(message: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
  output.line('stack', message, stream);
}

/** The mode the arguments ask for; throws UsageError on anything else. */
function parseArgs(args: readonly string[]): StackMode {
  let mode: StackMode = 'start';
  for (const arg of args) {
    if (arg === '--dev') mode = 'dev';
    else throw new UsageError(arg);
  }
  return mode;
}

async function start(): Promise<void> {
  const mode = parseArgs(process.argv.slice(2));
  const env = parseStackEnv(process.env, mode);
  const root = env.STACK_ROOT ?? fileURLToPath(new URL('../../../', import.meta.url));
  const credentials = resolveCredentials({
    apiKeys: env.API_KEYS,
    dashboardUser: env.DASHBOARD_USER,
    dashboardPassword: env.DASHBOARD_PASSWORD,
  });
  const plan = planStack({ root, env, credentials, parentEnv: process.env, mode });
  output = new TaggedOutput({
    names: ['stack', 'redis', ...plan.children.map((child) => child.name)],
    formatChildLine:
      mode === 'dev' ? createPrettyLogLine({ colorize: process.stdout.isTTY }) : undefined,
  });
  if (mode === 'dev')
    say('dev mode: apps run from source and restart when a file they import changes');
  const backoff = {
    initialDelayMs: env.STACK_RESTART_DELAY_MS,
    maxDelayMs: env.STACK_RESTART_MAX_DELAY_MS,
    resetAfterMs: env.STACK_RESTART_RESET_AFTER_MS,
  };
  await assertPortsFree(plan.ports);
  if (stopping.signal.aborted) return;

  redis = await resolveRedis({
    redisUrl: env.REDIS_URL,
    port: env.STACK_REDIS_PORT,
    dataDir: join(root, '.data', 'redis'),
    configFile: join(root, 'infra', 'redis', 'redis.conf'),
    searchPath: process.env.PATH,
    output,
    stopTimeoutMs: env.STACK_SHUTDOWN_TIMEOUT_MS,
    backoff,
  });
  say(`redis: ${redis.origin}`);
  if (stopping.signal.aborted) return;

  const children = withRedis(plan.children, redis.url);
  supervisor = new Supervisor({
    children,
    output,
    shutdownTimeoutMs: env.STACK_SHUTDOWN_TIMEOUT_MS,
    backoff,
  });
  supervisor.start();

  const startedAt = Date.now();
  const notReady = new Set<string>();
  await Promise.all(
    children.map(async (child) => {
      const ready = await waitReady(child.readyUrl, {
        timeoutMs: env.STACK_READY_TIMEOUT_MS,
        signal: stopping.signal,
      });
      if (stopping.signal.aborted) return;
      if (ready) say(`${child.name} ready (${formatDelay(Date.now() - startedAt)})`);
      else {
        notReady.add(child.name);
        say(
          `${child.name} did not answer ${child.readyUrl} with 200 within ${formatDelay(env.STACK_READY_TIMEOUT_MS)}`,
          'stderr',
        );
      }
    }),
  );
  if (stopping.signal.aborted) return;
  output.stdout.write(
    formatSummary({
      children,
      notReady,
      readyTimeoutMs: env.STACK_READY_TIMEOUT_MS,
      redis,
      credentials,
      mode,
    }),
  );
}

async function stop(startup: Promise<void>): Promise<void> {
  // Startup notices the abort at its next step; wait for it so nothing it is
  // about to start is left behind.
  await startup.catch(() => undefined);
  await supervisor?.stop();
  await redis?.stop();
  say('stopped');
  process.exit(0);
}

function onSignal(signal: NodeJS.Signals, startup: Promise<void>): void {
  const now = Date.now();
  if (!stopping.signal.aborted) {
    firstSignalAt = now;
    say(`${signal} received: stopping (send it again to kill everything at once)`);
    stopping.abort();
    void stop(startup);
    return;
  }
  if (now - firstSignalAt < SAME_SIGNAL_WINDOW_MS) return;
  say(`${signal} received again: killing everything now`, 'stderr');
  process.exit(1);
}

function fail(error: unknown): never {
  if (error instanceof StackError || error instanceof ConfigError) say(error.message, 'stderr');
  else
    say(
      `unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      'stderr',
    );
  process.exit(1);
}

// Whatever ends this process, children and a Redis the stack started must
// not outlive it (a no-op after a clean stop).
process.on('exit', () => {
  supervisor?.killNow();
  redis?.killNow();
});

const startup = start();
// SIGHUP (the terminal went away) too: the default would kill the stack and
// leave the exit hook to SIGKILL Redis, losing up to a second of its AOF.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => onSignal(signal, startup));
void startup.catch(async (error: unknown) => {
  await supervisor?.kill();
  await redis?.stop();
  fail(error);
});
