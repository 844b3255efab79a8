import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';

interface Guard {
  watchdog: ChildProcess;
  removeDir: string | undefined;
}

export interface GuardChildOptions {
  /** A directory to delete once the child is killed this way, e.g. Redis's temp data dir. Default none. */
  removeDir?: string;
}

// Children alive and guarded, with their watchdogs.
const guards = new Map<ChildProcess, Guard>();
let exitHookInstalled = false;

/**
 * Ties a child's life to this process: the child is SIGKILLed when this
 * process ends, however it ends.
 *
 * - A normal exit (including `process.exit()`) runs the 'exit' hook below.
 * - SIGKILL, or a signal Node does not handle, skips every hook. For that a
 *   tiny `sh` watchdog per child blocks reading a pipe whose only writer is
 *   this process; the kernel closes the pipe when we die, `read` returns, and
 *   the watchdog kills the child. Redis ignores SIGPIPE, so without this an
 *   orphaned redis-server would run forever on its port.
 *
 * When the child exits on its own the watchdog is killed first, so it never
 * signals a pid the kernel has reused (nor removes a dir still wanted, such
 * as the data dir of a Redis killed on purpose and about to be restarted).
 */
export function guardChild(child: ChildProcess, opts: GuardChildOptions = {}): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;

  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      'read _ignored; kill -9 "$1" 2>/dev/null; [ -n "$2" ] && rm -rf -- "$2"',
      'sy-watchdog',
      String(pid),
      opts.removeDir ?? '',
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  // Neither the watchdog nor its pipe may keep this process alive.
  watchdog.unref();
  (watchdog.stdin as unknown as Socket | null)?.unref();
  watchdog.stdin?.on('error', () => {
    // EPIPE once the watchdog is gone: nothing left to guard.
  });
  watchdog.on('error', () => {
    // No /bin/sh: the exit hook below still covers ordinary exits.
  });
  guards.set(child, { watchdog, removeDir: opts.removeDir });
  child.once('exit', () => {
    guards.delete(child);
    watchdog.kill('SIGKILL');
  });

  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killGuardedChildren);
  }
}

function killGuardedChildren(): void {
  for (const [child, { watchdog, removeDir }] of guards) {
    child.kill('SIGKILL');
    watchdog.kill('SIGKILL');
    // Synchronous: nothing asynchronous runs in an 'exit' hook.
    if (removeDir !== undefined) rmSync(removeDir, { recursive: true, force: true });
  }
  guards.clear();
}
