/**
 * Redis with an ACL user for the apps, over TLS.
 *
 * A redis-server of the suite's own listens on a TLS port only (plaintext
 * port off), with a throwaway CA and server certificate made by openssl in a
 * temp dir. The apps log in as `sy-app`, whose ACL (appAcl, the line
 * docs/operations.md documents) allows what BullMQ and Switchyard run and
 * refuses FLUSHALL, FLUSHDB, CONFIG, KEYS, SHUTDOWN and DEBUG. Checked:
 * - the refused commands answer NOPERM, from a client and from a Lua
 *   script (scripts run with the caller's ACL);
 * - the producer, the notifications worker and the dashboard, as processes
 *   with REDIS_URL=rediss://sy-app:…@… and REDIS_TLS_CA_FILE, carry an
 *   event from publish to the sandbox, and Redis's ACL LOG records no
 *   refusal of any command they sent (an app that swallowed a NOPERM would
 *   show there);
 * - plaintext to the TLS port fails at once with an error, the producer
 *   stays unready saying why, a rediss:// client without the CA is refused
 *   on the certificate, and a REDIS_TLS_CA_FILE that cannot be read stops
 *   the app naming the variable.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startApp,
  startSandbox,
  waitFor,
  type AppProcess,
  type Sandbox,
} from '@switchyard/testkit';
import { appEntry } from './helpers/app-entry.js';

/**
 * The apps' ACL (the line docs/operations.md documents): only the keys
 * under QUEUE_PREFIX; the five command categories BullMQ and Switchyard
 * need (blocking, keyspace, sorted-set, stream... commands are all in @read
 * or @write as well; no pub/sub is used); then every @dangerous command
 * taken away (FLUSHALL, FLUSHDB, CONFIG, KEYS, SHUTDOWN, DEBUG, MONITOR,
 * CLIENT KILL, ...) except INFO, which BullMQ reads for the server's version
 * and the workers for maxmemory-policy, and CLIENT LIST, which BullMQ's
 * getWorkers (the dashboard's workers view) reads. Dropping any of the five
 * categories makes the flow below fail (checked by hand when it was chosen).
 */
const prefix = `at${randomBytes(4).toString('hex')}`;

const appAcl = [
  `~${prefix}:*`,
  '-@all',
  '+@read',
  '+@write',
  '+@scripting',
  '+@connection',
  '+@transaction',
  '-@dangerous',
  '+info',
  '+client|list',
];
const forbidden: [string, ...string[]][] = [
  ['FLUSHALL'],
  ['FLUSHDB'],
  ['CONFIG', 'GET', 'maxmemory'],
  ['CONFIG', 'SET', 'appendonly', 'no'],
  ['KEYS', '*'],
  ['SHUTDOWN', 'NOSAVE'],
  ['DEBUG', 'SLEEP', '0'],
];

const user = 'sy-app';
const password = `pw${randomBytes(12).toString('hex')}`;
const adminPassword = `admin${randomBytes(12).toString('hex')}`;
const apiKey = `sk_${randomBytes(20).toString('hex')}`;

let dir = '';
let caFile = '';
let redisProcess: ChildProcess | undefined;
let port = 0;
let admin: Redis;
let sandbox: Sandbox;
const apps: AppProcess[] = [];

/** A throwaway CA and a server certificate it signed, for 127.0.0.1 and localhost. */
function makeCertificates(into: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: into, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=switchyard test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  writeFileSync(join(into, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.cnf',
    '-out',
    'server.pem',
  ]);
}

