/**
 * SIGTERM/SIGINT handling for a server process: the first signal runs
 * `shutdown` under a deadline and exits 0 (1 when it fails or overruns),
 * after the logger's buffered lines are written; a second signal exits 1 at
 * once.
 */
import { exitAfterFlush, type Logger } from './create-logger.js';

export interface ShutdownSignalsOptions {
  logger: Logger;
  /** Bound on `shutdown`; past it the process exits 1. */
  timeoutMs: number;
  /** Drains and closes everything; resolves when the process may exit. */
  shutdown: (signal: NodeJS.Signals) => Promise<void>;
}

export function onShutdownSignals({ logger, timeoutMs, shutdown }: ShutdownSignalsOptions): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    stopping = true;
    // Unref'd: it never keeps a finished process alive, only ends a hung one.
    setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown did not finish in time');
      process.exit(1);
    }, timeoutMs).unref();
    shutdown(signal).then(
      () => exitAfterFlush(logger, 0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitAfterFlush(logger, 1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
