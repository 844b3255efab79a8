import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@switchyard/testkit';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  blockingConnectionOf,
  connectionIds,
  connectionNamed,
  startFaultProxy,
  type FaultProxy,
} from '../src/fault-proxy.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';

// Each mode against a real redis-server of our own, through real ioredis
// clients: what the client sees, and that only the chosen connections see it.

let redis: RedisServer;
let proxy: FaultProxy;
const clients: Redis[] = [];

function client(name?: string, extra: RedisOptions = {}): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port: proxy.port,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > 50 ? null : 50),
    ...(name === undefined ? {} : { connectionName: name }),
    ...extra,
  });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

async function ready(c: Redis): Promise<void> {
  await waitFor(() => c.status === 'ready', { timeoutMs: 5_000 });
  // The name travels in the connect handshake; wait until the proxy read it.
  const name = c.options.connectionName;
  if (typeof name === 'string' && name !== '') {
    await waitFor(() => proxy.connections().some((x) => x.open && x.name === name), {
      timeoutMs: 5_000,
    });
  }
}

beforeAll(async () => {
  redis = await startRedisServer({ profile: 'no-persistence' });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await proxy?.close();
});

afterAll(async () => {
  await redis?.stop();
});

describe('fault proxy', () => {
  it('passes commands through and names connections from CLIENT SETNAME', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const a = client('alpha');
    const b = client();
    await ready(a);
    await ready(b);
    await a.set('k', 'v');
    expect(await b.get('k')).toBe('v');
    const seen = proxy.connections();
    expect(seen.map((c) => c.id)).toEqual([1, 2]);
    expect(seen.find((c) => c.name === 'alpha')).toBeDefined();
    expect(seen.filter((c) => c.name === undefined)).toHaveLength(1);
    expect(seen.every((c) => c.clientPort > 0 && c.bytesFromClient > 0)).toBe(true);
  });

  it('latency delays both directions and keeps order', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const a = client();
    await ready(a);
    proxy.setMode({ kind: 'latency', ms: 150 });
    const started = Date.now();
    const replies = await Promise.all([a.incr('n'), a.incr('n'), a.incr('n')]);
    const elapsed = Date.now() - started;
    expect(replies).toEqual([1, 2, 3]);
    // One delay per direction at least.
    expect(elapsed).toBeGreaterThanOrEqual(290);
    proxy.setMode('pass');
    const t = Date.now();
    await a.ping();
    expect(Date.now() - t).toBeLessThan(150);
  });

  it('reset ends matching connections with ECONNRESET and only those', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const victim = client('victim', { retryStrategy: () => null });
    const bystander = client('bystander');
    await ready(victim);
    await ready(bystander);
    const errors: string[] = [];
    victim.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    proxy.setMode('reset', connectionNamed('victim'));
    await waitFor(() => victim.status === 'end', { timeoutMs: 5_000 });
    expect(errors).toContain('ECONNRESET');
    expect(await bystander.ping()).toBe('PONG');
    const [v, b] = [proxy.connections()[0]!, proxy.connections()[1]!];
    expect(v.open).toBe(false);
    expect(b.open).toBe(true);
  });

  it('reset stays in force: an unfiltered reset refuses reconnects until pass', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const a = client(undefined, { maxRetriesPerRequest: null });
    await ready(a);
    proxy.setMode('reset');
    await waitFor(() => proxy.connections().length >= 3, { timeoutMs: 5_000 });
    expect(proxy.connections().every((c) => !c.open)).toBe(true);
    proxy.setMode('pass');
    expect(await a.ping()).toBe('PONG');
  });

  it('blackhole forwards nothing either way, then releases the held bytes in order', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const wedged = client('wedged', { maxRetriesPerRequest: null });
    const free = client('free');
    await ready(wedged);
    await ready(free);
    proxy.setMode('blackhole', connectionNamed('wedged'));
    const pending = wedged.set('held', '1').then(() => wedged.get('held'));
    await sleep(500);
    // The SET never reached Redis; the other connection is untouched.
    expect(await free.get('held')).toBeNull();
    const before = proxy.connections().find((c) => c.name === 'wedged')!;
    expect(before.open).toBe(true);
    expect(before.mode).toBe('blackhole');
    expect(before.blackholedBytes).toBeGreaterThan(0);
    proxy.setMode('pass');
    expect(await pending).toBe('1');
  });

  it("blackhole with onHeal 'reset' drops what it held and resets the connection at the heal", async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const wedged = client('forgotten', { maxRetriesPerRequest: 0, retryStrategy: () => null });
    const free = client('free');
    await ready(wedged);
    await ready(free);
    const errors: string[] = [];
    wedged.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    proxy.setMode({ kind: 'blackhole', onHeal: 'reset' }, connectionNamed('forgotten'));
    const pending = wedged.set('dropped', '1').then(
      () => 'answered',
      () => 'failed',
    );
    await sleep(300);
    proxy.setMode('pass');
    expect(await pending).toBe('failed');
    expect(errors).toContain('ECONNRESET');
    // The held SET never reached Redis.
    expect(await free.get('dropped')).toBeNull();
  });

  it('blackhole of server-to-client bytes: a blocking command gets no answer', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const blocked = client('blocked', { maxRetriesPerRequest: null });
    const pusher = client('pusher');
    await ready(blocked);
    await ready(pusher);
    let answered = false;
    const pop = blocked.blpop('list', 0).then((r) => {
      answered = true;
      return r;
    });
    await sleep(200);
    proxy.setMode('blackhole', connectionNamed('blocked'));
    await pusher.rpush('list', 'x');
    await sleep(500);
    expect(answered).toBe(false);
    // Redis did serve it: the item is gone from the list.
    expect(await pusher.llen('list')).toBe(0);
    proxy.setMode('pass');
    expect(await pop).toEqual(['list', 'x']);
  });

  it('a filter can target a connection before it exists (by name at connect)', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    proxy.setMode('blackhole', blockingConnectionOf('worker-r0-g0'));
    const blocking = client('sy:bm90aWZpY2F0aW9ucw==:w:worker-r0-g0', {
      maxRetriesPerRequest: null,
    });
    const other = client('sy:bm90aWZpY2F0aW9ucw==:w:worker-r1-g0');
    // ioredis waits for its handshake replies: the wedged one never becomes ready.
    await ready(other);
    await sleep(400);
    expect(blocking.status).not.toBe('ready');
    expect(proxy.connections().find((c) => c.name?.endsWith('r0-g0'))?.mode).toBe('blackhole');
    proxy.setMode('pass');
    await ready(blocking);
  });

  it('close ends existing matching connections with FIN and closes new ones at accept', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const a = client(undefined, { retryStrategy: () => null });
    await ready(a);
    proxy.setMode('close');
    await waitFor(() => a.status === 'end', { timeoutMs: 5_000 });
    const raw = await rawConnect(proxy.port);
    const closed = await new Promise<boolean>((resolve) => {
      raw.once('end', () => resolve(true));
      raw.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3_000).unref();
    });
    raw.destroy();
    expect(closed).toBe(true);
    expect(proxy.connections().every((c) => !c.open)).toBe(true);
  });

  it('filters by arrival number hit only those connections', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const [a, b, c] = [client(), client(), client()];
    for (const x of [a, b, c]) await ready(x);
    const ids = proxy.connections().map((x) => x.id);
    proxy.setMode('blackhole', connectionIds(ids[1]!));
    const modes = proxy.connections().map((x) => x.mode);
    expect(modes).toEqual(['pass', 'blackhole', 'pass']);
    proxy.setMode('pass');
    expect(await b.ping()).toBe('PONG');
  });

  it('close() frees the port and every connection', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const a = client(undefined, { retryStrategy: () => null });
    await ready(a);
    proxy.setMode({ kind: 'latency', ms: 5_000 });
    void a.ping().catch(() => undefined);
    await proxy.close();
    await waitFor(() => a.status === 'end', { timeoutMs: 5_000 });
    expect(proxy.connections().every((x) => !x.open)).toBe(true);
    // The port is free again: a server can bind it.
    const { createServer } = await import('node:net');
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(proxy.port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });

  it('refuses a latency out of range', async () => {
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    expect(() => proxy.setMode({ kind: 'latency', ms: -1 })).toThrow(/latency/);
  });
});

function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
