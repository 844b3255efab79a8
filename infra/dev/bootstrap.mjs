#!/usr/bin/env node
// The front door: `npm start` and `npm test` on a machine that has only
// Node.js. Plain Node ESM with no dependencies, because it runs before
// anything is installed.
//
//   node infra/dev/bootstrap.mjs start   build (turbo cache), then run the stack
//   node infra/dev/bootstrap.mjs dev     run the stack in dev mode: every app from
//                                        source in watch mode (no build needed)
//   node infra/dev/bootstrap.mjs test    build and test every package, then print
//                                        "vitest: N passed, M failed[, K skipped]"
//                                        as the very last line
//
// Both first make sure that pnpm is at the version pinned in package.json
// ("packageManager"), installing it with npm if not (corepack fails its
// signature checks on our machines), and that dependencies are installed.
//
// Exit codes: `start` and `dev` exit with the stack's code (128 + n if a signal n
// ended it); `test` exits 0 only when turbo succeeded, no test failed and at
// least one test ran; anything that stops the bootstrap itself exits 1.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WINDOWS = process.platform === 'win32';
/** Written after an install that succeeded; see needsInstall(). */
const INSTALL_STAMP = join(ROOT, 'node_modules', '.bootstrap-installed');
/** Slack for filesystems that keep mtimes in whole seconds. */
const MTIME_SLACK_MS = 1_000;

function say(message) {
  process.stdout.write(`[bootstrap] ${message}\n`);
}

function fail(message) {
  process.stderr.write(`[bootstrap] ${message}\n`);
  process.exit(1);
}

/** Runs a command with the terminal attached; returns its exit status (1 if it could not run). */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: 'inherit',
    shell: WINDOWS,
    ...options,
  });
  if (result.error) {
    process.stderr.write(`[bootstrap] could not run ${command}: ${result.error.message}\n`);
    return 1;
  }
  return result.status ?? 128 + (constants.signals[result.signal] ?? 0);
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

// --- Node and pnpm ----------------------------------------------------------

function checkNode(manifest) {
  const wanted = /^>=\s*(\d+)\.(\d+)/.exec(manifest.engines?.node ?? '');
  if (!wanted) return;
  const [major, minor] = process.versions.node.split('.').map(Number);
  const [wantMajor, wantMinor] = [Number(wanted[1]), Number(wanted[2])];
  if (major < wantMajor || (major === wantMajor && minor < wantMinor)) {
    fail(
      `Node.js ${manifest.engines.node} is required; this is ${process.version}. Install a newer Node.js (https://nodejs.org).`,
    );
  }
}

function pinnedPnpmVersion(manifest) {
  // "pnpm@12.21.0" or "pnpm@12.21.0+sha512.<hash>"
  const pin = /^pnpm@([^+\s]+)/.exec(manifest.packageManager ?? '');
  if (!pin) fail('package.json has no "packageManager": "pnpm@<version>" pin.');
  return pin[1];
}

/** The version `pnpm` on PATH reports in this repository, or undefined when it does not run. */
function pnpmVersion() {
  const result = spawnSync('pnpm', ['--version'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: WINDOWS,
  });
  if (result.error || result.status !== 0) return undefined;
  // pnpm may print notices before the version; the version is the last line.
  return result.stdout.trim().split(/\r?\n/).pop()?.trim() || undefined;
}

function ensurePnpm(version) {
  const found = pnpmVersion();
  if (found === version) return;
  say(`installing pnpm ${version} with npm (${found ? `found pnpm ${found}` : 'no pnpm found'}) …`);
  const status = run('npm', ['install', '--global', `pnpm@${version}`]);
  if (status !== 0) {
    fail(
      `npm install --global pnpm@${version} failed (exit ${status}). If npm reported EACCES, either run that ` +
        'command once with sudo, or give npm a global folder you own: `npm config set prefix ~/.npm-global` ' +
        'and put ~/.npm-global/bin first on PATH.',
    );
  }
  const now = pnpmVersion();
  if (now !== version) {
    const prefix = spawnSync('npm', ['prefix', '--global'], {
      encoding: 'utf8',
      shell: WINDOWS,
    }).stdout?.trim();
    fail(
      `pnpm ${version} was installed, but the pnpm first on PATH reports ${now ?? 'nothing'}. ` +
        `npm put pnpm in ${prefix ? join(prefix, WINDOWS ? '' : 'bin') : "npm's global bin folder"}; put that first on PATH or remove the other pnpm.`,
    );
  }
  say(`pnpm ${version} installed`);
}

