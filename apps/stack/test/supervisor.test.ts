import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@switchyard/testkit';
import { Supervisor, type ChildSpec } from '../src/supervisor.js';
import { TaggedOutput } from '../src/tagged-output.js';
import { CapturedStream } from './helpers/captured-stream.js';
import { isAlive, TempDir } from './helpers/temp-dir.js';

/** Prints a line, then exits with CODE after LIFE_MS (default: at once). */
const CRASHER = `
console.log('up ' + process.pid);
setTimeout(() => process.exit(Number(process.env.CODE ?? 1)), Number(process.env.LIFE_MS ?? 0));
`;

/**
 * Runs until SIGTERM, then takes DRAIN_MS (default 0) to exit 0; logs both
 * moments. Says "up" only once its handler is in place: a SIGTERM before that
 * would kill it outright.
 */
const SERVICE = `
const keepAlive = setInterval(() => {}, 1000);
process.on('SIGTERM', () => {
  console.log('sigterm at ' + Date.now());
  setTimeout(() => { console.log('exiting at ' + Date.now()); clearInterval(keepAlive); process.exit(0); }, Number(process.env.DRAIN_MS ?? 0));
});
console.log('up ' + process.pid);
`;

/** Ignores SIGTERM, and has a grandchild in its process group that does too. */
const STUBBORN = `
import { spawn } from 'node:child_process';
process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
const grandchild = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
console.log('grandchild ' + grandchild.pid);
setInterval(() => {}, 1000);
`;

/** The errno code of a spawn error (ENOENT, EACCES, ...). */
function errorCode(error: Error | undefined): string | undefined {
  return error !== undefined && 'code' in error ? String(error.code) : undefined;
}

