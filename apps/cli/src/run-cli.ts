/**
 * The whole CLI as a function: argv in, exit code out. Parses the command
 * line with util.parseArgs (strict: an unknown flag is a usage error), reads
 * the config, opens one fail-fast Redis connection when the command needs
 * it, runs the command and closes the connection. Every failure becomes one
 * line on stderr (plus the stack with --debug) and an exit code:
 * 0 ok, 1 operation failed, 2 usage error, 3 Redis unreachable or failing.
 */
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { DeadLetterUsageError } from '@switchyard/runtime';
import type {
  Clock,
  Command,
  CommandContext,
  ParseArgsOptionsConfig,
  ParsedArgs,
  Writer,
} from './command.js';
import { commands } from './commands/index.js';
import { readConfig, type CliConfig } from './config.js';
import { connectRedis, defaultConnectTimeoutMs, redisFailureOf } from './connect-redis.js';
import { CliError, UsageError, exitCodes } from './errors.js';

export interface CliDeps {
  /** Environment to read REDIS_URL and QUEUE_PREFIX from (main.ts passes process.env). */
  env: Readonly<Record<string, string | undefined>>;
  stdout: Writer;
  stderr: Writer;
  /** stderr is a terminal. Default false. */
  isTTY?: boolean;
  /** Default: the real clock. */
  clock?: Clock;
  /** Aborts long runs; main.ts ties it to SIGINT. */
  signal?: AbortSignal;
  /** Bound on the first Redis connection, ms. Default 3 000. */
  connectTimeoutMs?: number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal === undefined ? {} : { signal }),
};

const globalOptions = {
  redis: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

const globalUsage = `Global options:
  --redis <url>     Redis of the queues (env REDIS_URL, default redis://127.0.0.1:6379);
                    also redis+cluster://h:p,h:p and redis+sentinel://h:p/<master>
  --prefix <p>      BullMQ key prefix (env QUEUE_PREFIX, default sy); {sy} on a cluster
  --json            machine-readable output on stdout
  --debug           print stacks with errors
  -h, --help        this text, or a command's with sy <command> --help`;

export function mainUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: sy <command> [options]

Operate Switchyard's queues: inspect them, find jobs, replay or purge dead
letters, pause and resume consumption, change limits, publish an event.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

${globalUsage}

Exit codes:
  0    done (find: at least one job found)
  1    the operation failed: entry or job not found, event refused, a replay
       or purge left entries behind or was stopped
  2    usage error: unknown command or flag, bad value, unknown subscriber
  3    Redis unreachable, or it failed a command (connection lost, timeout,
       error reply)
  130  interrupted twice with Ctrl-C (once stops a replay or purge cleanly)

Examples:
  sy queues
  sy find 0192f1c4-5b6a-7c3d-8e9f-0a1b2c3d4e5f
  sy dlq ls billing --reason attempts_exhausted
  sy dlq replay billing --all --rate 200/s --dry-run
  sy limits set billing --rate 50/1s
  REDIS_URL=redis://redis:6379 sy pause notifications
`;
}

/** Splits off the command words (`dlq ls`), skipping global flags and their values before them. */
function findCommand(argv: readonly string[]): {
  command: Command | undefined;
  words: string[];
  rest: string[];
} {
  const rest = [...argv];
  const words: string[] = [];
  let index = 0;
  while (index < rest.length) {
    const token = rest[index]!;
    if (token === '--') break;
    if (token.startsWith('-')) {
      index += token === '--redis' || token === '--prefix' ? 2 : 1;
      continue;
    }
    words.push(token);
    rest.splice(index, 1);
    const joined = words.join(' ');
    const exact = commands.find((c) => c.name === joined);
    if (exact !== undefined) return { command: exact, words, rest };
    if (!commands.some((c) => c.name.startsWith(`${joined} `))) break;
  }
  return { command: undefined, words, rest };
}

function parseFor(command: Command, args: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (error) {
    if (
      error instanceof TypeError &&
      'code' in error &&
      String(error.code).startsWith('ERR_PARSE_ARGS')
    ) {
      throw new UsageError(
        `${command.name}: ${error.message.split('\n')[0]} (see sy ${command.name} --help)`,
      );
    }
    throw error;
  }
}

function report(deps: CliDeps, error: unknown, debug: boolean): number {
  let exitCode: number = exitCodes.failed;
  let message: string;
  if (error instanceof CliError) {
    exitCode = error.exitCode;
    message = error.message;
  } else if (error instanceof DeadLetterUsageError) {
    exitCode = exitCodes.usage;
    message = error.message;
  } else if (error instanceof Error) {
    const code = 'code' in error && typeof error.code === 'string' ? ` (${error.code})` : '';
    message = `${error.message}${code}`;
  } else {
    message = String(error);
  }
  deps.stderr.write(`sy: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  if (debug && error instanceof Error && error.stack !== undefined)
    deps.stderr.write(`${error.stack}\n`);
  return exitCode;
}

export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const debug = argv.includes('--debug');
  const { command, words, rest } = findCommand(argv);
  if (command === undefined) {
    const wantsHelp =
      argv.length === 0 || rest.includes('--help') || rest.includes('-h') || words[0] === 'help';
    if (wantsHelp && (words.length === 0 || words[0] === 'help')) {
      deps.stdout.write(mainUsage());
      return argv.length === 0 ? exitCodes.usage : exitCodes.ok;
    }
    const group = words.join(' ');
    const subcommands = commands.filter((c) => words.length > 0 && c.name.startsWith(`${group} `));
    if (subcommands.length > 0 && wantsHelp) {
      deps.stdout.write(`${subcommands.map((c) => c.usage).join('\n')}\n${globalUsage}\n`);
      return exitCodes.ok;
    }
    const what =
      subcommands.length > 0
        ? `"${group}" needs a subcommand: ${subcommands.map((c) => c.name.slice(group.length + 1)).join(', ')}`
        : words.length > 0
          ? `unknown command "${group}"`
          : 'no command given';
    deps.stderr.write(`sy: ${what}\n\n${mainUsage()}`);
    return exitCodes.usage;
  }
  let context: CommandContext | undefined;
  try {
    const args = parseFor(command, rest);
    if (args.values.help === true) {
      deps.stdout.write(`${command.usage}\n${globalUsage}\n`);
      return exitCodes.ok;
    }
    const config: CliConfig = readConfig({
      env: deps.env,
      redisFlag: typeof args.values.redis === 'string' ? args.values.redis : undefined,
      prefixFlag: typeof args.values.prefix === 'string' ? args.values.prefix : undefined,
    });
    const redis = command.needsRedis(args)
      ? await connectRedis(config, deps.connectTimeoutMs ?? defaultConnectTimeoutMs)
      : undefined;
    context = {
      config,
      redis,
      stdout: deps.stdout,
      stderr: deps.stderr,
      isTTY: deps.isTTY ?? false,
      clock: deps.clock ?? realClock,
      signal: deps.signal,
    };
    return await command.run(args, context);
  } catch (error) {
    const redisFailure =
      context?.redis === undefined || error instanceof CliError
        ? undefined
        : redisFailureOf(error, context.redis, context.config);
    return report(deps, redisFailure ?? error, debug);
  } finally {
    if (context?.redis !== undefined) {
      await context.redis.quit().catch(() => context?.redis?.disconnect());
    }
  }
}
