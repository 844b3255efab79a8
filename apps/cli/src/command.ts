/**
 * What every command is: its flags (util.parseArgs options), its usage text,
 * and a run function that takes the parsed arguments and injected
 * dependencies and resolves an exit code. Commands never read process.env or
 * process.argv, never exit, and write only to the given writers, so tests
 * call them in-process.
 */
import type { ParseArgsConfig } from 'node:util';
import type { RedisConnection } from '@switchyard/client';
import type { CliConfig } from './config.js';
import { UsageError } from './errors.js';

/** Where a command writes: process.stdout / process.stderr, or a buffer in tests. */
export interface Writer {
  write(text: string): unknown;
}

/** Wall and monotonic time, and waiting: real in the bin, swappable in tests. */
export interface Clock {
  /** Milliseconds since the epoch (ages, "last minute", due delayed jobs). */
  now(): number;
  /** Monotonic milliseconds (replay pacing). */
  monotonic(): number;
  /** Waits `ms`; settles soon after `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The `options` of util.parseArgs. */
export type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

export type ArgValue = string | boolean | (string | boolean)[] | undefined;

export interface ParsedArgs {
  values: Readonly<Record<string, ArgValue>>;
  positionals: readonly string[];
}

export interface CommandContext {
  config: Readonly<CliConfig>;
  /** The connection for this run; undefined for commands that said they need none. */
  redis: RedisConnection | undefined;
  stdout: Writer;
  stderr: Writer;
  /** stderr is a terminal: draw a progress bar instead of progress lines. */
  isTTY: boolean;
  clock: Clock;
  /** Aborts long runs (replay, purge) on Ctrl-C. */
  signal: AbortSignal | undefined;
}

export interface Command {
  /** 'queues', 'dlq ls', ... */
  name: string;
  /** One line for `sy --help`. */
  summary: string;
  /** Full text for `sy <command> --help`. */
  usage: string;
  /** The command's own flags; the global ones are added by the dispatcher. */
  options: ParseArgsOptionsConfig;
  /** False when this invocation needs no Redis connection (publish over HTTP). */
  needsRedis(args: ParsedArgs): boolean;
  run(args: ParsedArgs, context: CommandContext): Promise<number>;
}

export function stringArg(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function stringsArg(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

export function flagArg(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** An integer flag within [min, max]; undefined when absent. */
export function integerArg(
  args: ParsedArgs,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = stringArg(args, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${name} ${JSON.stringify(raw)} must be an integer from ${min} to ${max}`,
    );
  }
  return value;
}

/** Requires exactly `count` leading positionals, named in `names` for the message. */
export function requirePositionals(
  args: ParsedArgs,
  names: readonly string[],
  command: string,
): string[] {
  if (args.positionals.length < names.length) {
    throw new UsageError(
      `${command}: missing ${names
        .slice(args.positionals.length)
        .map((n) => `<${n}>`)
        .join(' ')} (see sy ${command} --help)`,
    );
  }
  return args.positionals.slice(0, names.length);
}

export function noExtraPositionals(args: ParsedArgs, count: number, command: string): void {
  if (args.positionals.length > count) {
    throw new UsageError(
      `${command}: unexpected argument ${JSON.stringify(args.positionals[count])} (see sy ${command} --help)`,
    );
  }
}

/**
 * Characters JSON.stringify leaves as they are that a terminal acts on: DEL,
 * C1 controls, bidi controls, line and paragraph separators (it escapes C0).
 */
const jsonUnsafe = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/**
 * `value` as indented JSON with the characters above written as `\\uXXXX`
 * escapes: the same JSON for a parser, nothing a terminal would act on. They
 * can only occur inside strings, where the escape is valid.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    jsonUnsafe,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function writeJson(writer: Writer, value: unknown): void {
  writer.write(`${jsonText(value)}\n`);
}