/** A TLS-only redis-server; resolves once it answers an authenticated PING over TLS. */
async function startTlsRedis(): Promise<void> {
  port = await freePort();
  redisProcess = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--tls-cert-file',
      join(dir, 'server.pem'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.pem'),
      '--tls-auth-clients',
      'no',
      '--requirepass',
      adminPassword,
      // On, so that the ACL, not this switch, is what refuses DEBUG.
      '--enable-debug-command',
      'yes',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: Buffer[] = [];
  redisProcess.stdout?.on('data', (chunk: Buffer) => log.push(chunk));
  redisProcess.stderr?.on('data', (chunk: Buffer) => log.push(chunk));
  admin = new Redis({
    host: '127.0.0.1',
    port,
    password: adminPassword,
    tls: { ca: readFileSync(caFile, 'utf8') },
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  admin.on('error', () => undefined);
  await waitFor(async () => ((await admin.ping().catch(() => '')) === 'PONG' ? true : undefined), {
    timeoutMs: 10_000,
    message: `redis-server with TLS on ${port}: ${Buffer.concat(log).toString().slice(-2_000)}`,
  });
}

const aclDenials = async (): Promise<string[]> =>
  ((await admin.call('ACL', 'LOG')) as unknown[][]).map((entry) => {
    const fields = new Map<string, unknown>();
    for (let i = 0; i < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    return `${String(fields.get('username'))}: ${String(fields.get('reason'))} ${String(fields.get('object'))}`;
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-acl-tls-'));
  caFile = join(dir, 'ca.pem');
  makeCertificates(dir);
  await startTlsRedis();
  await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...appAcl);
  await admin.call('ACL', 'LOG', 'RESET');
  sandbox = await startSandbox();
}, 60_000);

afterAll(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  await sandbox?.stop();
  admin?.disconnect();
  if (redisProcess !== undefined && redisProcess.exitCode === null) {
    const exited = once(redisProcess, 'exit');
    redisProcess.kill('SIGTERM');
    await exited;
  }
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('the apps’ ACL user', () => {
  let client: Redis;

  beforeAll(async () => {
    client = new Redis({
      host: '127.0.0.1',
      port,
      username: user,
      password,
      tls: { ca: readFileSync(caFile, 'utf8') },
      maxRetriesPerRequest: 1,
    });
    await client.ping();
  });
  afterAll(() => client?.disconnect());

  it.each(forbidden.map((command) => [command.join(' '), command] as const))(
    'is refused %s',
    async (_name, [command, ...args]) => {
      await expect(client.call(command, ...args)).rejects.toThrow(/NOPERM/);
    },
  );

  it('is refused the same commands from inside a Lua script', async () => {
    const refused = /NOPERM|can't run this command/;
    await expect(client.eval("return redis.call('FLUSHALL')", 0)).rejects.toThrow(refused);
    await expect(client.eval("return redis.call('KEYS', '*')", 0)).rejects.toThrow(refused);
  });

  it('may read, write, run scripts, block and use transactions', async () => {
    expect(await client.set(`${prefix}:probe`, '1')).toBe('OK');
    expect(await client.eval('return redis.call("GET", KEYS[1])', 1, `${prefix}:probe`)).toBe('1');
    expect(await client.multi().incr(`${prefix}:n`).exec()).toEqual([[null, 1]]);
    expect(await client.bzpopmin(`${prefix}:empty`, 0.01)).toBeNull();
    expect(await client.info('server')).toMatch(/redis_version/);
    await client.del(`${prefix}:probe`, `${prefix}:n`);
  });
});

describe('the apps over TLS as the ACL user', () => {
  it(
    'carry an event from the producer through the worker to the sandbox, with no command refused',
    { timeout: 120_000 },
    async () => {
      await admin.call('ACL', 'LOG', 'RESET');
      const env = {
        REDIS_URL: `rediss://${user}:${password}@127.0.0.1:${port}`,
        REDIS_TLS_CA_FILE: caFile,
        QUEUE_PREFIX: prefix,
        LOG_LEVEL: 'info',
      };
      const producerPort = await freePort();
      const producer = await startApp({
        entry: appEntry('producer'),
        env: { ...env, PRODUCER_PORT: String(producerPort), API_KEYS: apiKey },
        readyUrl: `http://127.0.0.1:${producerPort}/readyz`,
      });
      apps.push(producer);
      const healthPort = await freePort();
      const worker = await startApp({
        entry: appEntry('worker-notifications'),
        env: { ...env, SANDBOX_URL: sandbox.url, HEALTH_PORT: String(healthPort) },
        readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
      });
      apps.push(worker);
      const dashboardPort = await freePort();
      const dashboard = await startApp({
        entry: appEntry('dashboard'),
        env: {
          ...env,
          DASHBOARD_PORT: String(dashboardPort),
          DASHBOARD_USER: 'ops',
          DASHBOARD_PASSWORD: `dash-${password}`,
        },
        readyUrl: `http://127.0.0.1:${dashboardPort}/readyz`,
      });
      apps.push(dashboard);

      const response = await fetch(`http://127.0.0.1:${producerPort}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'user.signed_up',
          version: 1,
          data: { userId: 'u_tls', email: 'tls@example.com', plan: 'free' },
        }),
      });
      expect(response.status).toBe(202);
      const calls = await waitFor(
        async () => {
          const ledger = await sandbox.ledger();
          return ledger.some((call) => call.service === 'email') ? ledger : undefined;
        },
        { timeoutMs: 30_000, message: 'the welcome e-mail in the sandbox ledger' },
      );
      expect(calls.filter((call) => call.service === 'email')).toHaveLength(1);
      // The dashboard reads the queues through Bull Board as the same user.
      const auth = `Basic ${Buffer.from(`ops:dash-${password}`).toString('base64')}`;
      const queues = await fetch(`http://127.0.0.1:${dashboardPort}/api/queues`, {
        headers: { authorization: auth },
      });
      expect(queues.status).toBe(200);
      await queues.body?.cancel();

      expect(await Promise.all(apps.splice(0).map((app) => app.stop('SIGTERM', 15_000)))).toEqual([
        0, 0, 0,
      ]);
      expect(await aclDenials()).toEqual([]);
      for (const app of [producer, worker, dashboard]) expect(app.output()).not.toMatch(/NOPERM/);
    },
  );

  it(
    'fails at once on plaintext to the TLS port, and the producer stays unready saying why',
    { timeout: 60_000 },
    async () => {
      const plain = new Redis({
        host: '127.0.0.1',
        port,
        username: user,
        password,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        connectTimeout: 5_000,
      });
      plain.on('error', () => undefined);
      const started = Date.now();
      await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5_000);
      plain.disconnect();

      const producerPort = await freePort();
      const producer = await startApp({
        entry: appEntry('producer'),
        env: {
          REDIS_URL: `redis://${user}:${password}@127.0.0.1:${port}`,
          QUEUE_PREFIX: prefix,
          PRODUCER_PORT: String(producerPort),
          API_KEYS: apiKey,
        },
        readyUrl: `http://127.0.0.1:${producerPort}/healthz`,
      });
      apps.push(producer);
      const ready = await fetch(`http://127.0.0.1:${producerPort}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ reason: 'redis unreachable' });
      await waitFor(() => (/redis connection error/.test(producer.output()) ? true : undefined), {
        timeoutMs: 10_000,
        message: 'the producer logs the connection error',
      });
      expect(producer.output()).not.toContain(password);
      await producer.stop();
    },
  );

  it('refuses a rediss:// connection without the CA on the certificate', async () => {
    const untrusting = new Redis({
      host: '127.0.0.1',
      port,
      username: user,
      password,
      tls: {},
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    // ioredis rejects connect() generically; the TLS error is the 'error' event's.
    const errors: string[] = [];
    untrusting.on('error', (error: Error) => errors.push(error.message));
    await expect(untrusting.connect()).rejects.toThrow();
    untrusting.disconnect();
    expect(errors.join('; ')).toMatch(/certificate/i);
  });

  it.each([
    [
      'a missing file',
      () => join(dir, 'no-such-ca.pem'),
      /REDIS_TLS_CA_FILE: cannot read .*ENOENT/,
    ],
    [
      'a file without a certificate',
      () => join(dir, 'san.cnf'),
      /REDIS_TLS_CA_FILE: .* holds no PEM certificate/,
    ],
  ])('stops the producer naming REDIS_TLS_CA_FILE for %s', async (_what, file, message) => {
    const producer = await startApp({
      entry: appEntry('producer'),
      env: {
        REDIS_URL: `rediss://${user}:${password}@127.0.0.1:${port}`,
        REDIS_TLS_CA_FILE: file(),
        API_KEYS: apiKey,
        PRODUCER_PORT: String(await freePort()),
      },
    });
    expect(await producer.exited).toBe(1);
    expect(producer.output()).toMatch(message);
  });
});
