import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the OS temp dir, and a way to put scripts in it. */
export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'switchyard-stack-test-'));

  /** Writes `source` as an ES module and returns its path. */
  script(name: string, source: string): string {
    const file = join(this.path, `${name}.mjs`);
    writeFileSync(file, source);
    return file;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/**
 * True while a process with this pid runs. A zombie (exited, not yet reaped,
 * as orphans stay in containers whose pid 1 does not reap) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (error) {
    // ENOENT on Linux: it vanished since kill(0). No procfs (macOS): kill(0) is all there is.
    return !(process.platform === 'linux' && (error as NodeJS.ErrnoException).code === 'ENOENT');
  }
}