// --- dependencies -------------------------------------------------------------

/** Folders of the workspace packages, from the `dir/*` globs in pnpm-workspace.yaml. */
function workspacePackages() {
  let parents = ['packages', 'apps'];
  try {
    const globs = [
      ...readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8').matchAll(
        /^\s*-\s*['"]?([\w./-]+)\/\*['"]?\s*$/gm,
      ),
    ];
    if (globs.length > 0) parents = globs.map((glob) => glob[1]);
  } catch {
    // No workspace file: the layout in DESIGN.md.
  }
  return parents.flatMap((parent) => {
    const dir = join(ROOT, parent);
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'package.json')))
      .map((entry) => join(dir, entry.name));
  });
}

/**
 * Why `pnpm install` must run, or undefined when node_modules is up to date.
 * Cheap on purpose (a few stats): it runs before every start and test.
 */
function needsInstall() {
  const modulesYaml = join(ROOT, 'node_modules', '.modules.yaml');
  const installedAt = mtime(modulesYaml);
  if (installedAt === undefined) return 'node_modules is missing';
  // pnpm leaves .modules.yaml alone when there was nothing to do, so our own
  // stamp records the last install that found the lockfile as it is now.
  const lastInstall = Math.max(installedAt, mtime(INSTALL_STAMP) ?? 0);
  if ((mtime(join(ROOT, 'pnpm-lock.yaml')) ?? 0) > lastInstall)
    return 'pnpm-lock.yaml changed since the last install';
  for (const dir of workspacePackages()) {
    const manifest = readJson(join(dir, 'package.json'));
    const hasDependencies = ['dependencies', 'devDependencies', 'optionalDependencies'].some(
      (field) => Object.keys(manifest[field] ?? {}).length > 0,
    );
    if (hasDependencies && !existsSync(join(dir, 'node_modules')))
      return `${relative(ROOT, dir)} has no node_modules`;
  }
  return undefined;
}

function ensureDependencies() {
  const reason = needsInstall();
  if (reason === undefined) return;
  say(`installing dependencies (${reason}) …`);
  const status = run('pnpm', ['install', '--frozen-lockfile']);
  if (status !== 0) fail(`pnpm install --frozen-lockfile failed (exit ${status}); see above.`);
  writeFileSync(INSTALL_STAMP, `${new Date().toISOString()}\n`);
}

// --- start ----------------------------------------------------------------------

function start() {
  const built = run('pnpm', ['turbo', 'run', 'build', '--output-logs=errors-only']);
  if (built !== 0) fail(`the build failed (exit ${built}); its errors are above.`);
  const entry = join(ROOT, 'apps', 'stack', 'dist', 'main.js');
  if (!existsSync(entry))
    fail(`${relative(ROOT, entry)} is missing after the build; is apps/stack in the workspace?`);

  runStack([entry]);
}

/**
 * The stack from its TypeScript source with `--dev` (apps/stack/src/main.ts):
 * dev mode runs every app from source too, so nothing needs building, and a
 * fresh clone is running as soon as its dependencies are installed.
 */
function dev(extraArgs) {
  const entry = join(ROOT, 'apps', 'stack', 'src', 'main.ts');
  if (!existsSync(entry))
    fail(`${relative(ROOT, entry)} is missing; is apps/stack in the workspace?`);
  runStack(['--conditions=@switchyard/source', '--import', 'tsx', entry, '--dev', ...extraArgs]);
}

/** Runs the stack with the terminal attached and exits with its code. */
function runStack(nodeArgs) {
  const stack = spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: 'inherit' });
  // The stack stops everything in order on SIGINT/SIGTERM and treats copies
  // that arrive together as one, so every signal can be passed on as is.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (stack.exitCode === null && stack.signalCode === null) stack.kill(signal);
    });
  }
  stack.on('error', (error) => fail(`could not start the stack: ${error.message}`));
  stack.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
}

// --- test -----------------------------------------------------------------------

