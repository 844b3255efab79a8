/**
 * The CLI's three failure kinds. The exit code is derived from the class:
 * UsageError -> 2 (the command line or config is wrong), OperationError -> 1
 * (the command was right but could not be carried out), RedisError -> 3
 * (Redis could not be reached or failed a command), so a script tells "not
 * found" from "could not look".
 */
export abstract class CliError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: 1 | 2 | 3;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Unknown command or flag, bad value, unknown subscriber. Exit 2. */
export class UsageError extends CliError {
  readonly code = 'SY_ERR_CLI_USAGE';
  readonly exitCode = 2;
}

/** Entry not found, publish refused, replay left failures. Exit 1. */
export class OperationError extends CliError {
  readonly code: string = 'SY_ERR_CLI_OPERATION';
  readonly exitCode = 1;
}

/** Redis failed a command: the connection dropped, a command timed out, an error reply. Exit 3. */
export class RedisError extends CliError {
  readonly code: string = 'SY_ERR_CLI_REDIS';
  readonly exitCode = 3;
}

/** Redis did not answer within the connect timeout. Exit 3. */
export class RedisUnreachableError extends RedisError {
  override readonly code = 'SY_ERR_REDIS_UNREACHABLE';
}

export const exitCodes = { ok: 0, failed: 1, usage: 2, redis: 3 } as const;
