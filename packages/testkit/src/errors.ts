/**
 * Errors the testkit raises. Each has a stable `code` so suites can assert
 * on the kind of failure without matching messages.
 */

export abstract class TestkitError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A fault operation (kill, restart) was asked of a server the testkit does not own. */
export class UnsupportedOperationError extends TestkitError {
  readonly code = 'SY_ERR_TESTKIT_UNSUPPORTED';
}

/** No way to get a Redis: no REDIS_URL, no container engine, no redis-server. */
export class NoRedisError extends TestkitError {
  readonly code = 'SY_ERR_NO_REDIS';
}

/** A Redis server was launched but did not answer PING in time, or exited. */
export class RedisStartError extends TestkitError {
  readonly code = 'SY_ERR_TESTKIT_REDIS_START';
}

/** The handle was stopped; it cannot be restarted (its data dir is gone). */
export class HandleStoppedError extends TestkitError {
  readonly code = 'SY_ERR_TESTKIT_STOPPED';
}

/** An app process exited, or never became ready, before startApp resolved. */
export class AppStartError extends TestkitError {
  readonly code = 'SY_ERR_TESTKIT_APP_START';

  constructor(
    message: string,
    /** Pid of the process, which is dead by the time this is thrown. */
    readonly pid: number | undefined,
    /** Tail of the process's stdout and stderr. */
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** waitFor's condition did not hold within its timeout. */
export class WaitForTimeoutError extends TestkitError {
  readonly code = 'SY_ERR_TESTKIT_WAIT_TIMEOUT';
}

/** A built entry point is missing or older than its sources: the suite would test old code. */
export class AppNotBuiltError extends TestkitError {
  readonly code = 'SY_ERR_TESTKIT_NOT_BUILT';
}

/** The sandbox answered a testkit request (ledger, control) with a non-2xx status. */
export class SandboxRequestError extends TestkitError {
  readonly code = 'SY_ERR_TESTKIT_SANDBOX_REQUEST';
}
