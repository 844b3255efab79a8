/**
 * The files one generator run writes, planned in memory first so that every
 * check runs before the first byte is written, and written as a unit: when a
 * step after writing fails, every file is put back as it was.
 *
 * Paths are repo-relative with `/`. A file's `before` is its content on disk
 * when first read (undefined: it did not exist).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface FileChange {
  path: string;
  before: string | undefined;
  after: string;
}

export class ChangeSet {
  private readonly planned = new Map<string, { before: string | undefined; after: string }>();
  /** Why the name is taken: a thing that exists but differs from what would be written. */
  readonly conflicts: string[] = [];

  constructor(readonly root: string) {}

  /** The file as planned so far (or on disk); undefined when it does not exist. */
  read(path: string): string | undefined {
    const planned = this.planned.get(path);
    if (planned) return planned.after;
    const file = join(this.root, path);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  }

  /** The file as planned so far; throws naming the file when it does not exist. */
  require(path: string): string {
    const text = this.read(path);
    if (text === undefined) throw new Error(`${path} does not exist`);
    return text;
  }

  exists(path: string): boolean {
    return this.read(path) !== undefined;
  }

  write(path: string, after: string): void {
    const planned = this.planned.get(path);
    this.planned.set(path, { before: planned ? planned.before : this.read(path), after });
  }

  /**
   * A new file the generator owns: written when absent, left alone when
   * identical, and a conflict (the name is taken) when it differs.
   */
  ensureFile(path: string, content: string): void {
    const current = this.read(path);
    if (current === undefined) this.write(path, content);
    else if (current !== content) this.conflicts.push(`${path} exists with other content`);
  }

  /** Files whose content changes, in path order. */
  changes(): FileChange[] {
    return [...this.planned.entries()]
      .filter(([, file]) => file.before !== file.after)
      .map(([path, file]) => ({ path, ...file }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/**
 * Writes `changes` under `root`, then runs `after` (later steps that need
 * the files on disk). If writing or `after` fails, restores every file
 * (deleting the new ones and the folders made for them) and rethrows.
 */
export async function applyChanges(
  root: string,
  changes: readonly FileChange[],
  after: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const madeDirs: string[] = [];
  const written: FileChange[] = [];
  try {
    for (const change of changes) {
      const file = join(root, change.path);
      const made = await mkdir(dirname(file), { recursive: true });
      if (made !== undefined) madeDirs.push(made);
      written.push(change);
      await writeFile(file, change.after);
    }
    await after();
  } catch (error) {
    for (const change of written.reverse()) {
      const file = join(root, change.path);
      if (change.before === undefined) await rm(file, { force: true });
      else await writeFile(file, change.before);
    }
    // Folders we made hold only what we (or a step after us) put there.
    for (const dir of madeDirs.reverse()) await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