function checkRedisServer() {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore', shell: WINDOWS });
  if (!probe.error && probe.status === 0) return;
  process.stderr.write(
    [
      '[bootstrap] redis-server is not on PATH. Tests that need Redis will use REDIS_URL or a container',
      '[bootstrap] engine if there is one, and fail otherwise. To get redis-server:',
      '[bootstrap]   Debian/Ubuntu:  sudo apt-get install -y redis-server',
      '[bootstrap]   macOS:          brew install redis',
      '',
    ].join('\n'),
  );
}

/** The dashboard's browser test drives a system Chromium (SY_CHROMIUM, else /usr/bin/chromium). */
function checkChromium() {
  const path = process.env.SY_CHROMIUM ?? '/usr/bin/chromium';
  if (existsSync(path)) return;
  process.stderr.write(
    [
      `[bootstrap] no Chromium at ${path}: the dashboard's browser test will fail. To get it:`,
      '[bootstrap]   Debian/Ubuntu:  sudo apt-get install -y chromium',
      '[bootstrap]   elsewhere:      set SY_CHROMIUM to a Chromium or Chrome binary',
      '',
    ].join('\n'),
  );
}

/** Sums the vitest JSON reports that the run wrote (older files are from earlier runs). */
function collectResults(runStartedAt) {
  const totals = { passed: 0, failed: 0, skipped: 0, files: 0, unreadable: [] };
  for (const dir of workspacePackages()) {
    const file = join(dir, 'test-results.json');
    const written = mtime(file);
    if (written === undefined || written < runStartedAt - MTIME_SLACK_MS) continue;
    try {
      const report = readJson(file);
      const passed = Number(report.numPassedTests ?? 0);
      const failed = Number(report.numFailedTests ?? 0);
      const skipped = Number(report.numPendingTests ?? 0) + Number(report.numTodoTests ?? 0);
      totals.passed += passed;
      totals.failed += failed;
      totals.skipped += skipped;
      totals.files += 1;
      say(
        `${relative(ROOT, dir)}: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`,
      );
    } catch (error) {
      totals.unreadable.push(`${relative(ROOT, file)} (${error.message})`);
    }
  }
  return totals;
}

function test(extraArgs) {
  checkRedisServer();
  checkChromium();
  const runStartedAt = Date.now();
  // Everything is built first: some suites run other packages' built apps
  // (the runtime's process tests run worker-notifications and the sandbox,
  // the client's HTTP suite runs the producer), which turbo's per-package
  // `test` dependencies alone would not order. Typecheck and lint run here
  // too, so `npm test` fails on a type error or a floating promise.
  const checked = run('pnpm', [
    'turbo',
    'run',
    'build',
    'typecheck',
    'lint',
    '--output-logs=errors-only',
    '--continue=dependencies-successful',
  ]);
  // --continue=dependencies-successful: one failing package does not hide the
  // results of the others; a package whose build failed is still skipped.
  const status = run('pnpm', [
    'turbo',
    'run',
    'test',
    '--concurrency=1',
    '--continue=dependencies-successful',
    ...extraArgs,
  ]);
  const totals = collectResults(runStartedAt);
  const problems = [];
  if (checked !== 0)
    problems.push(`turbo run build typecheck lint failed (exit ${checked}); see above`);
  if (status !== 0) problems.push(`turbo run test failed (exit ${status}); see above`);
  for (const file of totals.unreadable) problems.push(`could not read ${file}`);
  if (totals.passed + totals.failed === 0)
    problems.push('no test ran, and a run that executes no test is a failure');
  for (const problem of problems) process.stderr.write(`[bootstrap] ${problem}\n`);
  // The very last line, for people and for CI logs.
  process.stdout.write(
    `vitest: ${totals.passed} passed, ${totals.failed} failed${totals.skipped > 0 ? `, ${totals.skipped} skipped` : ''}\n`,
  );
  process.exitCode = problems.length > 0 || totals.failed > 0 ? 1 : 0;
}

// --- main -------------------------------------------------------------------------

const [command, ...extraArgs] = process.argv.slice(2);
if (command !== 'start' && command !== 'test' && command !== 'dev')
  fail('usage: node infra/dev/bootstrap.mjs start|dev|test');
const manifest = readJson(join(ROOT, 'package.json'));
checkNode(manifest);
ensurePnpm(pinnedPnpmVersion(manifest));
ensureDependencies();
if (command === 'start') start();
else if (command === 'dev') dev(extraArgs);
else test(extraArgs);
