/**
 * Every failed attempt's error, kept for the dead-letter record.
 *
 * Why our own list and not BullMQ's job.stacktrace: the stacktrace holds only
 * `err.stack` strings (no code, no time), bounded by the job's
 * stackTraceLimit which the publisher sets, and a wrapped error's first line
 * need not carry the code. Rebuilding code/name/time from it would be string
 * parsing of our own output. Recording each attempt ourselves is exact and
 * cheap: one MULTI on a failed attempt only (nothing on the happy path,
 * except a DEL after a success that followed failures).
 *
 * Key `<prefix>:attempt-errors:<subscriber>:<jobId>`: a list of JSON
 * DeadLetterAttemptError, oldest first, trimmed to the last 25, expiring
 * `ttlMs` after the last write (the retry budget plus a day by default, so a
 * job that is still retrying never loses its history).
 */
import type { RedisConnection } from '@switchyard/client';
import {
  boundAttemptError,
  maxDeadLetterErrors,
  type DeadLetterAttemptError,
} from './dead-letter-record.js';
import { errorCode } from './errors.js';

export interface AttemptErrorLog {
  /** Appends one attempt's error. */
  append(jobId: string, entry: DeadLetterAttemptError): Promise<void>;
  /** Every recorded attempt error of `jobId`, oldest first. */
  read(jobId: string): Promise<DeadLetterAttemptError[]>;
  /** Forgets `jobId`'s errors (after a success or a dead-letter write). */
  clear(jobId: string): Promise<void>;
}

export function createAttemptErrorLog(options: {
  redis: RedisConnection;
  prefix: string;
  subscriber: string;
  ttlMs: number;
}): AttemptErrorLog {
  const keyOf = (jobId: string) =>
    `${options.prefix}:attempt-errors:${options.subscriber}:${jobId}`;
  return {
    async append(jobId, entry) {
      const key = keyOf(jobId);
      await options.redis
        .multi()
        .rpush(key, JSON.stringify(boundAttemptError(entry)))
        .ltrim(key, -maxDeadLetterErrors, -1)
        .pexpire(key, options.ttlMs)
        .exec();
    },
    async read(jobId) {
      const raw = await options.redis.lrange(keyOf(jobId), 0, -1);
      return raw.flatMap((text) => {
        try {
          return [JSON.parse(text) as DeadLetterAttemptError];
        } catch {
          return [];
        }
      });
    },
    async clear(jobId) {
      await options.redis.del(keyOf(jobId));
    },
  };
}

/** One attempt's error in record form. */
export function attemptErrorOf(error: unknown, attempt: number, at: Date): DeadLetterAttemptError {
  const isError = error instanceof Error;
  return boundAttemptError({
    attempt,
    code: errorCode(error),
    name: isError ? error.name : typeof error,
    message: isError ? error.message : String(error),
    ...(isError && error.stack !== undefined ? { stack: error.stack } : {}),
    at: at.toISOString(),
  });
}
