import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { pingRedis, waitFor } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/orphan-redis.ts', import.meta.url));

// A zombie counts as dead: in a container whose PID 1 does not reap, a
// killed orphan stays a zombie, which signal 0 still "finds".
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// Set once the fixture's server is known, so a failing run does not leak it.
let orphan: { pid: number; dir: string } | undefined;

afterEach(() => {
  if (orphan !== undefined && isAlive(orphan.pid)) process.kill(orphan.pid, 'SIGKILL');
  if (orphan !== undefined) rmSync(orphan.dir, { recursive: true, force: true });
  orphan = undefined;
});

describe('a redis-server started by startRedis', () => {
  describe('when the test process is SIGKILLed', () => {
    it('does not outlive it, nor leave its data dir behind', async () => {
      const owner = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions', '@switchyard/source', fixture],
        {
          cwd: packageDir,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let stdout = '';
      owner.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const { port } = await waitFor(
        () => (stdout.includes('\n') ? (JSON.parse(stdout) as { port: number }) : undefined),
        {
          timeoutMs: 20_000,
          message: 'the fixture to print its Redis port',
        },
      );
      const client = new Redis({
        port,
        host: '127.0.0.1',
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      const info = await client.info('server');
      const [, dir] = (await client.config('GET', 'dir')) as [string, string];
      client.disconnect();
      const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      orphan = { pid: redisPid, dir };
      expect(isAlive(redisPid)).toBe(true);
      expect(existsSync(dir)).toBe(true);

      const ownerExit = once(owner, 'exit');
      owner.kill('SIGKILL');
      await ownerExit;

      // No exit hook runs on SIGKILL; only the watchdog can do this.
      await waitFor(() => !isAlive(redisPid), {
        timeoutMs: 5_000,
        message: `redis-server ${redisPid} to die`,
      });
      expect(await pingRedis('127.0.0.1', port)).toBe(false);
      await waitFor(() => !existsSync(dir), { timeoutMs: 5_000, message: `${dir} to be removed` });
    });
  });
});
