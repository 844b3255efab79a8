/**
 * Per-test isolation on a shared Redis: every test writes under a key
 * prefix of its own and removes it afterwards.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A fresh key prefix (`t` + 8 hex digits): short, so keys stay readable in failures. */
export function randomPrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

/**
 * Unlinks every key under `prefix`. A server the test killed (fault tests)
 * has nothing left to clean, so a failed KEYS is not an error here.
 */
export async function unlinkPrefix(admin: Redis, prefix: string): Promise<void> {
  const keys = await admin.keys(`${prefix}:*`).catch(() => [] as string[]);
  if (keys.length > 0) await admin.unlink(...keys);
}

/** Resolves once `connection` is ready; rejects if it ends first. */
export async function waitReady(connection: Redis): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    connection.once('ready', resolve);
    connection.once('end', () => reject(new Error('connection ended before it was ready')));
  });
}
