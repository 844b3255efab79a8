/** A logger whose lines land in an array, to assert on them (pino's own test pattern). */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@switchyard/observability';

export type LogLine = Record<string, unknown>;

export function captureLogs(name = 'test'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { logger: createLogger({ name, level: 'debug', destination }), lines };
}
