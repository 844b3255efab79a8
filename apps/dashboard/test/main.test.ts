/**
 * The built dashboard as a process (dist/main.js) and the hash-password
 * script (dist/hash-password.js): start-up refusals name the variables,
 * a hash made by the script signs in, SIGTERM exits 0.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  freePort,
  randomPrefix,
  startApp,
  startRedis,
  type AppProcess,
  type RedisHandle,
} from '@switchyard/testkit';
import { basic } from './support/dashboard-fixture.js';

const entry = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const hashScript = fileURLToPath(new URL('../dist/hash-password.js', import.meta.url));
const srcDir = fileURLToPath(new URL('../src', import.meta.url));

let redisServer: RedisHandle;
let app: AppProcess | undefined;

beforeAll(async () => {
  assertBuilt(entry, srcDir, 'pnpm --filter @switchyard/dashboard... build');
  redisServer = await startRedis();
});
afterEach(async () => {
  await app?.kill();
  app = undefined;
});
afterAll(async () => {
  await redisServer?.stop();
});

/** Runs hash-password with `input` on stdin. */
function hashPasswordScript(
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [hashScript], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('dashboard process (dist/main.js)', () => {
  it('refuses to start without any user, naming DASHBOARD_PASSWORD and DASHBOARD_USERS', async () => {
    app = await startApp({
      entry,
      env: { REDIS_URL: redisServer.url, DASHBOARD_PORT: String(await freePort()) },
    });
    expect(await app.exited).toBe(1);
    expect(app.output()).toMatch(
      /DASHBOARD_PASSWORD: no dashboard user: set DASHBOARD_PASSWORD .* or DASHBOARD_USERS/,
    );
  });

  it('refuses a bad DASHBOARD_USERS entry, naming it without echoing the hash', async () => {
    const secretish = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$notbase64!!';
    // 128·N·r = 1 GiB per check: one login attempt must not be able to claim that.
    const memoryHungry = 'scrypt$1048576$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==';
    app = await startApp({
      entry,
      env: {
        REDIS_URL: redisServer.url,
        DASHBOARD_PORT: String(await freePort()),
        DASHBOARD_USERS: `alice:admin:${secretish},bob:owner:x,carol:viewer:${memoryHungry}`,
      },
    });
    expect(await app.exited).toBe(1);
    const output = app.output();
    expect(output).toContain(
      'DASHBOARD_USERS: entry 1 (alice) has a salt or hash that is not base64',
    );
    expect(output).toContain(
      'DASHBOARD_USERS: entry 2 (bob) has a role that is not admin or viewer',
    );
    expect(output).toContain(
      'DASHBOARD_USERS: entry 3 (carol) needs 1024 MiB per check (128·N·r); at most 64 MiB is accepted',
    );
    expect(output).not.toContain('notbase64');
  });

  it('signs in a user whose hash came from hash-password, and stops on SIGTERM with exit 0', async () => {
    const made = await hashPasswordScript('a long enough password\n');
    expect(made.code, made.stderr).toBe(0);
    const hash = made.stdout.trim();
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    // Salted: the same password hashes differently each time.
    expect((await hashPasswordScript('a long enough password')).stdout.trim()).not.toBe(hash);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    app = await startApp({
      entry,
      env: {
        REDIS_URL: redisServer.url,
        DASHBOARD_PORT: String(port),
        QUEUE_PREFIX: randomPrefix(),
        DASHBOARD_USERS: `alice:viewer:${hash}`,
      },
      readyUrl: `${base}/readyz`,
    });
    const signedIn = await fetch(`${base}/api/queues`, {
      headers: { authorization: basic('alice', 'a long enough password') },
    });
    expect(signedIn.status).toBe(200);
    await signedIn.body?.cancel();
    const wrong = await fetch(`${base}/api/queues`, {
      headers: { authorization: basic('alice', 'a long enough passwore') },
    });
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();
    const anonymous = await fetch(`${base}/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    await anonymous.body?.cancel();

    expect(await app.stop('SIGTERM')).toBe(0);
    expect(app.output()).toContain('dashboard listening');
    expect(app.output()).toContain('stopped');
  });

  it('hash-password refuses a short password', async () => {
    const made = await hashPasswordScript('short\n');
    expect(made.code).toBe(2);
    expect(made.stderr).toContain('at least 8 characters');
    expect(made.stdout).toBe('');
  });
});
