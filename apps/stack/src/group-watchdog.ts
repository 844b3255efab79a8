/**
 * Makes a child's process group die with the supervisor, however the
 * supervisor dies.
 *
 * Children run in their own process groups (so a Ctrl-C reaches only the
 * supervisor), which also means nothing kills them when the supervisor is
 * SIGKILLed: they would keep running, and keep their ports, until someone
 * finds them. `process.on('exit')` does not run on SIGKILL, and the apps must
 * not need to know they are supervised, so the supervisor side does it:
 *
 * - a tiny `/bin/sh` watchdog per child blocks reading a pipe whose only
 *   writer is the supervisor (Node opens it close-on-exec, so no other child
 *   holds it). The kernel closes the pipe when the supervisor dies, `read`
 *   returns, and the watchdog sends SIGTERM to the child's group, then
 *   SIGKILL to what is left after `graceMs`. SIGTERM first, so a started
 *   redis-server fsyncs its AOF and workers give their jobs back.
 * - The watchdog runs in a session of its own and ignores SIGINT, SIGTERM and
 *   SIGHUP: a Ctrl-C or a closed terminal that reaches the supervisor's group
 *   does not take the watchdog with it, and killing that whole group still
 *   leaves the watchdog to clean up.
 * - When the child exits on its own (or is stopped), `release()` SIGKILLs the
 *   watchdog first, so it never signals a group id the kernel has reused.
 *
 * Without `/bin/sh` (Windows) there is no watchdog; the supervisor's exit
 * hook still covers every death but SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

export interface GroupWatchdog {
  /** The watchdog process; closing its stdin is what the supervisor's death does. */
  readonly process: ChildProcess;
  /** Stands the watchdog down: call once the child has exited. Idempotent. */
  release(): void;
}

export interface GroupWatchdogOptions {
  /** Time between SIGTERM and SIGKILL once the supervisor is gone, in ms; rounded up to whole seconds. */
  graceMs: number;
  /** The shell that runs the watchdog. Default `/bin/sh`. */
  shell?: string;
}

// $1: the process group id; $2: whole seconds from SIGTERM to SIGKILL.
// `kill -TERM "-$1"`, not `kill -s TERM -- "-$1"`: dash (Debian's sh) takes
// neither `--` nor a negative pid after `-s NAME`.
// `kill -0` to the group fails once every member is gone (zombies count
// as members until reaped, so a group that cannot be reaped gets SIGKILL
// after the grace period, which is harmless).
const SCRIPT = `
trap '' INT TERM HUP
read _ignored
kill -TERM "-$1" 2>/dev/null || exit 0
waited=0
while kill -0 "-$1" 2>/dev/null; do
  if [ "$waited" -ge "$2" ]; then kill -KILL "-$1" 2>/dev/null; exit 0; fi
  sleep 1
  waited=$((waited + 1))
done
`;

/**
 * Starts a watchdog for the process group `pgid` (the child's pid, when the
 * child was spawned `detached`). Never throws: a watchdog that cannot start
 * leaves the child unguarded against SIGKILL only.
 */
export function watchGroup(pgid: number, options: GroupWatchdogOptions): GroupWatchdog {
  const seconds = Math.max(1, Math.ceil(options.graceMs / 1000));
  const watchdog = spawn(
    options.shell ?? '/bin/sh',
    ['-c', SCRIPT, 'sy-stack-watchdog', String(pgid), String(seconds)],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      // `sleep` is the only command it runs that is not a shell builtin.
      env: { PATH: '/usr/bin:/bin' },
    },
  );
  // Neither the watchdog nor its pipe may keep the supervisor alive.
  watchdog.unref();
  (watchdog.stdin as unknown as Socket | null)?.unref();
  watchdog.stdin?.on('error', () => {
    // EPIPE once the watchdog is gone: nothing left to guard.
  });
  watchdog.on('error', () => {
    // No shell: the supervisor's exit hook still covers ordinary exits.
  });
  let released = false;
  return {
    process: watchdog,
    release() {
      if (released) return;
      released = true;
      watchdog.kill('SIGKILL');
    },
  };
}
