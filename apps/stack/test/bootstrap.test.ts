import { mkdirSync, symlinkSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeStackMain, FakeToolchain } from './helpers/fake-toolchain.js';

// infra/dev/bootstrap.mjs, run for real against a throwaway repository with
// fake pnpm/npm on PATH (see helpers/fake-toolchain.ts).

const report = (passed: number, failed = 0, pending = 0, todo = 0) => ({
  numPassedTests: passed,
  numFailedTests: failed,
  numPendingTests: pending,
  numTodoTests: todo,
  numTotalTests: passed + failed + pending + todo,
});

describe('infra/dev/bootstrap.mjs', () => {
  let fake: FakeToolchain;

  beforeEach(() => {
    fake = new FakeToolchain();
    fake.installed();
    fake.tool('redis-server', "console.log('Redis server v=7.0.0')");
  });

  afterEach(() => fake.remove());

  describe('test', () => {
    describe('when every test passes', () => {
      it('runs turbo one package at a time and ends with the summary line, exit 0', async () => {
        fake.setState(
          'results.json',
          JSON.stringify({ 'packages/lib': report(3, 0, 1), 'apps/stack': report(2, 0, 0, 1) }),
        );
        const run = fake.bootstrap('test');
        expect(await run.exited, run.output).toBe(0);
        expect(fake.calls()).toContain(
          'pnpm turbo run test --concurrency=1 --continue=dependencies-successful',
        );
        expect(run.lastLine()).toBe('vitest: 5 passed, 0 failed, 2 skipped');
      });

      it('leaves ", K skipped" out when nothing was skipped', async () => {
        fake.setState('results.json', JSON.stringify({ 'packages/lib': report(4) }));
        const run = fake.bootstrap('test');
        expect(await run.exited, run.output).toBe(0);
        expect(run.lastLine()).toBe('vitest: 4 passed, 0 failed');
      });
    });

    describe('when a test fails', () => {
      it('counts it and exits 1', async () => {
        fake.setState('results.json', JSON.stringify({ 'packages/lib': report(2, 1) }));
        fake.setState('test-exit', '1');
        const run = fake.bootstrap('test');
        expect(await run.exited).toBe(1);
        expect(run.lastLine()).toBe('vitest: 2 passed, 1 failed');
      });
    });

    describe('when turbo fails although every reported test passed', () => {
      it('exits 1, still with the summary last', async () => {
        fake.setState('results.json', JSON.stringify({ 'packages/lib': report(2) }));
        fake.setState('test-exit', '2');
        const run = fake.bootstrap('test');
        expect(await run.exited).toBe(1);
        expect(run.stderr.text).toContain('turbo run test failed (exit 2)');
        expect(run.lastLine()).toBe('vitest: 2 passed, 0 failed');
      });
    });

    describe('when no test ran', () => {
      it('calls that a failure', async () => {
        const run = fake.bootstrap('test');
        expect(await run.exited).toBe(1);
        expect(run.stderr.text).toContain('no test ran');
        expect(run.lastLine()).toBe('vitest: 0 passed, 0 failed');
      });
    });

    describe('when a results file is left over from an earlier run', () => {
      it('ignores it', async () => {
        const stale = fake.file('apps/stack/test-results.json', JSON.stringify(report(0, 9)));
        const anHourAgo = new Date(Date.now() - 3_600_000);
        utimesSync(stale, anHourAgo, anHourAgo);
        fake.setState('results.json', JSON.stringify({ 'packages/lib': report(1) }));
        const run = fake.bootstrap('test');
        expect(await run.exited, run.output).toBe(0);
        expect(run.lastLine()).toBe('vitest: 1 passed, 0 failed');
      });
    });

    describe('when redis-server is not installed', () => {
      it('says how to get it and runs the tests anyway', async () => {
        fake.tool('redis-server', 'process.exit(127)');
        fake.setState('results.json', JSON.stringify({ 'packages/lib': report(1) }));
        const run = fake.bootstrap('test');
        expect(await run.exited).toBe(0);
        expect(run.stderr.text).toContain('apt-get install -y redis-server');
        expect(run.stderr.text).toContain('brew install redis');
      });
    });
  });

  describe('pnpm', () => {
    describe('when pnpm is at the pinned version', () => {
      it('leaves it alone', async () => {
        fake.setState('results.json', JSON.stringify({ 'packages/lib': report(1) }));
        const run = fake.bootstrap('test');
        expect(await run.exited, run.output).toBe(0);
        expect(fake.calls().filter((call) => call.startsWith('npm'))).toEqual([]);
      });
    });

    describe.each([
      ['another version', '8.0.0'],
      ['missing', undefined],
    ])('when pnpm is %s', (_case, version) => {
      it('installs the pinned version with npm, says so, and goes on', async () => {
        if (version === undefined) fake.setState('pnpm-version', '');
        else fake.setState('pnpm-version', version);
        fake.setState('results.json', JSON.stringify({ 'packages/lib': report(1) }));
        const run = fake.bootstrap('test');
        expect(await run.exited, run.output).toBe(0);
        expect(run.stdout.text).toContain('installing pnpm 9.9.9');
        expect(fake.calls()).toContain('npm install --global pnpm@9.9.9');
        expect(fake.calls().some((call) => call.startsWith('pnpm turbo run test'))).toBe(true);
      });
    });

    describe('when npm cannot install it', () => {
      it('exits 1 saying what to do', async () => {
        fake.setState('pnpm-version', '8.0.0');
        fake.setState('npm-exit', '243');
        const run = fake.bootstrap('test');
        expect(await run.exited).toBe(1);
        expect(run.stderr.text).toContain('npm install --global pnpm@9.9.9 failed');
        expect(fake.calls().some((call) => call.startsWith('pnpm turbo'))).toBe(false);
      });
    });
  });

  describe('dependencies', () => {
    const installs = () => fake.calls().filter((call) => call.startsWith('pnpm install'));

    describe('when nothing changed since the last install', () => {
      it('does not install', async () => {
        const run = fake.bootstrap('start');
        fake.file('apps/stack/dist/main.js', 'process.exit(0)');
        expect(await run.exited, run.output).toBe(0);
        expect(installs()).toEqual([]);
      });
    });

    describe('when node_modules is missing', () => {
      it('runs pnpm install --frozen-lockfile', async () => {
        fake.remove();
        fake = new FakeToolchain();
        fake.file('apps/stack/dist/main.js', 'process.exit(0)');
        const run = fake.bootstrap('start');
        expect(await run.exited, run.output).toBe(0);
        expect(installs()).toEqual(['pnpm install --frozen-lockfile']);
        expect(run.stdout.text).toContain('installing dependencies (node_modules is missing)');
      });
    });

    describe('when pnpm-lock.yaml is newer than the install', () => {
      it('installs once, and not again on the next run', async () => {
        fake.file('apps/stack/dist/main.js', 'process.exit(0)');
        const modulesYaml = `${fake.repo}/node_modules/.modules.yaml`;
        const anHourAgo = new Date(Date.now() - 3_600_000);
        utimesSync(modulesYaml, anHourAgo, anHourAgo);
        expect(await fake.bootstrap('start').exited).toBe(0);
        expect(installs()).toEqual(['pnpm install --frozen-lockfile']);
        // A real pnpm that finds nothing to do leaves .modules.yaml as it was.
        utimesSync(modulesYaml, anHourAgo, anHourAgo);
        expect(await fake.bootstrap('start').exited).toBe(0);
        expect(installs()).toHaveLength(1);
      });
    });

    describe('when a workspace package has no node_modules', () => {
      it('installs', async () => {
        fake.remove();
        fake = new FakeToolchain();
        fake.file('node_modules/.modules.yaml', 'fake: true\n');
        fake.file('apps/stack/dist/main.js', 'process.exit(0)');
        const run = fake.bootstrap('start');
        expect(await run.exited, run.output).toBe(0);
        expect(run.stdout.text).toMatch(
          /installing dependencies \((packages\/lib|apps\/stack) has no node_modules\)/,
        );
      });
    });
  });

  describe('start', () => {
    describe('when the build succeeds', () => {
      it('builds with turbo, runs the stack, passes SIGTERM on and exits with its code', async () => {
        fake.file('apps/stack/dist/main.js', fakeStackMain(7));
        const run = fake.bootstrap('start');
        await run.stdout.waitFor(/stack up/);
        expect(fake.calls()).toContain('pnpm turbo run build --output-logs=errors-only');
        run.process.kill('SIGTERM');
        expect(await run.exited, run.output).toBe(7);
        expect(run.stdout.text).toContain('stack got SIGTERM');
      });
    });

    describe('when the build fails', () => {
      it('exits 1 without starting the stack', async () => {
        fake.file('apps/stack/dist/main.js', fakeStackMain(0));
        fake.setState('build-exit', '2');
        const run = fake.bootstrap('start');
        expect(await run.exited).toBe(1);
        expect(run.stderr.text).toContain('the build failed (exit 2)');
        expect(run.stdout.text).not.toContain('stack up');
      });
    });
  });

  describe('dev', () => {
    describe('on a fresh clone', () => {
      it('installs, builds nothing, and runs the stack from source with --dev', async () => {
        fake.remove();
        fake = new FakeToolchain();
        // Only tsx of what pnpm install would bring: dev mode runs the
        // stack's main.ts through it.
        const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
        mkdirSync(join(fake.repo, 'node_modules'), { recursive: true });
        symlinkSync(tsx, join(fake.repo, 'node_modules', 'tsx'), 'dir');
        fake.file(
          'apps/stack/src/main.ts',
          `console.log('stack argv ' + JSON.stringify({ args: process.argv.slice(2), execArgv: process.execArgv }));\n` +
            fakeStackMain(5),
        );
        const run = fake.bootstrap('dev');
        await run.stdout.waitFor(/stack up/);
        expect(fake.calls()).toContain('pnpm install --frozen-lockfile');
        expect(fake.calls().filter((call) => call.startsWith('pnpm turbo'))).toEqual([]);
        const argv = /stack argv (.*)/.exec(run.stdout.text)?.[1] ?? '{}';
        expect(JSON.parse(argv)).toMatchObject({
          args: ['--dev'],
          execArgv: expect.arrayContaining(['--conditions=@switchyard/source']) as unknown,
        });
        run.process.kill('SIGTERM');
        expect(await run.exited, run.output).toBe(5);
        expect(run.stdout.text).toContain('stack got SIGTERM');
      });
    });
  });
});