describe('Supervisor', () => {
  let dir: TempDir;
  let stdout: CapturedStream;
  let stderr: CapturedStream;
  let supervisor: Supervisor | undefined;

  beforeEach(() => {
    dir = new TempDir();
    stdout = new CapturedStream();
    stderr = new CapturedStream();
  });

  afterEach(async () => {
    await supervisor?.kill();
    supervisor = undefined;
    dir.remove();
  });

  const child = (
    name: string,
    source: string,
    env: Record<string, string> = {},
    extra: Partial<ChildSpec> = {},
  ): ChildSpec => ({
    name,
    command: process.execPath,
    args: [dir.script(name, source)],
    env,
    ...extra,
  });

  const supervise = (
    children: ChildSpec[],
    options: Partial<ConstructorParameters<typeof Supervisor>[0]> = {},
  ): Supervisor => {
    supervisor = new Supervisor({
      children,
      output: new TaggedOutput({
        stdout,
        stderr,
        names: ['stack', ...children.map((c) => c.name)],
      }),
      backoff: { initialDelayMs: 50, maxDelayMs: 200, resetAfterMs: 60_000 },
      shutdownTimeoutMs: 2_000,
      ...options,
    });
    supervisor.start();
    return supervisor;
  };

  describe('when a child prints', () => {
    it('tags every line with the padded child name and keeps a last line without newline', async () => {
      supervise([
        child(
          'printer',
          'process.stdout.write(\'{"msg":"one"}\\n{"msg":"two"}\\npartial\'); process.stderr.write(\'oops\\n\'); setInterval(() => {}, 1000);',
        ),
        child('a-longer-name', 'setInterval(() => {}, 1000);'),
      ]);
      await stdout.waitFor(/two/);
      await stderr.waitFor(/oops/);
      await supervisor?.stop();
      expect(stdout.lines()).toContain('[printer]       {"msg":"one"}');
      expect(stdout.lines()).toContain('[printer]       {"msg":"two"}');
      expect(stdout.lines()).toContain('[printer]       partial');
      expect(stderr.lines()).toContain('[printer]       oops');
    });

    it('passes exactly the environment it was given', async () => {
      supervise(
        [
          child('env', 'console.log(JSON.stringify(Object.keys(process.env).sort()))', {
            ONLY: 'this',
            ALSO: 'that',
          }),
        ],
        {
          onExit: () => false,
        },
      );
      const [, keys] = await stdout.waitFor(/\[env\]\s+(\[.*\])/);
      expect(JSON.parse(keys ?? '')).toEqual(['ALSO', 'ONLY']);
    });
  });

  describe('when a child exits unexpectedly', () => {
    it('restarts it and says so, with the delay doubling up to the cap', async () => {
      supervise([child('crasher', CRASHER)]);
      await stderr.waitFor(/restart #5/);
      const notes = stderr.lines().filter((line) => line.includes('restarting'));
      expect(notes.slice(0, 5)).toEqual([
        '[stack]   crasher exited with code 1; restarting in 50ms (restart #1)',
        '[stack]   crasher exited with code 1; restarting in 100ms (restart #2)',
        '[stack]   crasher exited with code 1; restarting in 200ms (restart #3)',
        '[stack]   crasher exited with code 1; restarting in 200ms (restart #4)',
        '[stack]   crasher exited with code 1; restarting in 200ms (restart #5)',
      ]);
      // A new process each time, not the same one reported five times.
      expect(new Set(stdout.text.match(/up \d+/g)).size).toBeGreaterThanOrEqual(5);
    });

    it('restarts a child that exits with code 0 too (nobody asked it to stop)', async () => {
      supervise([child('quitter', CRASHER, { CODE: '0' })]);
      await stderr.waitFor(/quitter exited with code 0; restarting in 50ms \(restart #1\)/);
    });

    it('names the signal when a child is killed', async () => {
      const sup = supervise([child('victim', SERVICE)]);
      await stdout.waitFor(/up \d+/);
      process.kill(sup.pids().victim ?? 0, 'SIGKILL');
      await stderr.waitFor(/victim was killed by SIGKILL; restarting in 50ms \(restart #1\)/);
      await waitFor(() => sup.pids().victim, { timeoutMs: 5_000 });
    });

    it('starts from the first delay again after the child stayed up long enough', async () => {
      supervise([child('flaky', CRASHER, { LIFE_MS: '150' })], {
        backoff: { initialDelayMs: 50, maxDelayMs: 1_000, resetAfterMs: 100 },
      });
      await stderr.waitFor(/restart #3/);
      const delays = stderr
        .lines()
        .filter((line) => line.includes('restarting'))
        .map((line) => /in (\S+)/.exec(line)?.[1]);
      expect(delays.slice(0, 3)).toEqual(['50ms', '50ms', '50ms']);
    });

    it('tells onExit and the user that it could not be started, not that it crashed', async () => {
      const exits: { code: number | null; signal: string | null; error?: string }[] = [];
      supervise(
        [
          {
            name: 'missing',
            command: `${dir.path}/no-such-executable`,
            args: [],
            env: {},
          },
        ],
        {
          onExit: (_name, code, signal, error) => {
            exits.push({ code, signal, error: errorCode(error) });
          },
        },
      );
      await stderr.waitFor(/restart #1/);
      expect(exits[0]).toEqual({ code: null, signal: null, error: 'ENOENT' });
      expect(stderr.text).toMatch(
        /missing could not be started \(spawn \S+no-such-executable ENOENT\); restarting in 50ms/,
      );
      expect(stderr.text).not.toMatch(/exited with code|was killed by/);
    });

    it('leaves it down when onExit says so', async () => {
      const exits: (number | null)[] = [];
      supervise([child('once', CRASHER)], { onExit: (_name, code) => (exits.push(code), false) });
      await waitFor(() => exits.length === 1);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(exits).toEqual([1]);
      expect(stderr.text).not.toContain('restarting');
    });
  });

  describe('when stopped', () => {
    it('sends SIGTERM, waits for every child and restarts none', async () => {
      const sup = supervise([child('one', SERVICE), child('two', SERVICE)]);
      await stdout.waitFor(/\[two\].*up/);
      await stdout.waitFor(/\[one\].*up/);
      const pids = Object.values(sup.pids()) as number[];
      await sup.stop();
      expect(stdout.text).toMatch(/\[one\]\s+sigterm/);
      expect(stdout.text).toMatch(/\[two\]\s+sigterm/);
      expect(pids.filter(isAlive)).toEqual([]);
      expect(stderr.text).not.toContain('restarting');
    });

    it('stops a later phase only after the earlier one has exited', async () => {
      const sup = supervise([
        child('dependency', SERVICE, {}, { stopPhase: 1 }),
        child('user', SERVICE, { DRAIN_MS: '300' }),
      ]);
      await stdout.waitFor(/\[dependency\].*up/);
      await stdout.waitFor(/\[user\].*up/);
      await sup.stop();
      const userExit = Number(/\[user\]\s+exiting at (\d+)/.exec(stdout.text)?.[1]);
      const dependencyTerm = Number(/\[dependency\]\s+sigterm at (\d+)/.exec(stdout.text)?.[1]);
      expect(dependencyTerm).toBeGreaterThanOrEqual(userExit);
    });

    it('SIGKILLs the process group of a child still running at the deadline, and says so', async () => {
      const sup = supervise([child('stubborn', STUBBORN)], { shutdownTimeoutMs: 300 });
      const [, grandchild] = await stdout.waitFor(/grandchild (\d+)/);
      const pid = sup.pids().stubborn ?? 0;
      const started = Date.now();
      await sup.stop();
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(stderr.text).toContain('stubborn still running 300ms after SIGTERM; sending SIGKILL');
      expect(isAlive(pid)).toBe(false);
      await waitFor(() => !isAlive(Number(grandchild)), { timeoutMs: 5_000 });
    });

    it('does not restart a child whose restart was pending', async () => {
      const sup = supervise([child('crasher', CRASHER)], { backoff: { initialDelayMs: 300 } });
      await stderr.waitFor(/restarting in 300ms/);
      await sup.stop();
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(stdout.text.match(/up \d+/g)).toHaveLength(1);
    });
  });

  describe('when killed', () => {
    it('SIGKILLs every child at once, without waiting for SIGTERM handlers', async () => {
      const sup = supervise([child('stubborn', STUBBORN)], { shutdownTimeoutMs: 10_000 });
      await stdout.waitFor(/grandchild \d+/);
      const pid = sup.pids().stubborn ?? 0;
      const started = Date.now();
      await sup.kill();
      // Far below the 10 s SIGTERM deadline; loose for a loaded machine.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(isAlive(pid)).toBe(false);
    });
  });
});
