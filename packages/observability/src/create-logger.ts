/**
 * The pino logger every process uses: JSON lines, the correlation context
 * mixed into each line (and, with tracing on, the active span's `traceId`
 * and `spanId`), secrets and e-mail addresses redacted.
 *
 * Output is always JSON, in development too: pino-pretty is not a
 * dependency; pipe a process's output through it to read lines by eye.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { currentCorrelation } from './correlation.js';
import { activeTraceIds } from './tracing.js';

export type { Logger } from 'pino';

/**
 * Paths censored in every line. pino's wildcards match one level, so the
 * usual nestings are listed: a request's headers, an event's data, a job's
 * event.
 */
export const redactPaths = [
  'authorization',
  'apiKey',
  'password',
  'email',
  '*.authorization',
  '*.apiKey',
  '*.password',
  '*.email',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["idempotency-key"]',
  'data.email',
  'event.data.email',
  'envelope.data.email',
  'body.data.email',
  '*.data.email',
];

export interface CreateLoggerOptions {
  /** Service name put on every line as `service`. */
  name: string;
  /** Minimum level. Default: `info`. */
  level?: LevelWithSilent;
  /** Where lines go. Default: stdout. Tests pass a stream to assert on lines. */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { service: options.name, pid: process.pid },
      redact: { paths: redactPaths, censor: '[redacted]' },
      mixin: () => {
        const ids = activeTraceIds();
        return ids === undefined
          ? { ...currentCorrelation() }
          : { ...currentCorrelation(), ...ids };
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

/** How long exitAfterFlush waits for the log lines still buffered. */
export const exitFlushTimeoutMs = 1_000;

/**
 * Exits with `code` once the lines `logger` still buffers are written (at
 * most `timeoutMs`). The default destination writes asynchronously, and
 * process.exit's own synchronous flush can overtake a write already in
 * flight, so the last lines of a shutdown could come out of order.
 */
export function exitAfterFlush(logger: Logger, code: number, timeoutMs = exitFlushTimeoutMs): void {
  const exit = () => process.exit(code);
  setTimeout(exit, timeoutMs).unref();
  try {
    logger.flush(() => exit());
  } catch {
    exit();
  }
}

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
