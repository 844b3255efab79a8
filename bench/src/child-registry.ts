/**
 * Every process the benchmark starts, by pid, so that an exit, an uncaught
 * error or Ctrl-C kills them all (SIGKILL, each by its own pid) and nothing
 * outlives the run.
 */
const pids = new Map<number, { label: string; afterKill?: () => void }>();
let installed = false;

function killAll(): void {
  for (const [pid, entry] of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    try {
      entry.afterKill?.();
    } catch {
      // Best effort: the process is gone, which is what matters.
    }
  }
  pids.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}; stopping every child\n`);
      killAll();
      process.exit(130);
    });
  }
}

/** Remembers `pid` until the returned function is called; `afterKill` runs (synchronously) after a kill here. */
export function trackPid(pid: number, label: string, afterKill?: () => void): () => void {
  install();
  pids.set(pid, afterKill ? { label, afterKill } : { label });
  return () => pids.delete(pid);
}
