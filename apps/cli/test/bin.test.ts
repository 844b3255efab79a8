/**
 * The built bin as users run it (`node apps/cli/dist/main.js`): exit codes,
 * stderr, and the bounded failure (exit 3) when Redis is unreachable.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, freePort } from '@switchyard/testkit';
import { parseJson, useCliHarness } from './support/cli-harness.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const entry = join(appDir, 'dist', 'main.js');
const cli = useCliHarness();

beforeAll(() => {
  assertBuilt(entry, join(appDir, 'src'), 'pnpm --filter @switchyard/cli build');
});

function sy(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [entry, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the sy bin', () => {
  it('lists queues as JSON against a real Redis and exits 0', async () => {
    await cli.queue('billing').add('payment.failed', {});
    const { code, stdout, stderr } = await sy(['queues', '--json'], {
      REDIS_URL: cli.url,
      QUEUE_PREFIX: cli.prefix(),
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const billing = parseJson<{ queues: { queue: string; backlog: number }[] }>(stdout).queues.find(
      (q) => q.queue === 'billing',
    );
    expect(billing?.backlog).toBe(1);
  });

  it('exits 2 with the usage for an unknown command', async () => {
    const { code, stderr } = await sy(['frobnicate'], {});
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sy: unknown command "frobnicate"\n\nUsage: sy <command>/);
  });

  it('exits 3 within 5 s naming REDIS_URL when Redis is unreachable, also for find', async () => {
    const port = await freePort();
    for (const args of [['queues'], ['find', 'some-event-id']]) {
      const started = performance.now();
      const { code, stdout, stderr } = await sy(args, {
        REDIS_URL: `redis://127.0.0.1:${port}`,
      });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(code, args[0]).toBe(3);
      expect(stdout).toBe('');
      expect(stderr).toMatch(
        new RegExp(
          `^sy: cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(REDIS_URL\\): .+\\n$`,
        ),
      );
    }
  });
});
