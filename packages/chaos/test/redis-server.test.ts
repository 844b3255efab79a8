import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';

// The servers the chaos scenarios break: each profile is what it says, a
// kill is a crash, a restart comes back on the same port with what the AOF
// kept, and a memory cap refuses writes.

const started: RedisServer[] = [];
const clients: Redis[] = [];

function clientOf(server: RedisServer): Redis {
  const c = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe('startRedisServer', () => {
  it.each([
    ['aof-always', 'yes', 'always'],
    ['aof-everysec', 'yes', 'everysec'],
    ['no-persistence', 'no', undefined],
  ] as const)('profile %s sets appendonly and appendfsync', async (profile, aof, fsync) => {
    const server = await startRedisServer({ profile });
    started.push(server);
    const c = clientOf(server);
    expect((await c.config('GET', 'appendonly'))[1]).toBe(aof);
    if (fsync !== undefined) expect((await c.config('GET', 'appendfsync'))[1]).toBe(fsync);
    expect((await c.config('GET', 'save'))[1]).toBe('');
  });

  it('aof-always keeps every acknowledged write across a SIGKILL, on the same port', async () => {
    const server = await startRedisServer({ profile: 'aof-always' });
    started.push(server);
    const c = clientOf(server);
    for (let i = 0; i < 200; i += 1) await c.rpush('acked', String(i));
    await server.kill();
    expect(server.kills).toBe(1);
    await server.restart();
    // The same client reconnects to the same port.
    expect(await c.llen('acked')).toBe(200);
  });

  it('no-persistence loses everything on a SIGKILL (the negative control works)', async () => {
    const server = await startRedisServer({ profile: 'no-persistence' });
    started.push(server);
    const c = clientOf(server);
    await c.set('k', 'v');
    await server.kill();
    await server.restart();
    expect(await c.get('k')).toBeNull();
  });

  it('a memory cap with noeviction refuses writes with OOM and counts them', async () => {
    const server = await startRedisServer({
      profile: 'no-persistence',
      maxmemory: '4mb',
      maxmemoryPolicy: 'noeviction',
    });
    started.push(server);
    const c = clientOf(server);
    expect(await server.oomRejections()).toBe(0);
    const big = 'x'.repeat(64 * 1024);
    let refused: unknown;
    for (let i = 0; i < 200 && refused === undefined; i += 1) {
      await c.set(`big:${i}`, big).catch((error: unknown) => {
        refused = error;
      });
    }
    expect(String(refused)).toMatch(/OOM/);
    expect(await server.oomRejections()).toBeGreaterThan(0);
  });

  it('stop() ends the server: its port no longer answers', async () => {
    const server = await startRedisServer({ profile: 'no-persistence' });
    await server.stop();
    await expect(server.info()).rejects.toThrow(/INFO/);
  });
});
