import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@switchyard/testkit';
import { watchGroup, type GroupWatchdog } from '../src/group-watchdog.js';
import { isAlive, TempDir } from './helpers/temp-dir.js';

/**
 * Writes MARKER on SIGTERM and exits, unless IGNORE_SIGTERM is set; runs a
 * grandchild in its group either way. Prints its grandchild's pid once its
 * handler is in place.
 */
const CHILD = `
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const grandchild = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
process.on('SIGTERM', () => {
  writeFileSync(process.env.MARKER, 'sigterm');
  if (!process.env.IGNORE_SIGTERM) { grandchild.kill('SIGKILL'); process.exit(0); }
});
setInterval(() => {}, 1000);
console.log(String(grandchild.pid));
`;

/**
 * Resolves once `pid` ignores SIGHUP, SIGINT and SIGTERM (Linux: read from
 * its SigIgn mask); without procfs, after half a second.
 */
async function trapsInstalled(pid: number): Promise<void> {
  const status = `/proc/${pid}/status`;
  if (!existsSync(status)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return;
  }
  const wanted = (1n << 0n) | (1n << 1n) | (1n << 14n); // HUP (1), INT (2), TERM (15)
  await waitFor(
    () => {
      const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(status, 'utf8'))?.[1];
      return mask !== undefined && (BigInt(`0x${mask}`) & wanted) === wanted;
    },
    { timeoutMs: 5_000, message: 'the watchdog to ignore SIGHUP, SIGINT and SIGTERM' },
  );
}

describe('watchGroup', () => {
  let dir: TempDir;
  let child: ChildProcess | undefined;
  let grandchild = 0;
  let watchdog: GroupWatchdog | undefined;

  beforeEach(() => {
    dir = new TempDir();
  });

  afterEach(() => {
    watchdog?.release();
    watchdog = undefined;
    for (const pid of [child?.pid, grandchild]) {
      try {
        if (pid) process.kill(-pid, 'SIGKILL');
      } catch {
        // Gone already, or not a group leader.
      }
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    child = undefined;
    grandchild = 0;
    dir.remove();
  });

  /** A child in its own group, as the supervisor runs them; resolves once it is ready. */
  const startChild = async (env: Record<string, string> = {}): Promise<ChildProcess> => {
    child = spawn(process.execPath, [dir.script('child', CHILD)], {
      env: { MARKER: join(dir.path, 'marker'), ...env },
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    grandchild = await new Promise<number>((resolve) =>
      child?.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    return child;
  };

  /** What the kernel does to the pipe when the supervisor dies. */
  const supervisorDies = (guard: GroupWatchdog): void => {
    guard.process.stdin?.destroy();
  };

  describe('when the supervisor dies', () => {
    it('sends SIGTERM to the child first, so it can shut down cleanly', async () => {
      const started = await startChild();
      watchdog = watchGroup(started.pid ?? 0, { graceMs: 10_000 });
      supervisorDies(watchdog);

      await waitFor(() => !isAlive(started.pid ?? 0), { timeoutMs: 5_000 });
      expect(existsSync(join(dir.path, 'marker'))).toBe(true);
    });

    it('SIGKILLs the whole group when it ignores SIGTERM for the grace period', async () => {
      const started = await startChild({ IGNORE_SIGTERM: '1' });
      watchdog = watchGroup(started.pid ?? 0, { graceMs: 1_000 });
      supervisorDies(watchdog);

      await waitFor(() => existsSync(join(dir.path, 'marker')), { timeoutMs: 5_000 });
      await waitFor(() => !isAlive(started.pid ?? 0) && !isAlive(grandchild), {
        timeoutMs: 10_000,
      });
    });
  });

  describe('when the watchdog is released', () => {
    it('exits without touching the child', async () => {
      const started = await startChild();
      watchdog = watchGroup(started.pid ?? 0, { graceMs: 1_000 });
      const watchdogPid = watchdog.process.pid ?? 0;
      watchdog.release();
      supervisorDies(watchdog);

      await waitFor(() => !isAlive(watchdogPid), { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(isAlive(started.pid ?? 0)).toBe(true);
      expect(existsSync(join(dir.path, 'marker'))).toBe(false);
    });
  });

  describe('when a signal reaches the watchdog instead (a Ctrl-C to its old group)', () => {
    it('ignores SIGINT, SIGTERM and SIGHUP and keeps guarding', async () => {
      const started = await startChild();
      watchdog = watchGroup(started.pid ?? 0, { graceMs: 1_000 });
      await trapsInstalled(watchdog.process.pid ?? 0);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) watchdog.process.kill(signal);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(isAlive(watchdog.process.pid ?? 0)).toBe(true);

      supervisorDies(watchdog);
      await waitFor(() => !isAlive(started.pid ?? 0), { timeoutMs: 5_000 });
    });
  });
});
