/**
 * A copy of this repository in a temporary folder, for running the
 * generators where they may write: the source tree without node_modules,
 * dist, .turbo, .git and run data, its dependencies linked from pnpm's local
 * store (`pnpm install --offline`), and helpers to run commands there and
 * fingerprint the tree.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** Names never copied, and never part of a tree's fingerprint. */
const skipped = new Set([
  'node_modules',
  'dist',
  '.turbo',
  '.git',
  '.data',
  'coverage',
  'test-results.json',
]);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/**
 * The environment of commands run in the copy: this process's, without what
 * the outer turbo, vitest and npm put there (a nested turbo or vitest would
 * take it for its own).
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(TURBO_|VITEST|npm_|NODE_OPTIONS$|TEST$)/.test(name)) continue;
    env[name] = value;
  }
  return env;
}

export class RepoCopy {
  private constructor(readonly root: string) {}

  static async create(): Promise<RepoCopy> {
    const root = await mkdtemp(join(tmpdir(), 'sy-gen-'));
    await cp(repoRoot, root, {
      recursive: true,
      filter: (source) => !skipped.has(basename(source)),
    });
    return new RepoCopy(root);
  }

  /**
   * Runs `command` in the copy (or `cwd` inside it), with `env` over the
   * cleaned environment; never rejects, bounded by `timeoutMs`.
   */
  run(
    command: string,
    args: readonly string[],
    timeoutMs: number,
    cwd = '',
    env: NodeJS.ProcessEnv = {},
  ): Promise<RunResult> {
    const started = Date.now();
    return new Promise((resolve) => {
      execFile(
        command,
        [...args],
        {
          cwd: join(this.root, cwd),
          env: { ...childEnv(), ...env },
          timeout: timeoutMs,
          maxBuffer: 64 * 1024 * 1024,
        },
        (error, stdout, stderr) => {
          const code =
            error === null
              ? 0
              : typeof error.code === 'number'
                ? error.code
                : error.killed
                  ? 124
                  : 1;
          resolve({ code, stdout, stderr, durationMs: Date.now() - started });
        },
      );
    });
  }

  /** `pnpm gen ...` in the copy. */
  gen(...args: string[]): Promise<RunResult> {
    return this.run('pnpm', ['--silent', 'gen', ...args], 180_000);
  }

  /** sha256 over every file's path and content, skipping what is never copied. */
  async fingerprint(): Promise<string> {
    const hash = createHash('sha256');
    const walk = async (dir: string): Promise<void> => {
      const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : 1,
      );
      for (const entry of entries) {
        if (skipped.has(entry.name)) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) {
          hash.update(`${relative(this.root, path)}\0`);
          hash.update(await readFile(path));
          hash.update('\0');
        }
      }
    };
    await walk(this.root);
    return hash.digest('hex');
  }

  async read(path: string): Promise<string> {
    return readFile(join(this.root, path), 'utf8');
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
