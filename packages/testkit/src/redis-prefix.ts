/**
 * Per-test isolation on a shared Redis: every test writes under a key
 * prefix of its own and removes it afterwards.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A fresh key prefix (`t` + 8 hex digits): short, so keys stay readable in failures. */
export function randomPrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

/**
 * Unlinks every key under `prefix`. A server the test killed (fault tests)
 * has nothing left to clean, so a failed KEYS is not an error here.
 */
export async function unlinkPrefix(admin: Redis | Cluster, prefix: string): Promise<void> {
  // On a cluster, KEYS asks one node: each master is asked for its own keys.
  const servers = 'nodes' in admin ? admin.nodes('master') : [admin];
  for (const server of servers) {
    const keys = await server.keys(`${prefix}:*`).catch(() => [] as string[]);
    if (keys.length === 0) continue;
    // One key per UNLINK: a cluster node refuses keys of different slots in one command.
    const pipeline = server.pipeline();
    for (const key of keys) pipeline.unlink(key);
    await pipeline.exec();
  }
}

/** Resolves once `connection` is ready; rejects if it ends first. */
export async function waitReady(connection: Redis | Cluster): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    connection.once('ready', resolve);
    connection.once('end', () => reject(new Error('connection ended before it was ready')));
  });
}
