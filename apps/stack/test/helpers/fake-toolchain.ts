/**
 * A copy of infra/dev/bootstrap.mjs in a throwaway repository, with fake
 * `pnpm`, `npm` and (optionally) `redis-server` first and alone on PATH, so
 * the bootstrap's decisions can be watched without installing anything or
 * touching the real repository.
 *
 * The fakes are driven by files in `state/`:
 * - pnpm-version: what `pnpm --version` prints (missing: pnpm fails)
 * - results.json: {"<package dir>": <vitest JSON report>} written by `pnpm turbo run test`
 * - test-exit, build-exit: exit codes of those turbo runs (default 0)
 * - npm-exit: exit code of `npm install --global` (default 0)
 * and append every call to state/calls, one line each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CapturedStream } from './captured-stream.js';
import { TempDir } from './temp-dir.js';

const BOOTSTRAP = fileURLToPath(new URL('../../../../infra/dev/bootstrap.mjs', import.meta.url));
const PACKAGES = ['packages/lib', 'apps/stack'];

const FAKE_PNPM = `
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const state = process.env.FAKE_STATE;
const read = (name, fallback) => (existsSync(join(state, name)) ? readFileSync(join(state, name), 'utf8').trim() : fallback);
const args = process.argv.slice(2);
appendFileSync(join(state, 'calls'), 'pnpm ' + args.join(' ') + '\\n');
if (args[0] === '--version') {
  const version = read('pnpm-version', undefined);
  if (!version) process.exit(1);
  console.error('[WARN] a notice pnpm prints on stderr');
  console.log(version);
} else if (args[0] === 'install') {
  mkdirSync('node_modules', { recursive: true });
  writeFileSync('node_modules/.modules.yaml', 'fake: true\\n');
  for (const dir of ${JSON.stringify(PACKAGES)}) mkdirSync(join(dir, 'node_modules'), { recursive: true });
} else if (args[0] === 'turbo' && args[2] === 'test') {
  for (const [dir, report] of Object.entries(JSON.parse(read('results.json', '{}')))) {
    writeFileSync(join(dir, 'test-results.json'), JSON.stringify(report));
  }
  console.log('turbo: tests ran');
  process.exit(Number(read('test-exit', '0')));
} else if (args[0] === 'turbo' && args[2] === 'build') {
  process.exit(Number(read('build-exit', '0')));
}
`;

const FAKE_NPM = `
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const state = process.env.FAKE_STATE;
const args = process.argv.slice(2);
appendFileSync(join(state, 'calls'), 'npm ' + args.join(' ') + '\\n');
const exit = existsSync(join(state, 'npm-exit')) ? Number(readFileSync(join(state, 'npm-exit'), 'utf8')) : 0;
if (exit === 0 && args[0] === 'install') writeFileSync(join(state, 'pnpm-version'), args[2].replace('pnpm@', ''));
process.exit(exit);
`;

/** Waits for SIGTERM, then exits with STACK_EXIT_CODE (a constant baked in). */
export const fakeStackMain = (exitCode: number): string => `
const keepAlive = setInterval(() => {}, 1000);
process.on('SIGTERM', () => { console.log('stack got SIGTERM'); clearInterval(keepAlive); process.exit(${exitCode}); });
console.log('stack up');
`;

export class FakeToolchain extends TempDir {
  readonly state = join(this.path, 'state');
  readonly bin = join(this.path, 'bin');
  readonly repo = join(this.path, 'repo');

  constructor() {
    super();
    for (const dir of [
      this.state,
      this.bin,
      join(this.repo, 'infra/dev'),
      ...PACKAGES.map((p) => join(this.repo, p)),
    ]) {
      mkdirSync(dir, { recursive: true });
    }
    copyFileSync(BOOTSTRAP, join(this.repo, 'infra/dev/bootstrap.mjs'));
    this.file(
      'package.json',
      JSON.stringify({
        name: 'fake',
        private: true,
        packageManager: 'pnpm@9.9.9',
        engines: { node: '>=20.0' },
      }),
    );
    this.file('pnpm-workspace.yaml', 'packages:\n  - packages/*\n  - apps/*\n');
    this.file('pnpm-lock.yaml', 'lockfileVersion: 9.0\n');
    this.file(
      'packages/lib/package.json',
      JSON.stringify({ name: 'lib', devDependencies: { vitest: '*' } }),
    );
    this.file(
      'apps/stack/package.json',
      JSON.stringify({ name: 'stack', dependencies: { zod: '*' } }),
    );
    this.tool('pnpm', FAKE_PNPM);
    this.tool('npm', FAKE_NPM);
    this.setState('pnpm-version', '9.9.9');
  }

  /** Writes a file in the fake repository. */
  file(path: string, content: string): string {
    const file = join(this.repo, path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, content);
    return file;
  }

  /** Puts an executable Node script named `name` on the fake PATH. */
  tool(name: string, source: string): void {
    const file = join(this.bin, name);
    writeFileSync(file, `#!${process.execPath}\n${source}`);
    chmodSync(file, 0o755);
  }

  setState(name: string, content: string): void {
    writeFileSync(join(this.state, name), content);
  }

  /** Every call the fakes received, e.g. `pnpm install --frozen-lockfile`. */
  calls(): string[] {
    const file = join(this.state, 'calls');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  }

  /** Marks dependencies as installed, as a finished `pnpm install` leaves them. */
  installed(): void {
    this.file('node_modules/.modules.yaml', 'fake: true\n');
    for (const dir of PACKAGES)
      mkdirSync(join(this.repo, dir, 'node_modules'), { recursive: true });
  }

  bootstrap(command: string): BootstrapRun {
    return new BootstrapRun(
      spawn(process.execPath, [join(this.repo, 'infra/dev/bootstrap.mjs'), command], {
        cwd: this.repo,
        env: { PATH: this.bin, HOME: this.path, FAKE_STATE: this.state },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  }
}

export class BootstrapRun {
  readonly stdout = new CapturedStream();
  readonly stderr = new CapturedStream();
  readonly exited: Promise<number | null>;

  constructor(readonly process: ChildProcess) {
    process.stdout?.pipe(this.stdout);
    process.stderr?.pipe(this.stderr);
    this.exited = once(process, 'close').then(() => process.exitCode);
  }

  /** The last line on stdout. */
  lastLine(): string | undefined {
    return this.stdout.lines().at(-1);
  }

  get output(): string {
    return `${this.stdout.text}\n--- stderr ---\n${this.stderr.text}`;
  }
}
