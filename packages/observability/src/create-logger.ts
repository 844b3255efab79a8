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

/**
 * Anything shaped like an e-mail address. Quantifiers are bounded (RFC 5321
 * lengths), so a long line costs a bounded scan per position, never
 * catastrophic backtracking; a TLD of letters keeps `package@1.2.3` out.
 */
const emailShaped =
  /[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;
/** The password of a Redis URL (`redis://user:password@`, any of our schemes). */
const redisUrlPassword = /(rediss?(?:\+[a-z]+)?:\/\/[^\s:@/"]*:)[^\s@/"]+@/gi;

/**
 * The last line of defence, on every serialized line: e-mail-shaped text
 * and Redis URL passwords are replaced wherever they are, in values no
 * redact path names (a caller's correlationId or Idempotency-Key, free
 * text, an error's message or stack, a URL). Redact paths stay the first
 * line: they remove known fields whole.
 */
export function scrubLogLine(line: string): string {
  if (!line.includes('@')) return line;
  return line.replace(emailShaped, '[redacted-email]').replace(redisUrlPassword, '$1***@');
}

export interface CreateLoggerOptions {
  /** Service name put on every line as `service`. */
  name: string;
  /** Minimum level. Default: `info`. */
  level?: LevelWithSilent;
  /**
   * Where lines go. Default: stdout, written asynchronously (see
   * stdoutDestination). Tests pass a stream to assert on lines.
   */
  destination?: DestinationStream;
}

/**
 * stdout through an asynchronous sonic-boom: lines logged while a write is
 * in flight are joined into the next write, so a busy worker makes one
 * write syscall per batch of lines instead of one per line (pino's default
 * destination writes synchronously: a syscall per line, ~10% of a worker's
 * CPU at two lines per job). Lines still buffered are flushed synchronously
 * when the process exits (pino registers that for async destinations);
 * exitAfterFlush waits for them on a controlled exit.
 */
function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}

export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { service: options.name, pid: process.pid },
      redact: { paths: redactPaths, censor: '[redacted]' },
      hooks: { streamWrite: scrubLogLine },
      // The correlation store is handed over as is (no copy per line; with
      // tracing off activeTraceIds is one flag check) and the merge below
      // builds the line's object without mutating it. pino's default merge
      // assigns the call's fields into the mixin's object, which forced a
      // spread copy first: ~2.5 µs more per line (docs/performance.md).
      mixin: () => {
        const ids = activeTraceIds();
        const fields = currentCorrelation();
        return ids === undefined ? fields : { ...fields, ...ids };
      },
      // The call's own fields win over the context's, as with pino's default.
      mixinMergeStrategy: (mergeObject: object, mixinObject: object) =>
        Object.assign({}, mixinObject, mergeObject),
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? stdoutDestination(),
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
