/**
 * Dev mode's reader for children's pino JSON: one line in, the same record
 * as a human reads it out (`12:01:02.345 INFO: event handled {...}`), with
 * pino-pretty doing the formatting.
 *
 * Contract: a line that is not a pino record (a `[tsx] change in …` notice,
 * a stack trace Node prints on a crash, a partial write) comes back
 * unchanged, so nothing a child prints is hidden. The app's name is not
 * repeated (`name`, `service`, `pid`, `hostname` are dropped): the
 * `[app]` tag in front of every line already says it.
 */
import pinoPretty from 'pino-pretty';

export interface PrettyLogLineOptions {
  /** ANSI colours. Give true only when the output is a terminal. */
  colorize: boolean;
}

export type LineFormatter = (line: string) => string;

export function createPrettyLogLine(options: PrettyLogLineOptions): LineFormatter {
  const format = pinoPretty.prettyFactory({
    colorize: options.colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,service',
    singleLine: true,
  });
  return (line) => {
    const record = parseRecord(line);
    if (record === undefined) return line;
    // prettyFactory ends its output with a newline; the tagger adds its own.
    return format(record).replace(/\r?\n$/, '');
  };
}

/** The parsed line when it is a pino record (an object with a numeric level), else undefined. */
function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const record = value as Record<string, unknown>;
    return typeof record.level === 'number' ? record : undefined;
  } catch {
    return undefined;
  }
}
