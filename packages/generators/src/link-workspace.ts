/**
 * Links a new workspace package: `pnpm install --offline` at the repo root,
 * which adds its importer to pnpm-lock.yaml and its node_modules links from
 * the local store, without the network (every dependency of a generated app
 * is already in the lockfile). `--no-frozen-lockfile` because the lockfile
 * must change, and CI (CI=true) would otherwise refuse. Falls back to
 * `--prefer-offline` when the store lacks a package.
 */
import { execFile } from 'node:child_process';
import { GenerateStepError } from './errors.js';

export interface LinkResult {
  /** The command that succeeded. */
  command: string;
  durationMs: number;
}

function run(root: string, args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      'pnpm',
      args,
      { cwd: root, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve(error ? `${stdout}${stderr}`.trim() || error.message : undefined),
    );
  });
}

export async function linkWorkspace(root: string, timeoutMs = 300_000): Promise<LinkResult> {
  const started = Date.now();
  const attempts = [
    ['install', '--offline', '--no-frozen-lockfile', '--reporter=append-only'],
    ['install', '--prefer-offline', '--no-frozen-lockfile', '--reporter=append-only'],
  ];
  const failures: string[] = [];
  for (const args of attempts) {
    const failure = await run(root, args, timeoutMs);
    if (failure === undefined) {
      return { command: `pnpm ${args.join(' ')}`, durationMs: Date.now() - started };
    }
    failures.push(`pnpm ${args.join(' ')}:\n${failure.split('\n').slice(-15).join('\n')}`);
  }
  throw new GenerateStepError(
    `could not link the new app into the workspace:\n${failures.join('\n')}`,
  );
}
