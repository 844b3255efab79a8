// Runs the chaos suite with vitest. `--soak` multiplies every scenario's size
// by 10, `--soak=<n>` by n (SY_CHAOS_SOAK); every other argument goes to
// vitest (e.g. a test file filter). The exit code is vitest's.
//
// The suite runs built apps (workers, producer, sandbox). Under turbo
// (`npm test`, TURBO_HASH set) they are built already; run on its own
// (`pnpm test:chaos`), it first builds what the suite depends on through
// turbo, a cache hit when nothing changed, so a stale dist never fails a run.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = [];
const env = { ...process.env };
for (const arg of process.argv.slice(2)) {
  const soak = /^--soak(?:=(\d+))?$/.exec(arg);
  if (soak !== null) env.SY_CHAOS_SOAK = soak[1] ?? '10';
  else if (arg !== '--') args.push(arg);
}

if (process.env.TURBO_HASH === undefined) {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const built = spawnSync(
    'pnpm',
    ['turbo', 'run', 'build', '--filter=@switchyard/chaos...', '--output-logs=errors-only'],
    { cwd: root, stdio: 'inherit' },
  );
  if (built.status !== 0) {
    process.stderr.write(`chaos: building the apps the suite runs failed (exit ${built.status})\n`);
    process.exit(1);
  }
}

const vitest = join(
  dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
  'vitest.mjs',
);
const child = spawn(process.execPath, [vitest, 'run', ...args], { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code) => process.exit(code ?? 1));
