/**
 * Effect idempotency: `ctx.once(name, fn)` runs a side effect once per
 * (subscriber, eventId, name), even when BullMQ delivers a job twice.
 *
 * Redis key `<prefix>:effect:<subscriber>:<eventId>:<name>` holds:
 * - `lease:<token>` while an attempt runs `fn` (SET NX GET PX leaseMs: one
 *   round trip takes the lease or reads the marker or lease there; renewed
 *   every leaseMs/3 while fn runs and the attempt's signal has not aborted,
 *   like BullMQ's job lock): a concurrent duplicate delivery (a lock lost
 *   while the handler was still running) waits for it instead of running
 *   `fn` a second time; a dead holder's lease expires within leaseMs and the
 *   next attempt takes over. An aborted attempt (timeout, shutdown, lock
 *   lost) stops renewing, so its lease expires even when `fn` ignores the
 *   signal and the job's next delivery is not blocked by a zombie;
 * - after `fn` resolved: `done:{"v": result}` when `fn` returned a value
 *   whose JSON is at most 8 KiB, else just `done` (then a repeat resolves
 *   with undefined). Markers stay small because there is one per effect per
 *   event for `ttlMs` (default 7 days): size the TTL to outlive the retry
 *   budget plus how long entries may wait in the DLQ before a replay, and
 *   Redis memory to (events per TTL) × (key + at most 8 KiB). A repeat
 *   returns the stored result without running `fn`.
 * A failed `fn` deletes its lease, so the next attempt runs it again.
 *
 * Window that remains: a worker killed (or a Redis write lost) after `fn`'s
 * external effect and before `done` is written. The next delivery finds no
 * `done` and runs `fn` again; the downstream's idempotency key (pass
 * ctx.idempotencyKey with every call) must make that second call a no-op.
 * The same holds when a lease expires while a handler that ignores its
 * signal is still inside `fn`.
 */
import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '@switchyard/client';

/** Largest stored result, in characters of its JSON; a larger one is kept as plain `done`. */
export const maxEffectResultLength = 8 * 1024;
export const defaultEffectTtlMs = 7 * 86_400_000;
/** How often a waiter looks at a lease held by another delivery. */
const pollMs = 100;

export interface EffectStore {
  once<T>(
    scope: { subscriber: string; eventId: string; signal: AbortSignal },
    name: string,
    fn: () => Promise<T>,
  ): Promise<T>;
}

export interface EffectStoreOptions {
  redis: RedisConnection;
  prefix: string;
  /** How long a `done` marker is kept. Default: 7 days. */
  ttlMs?: number;
  /** Lease on a running effect, renewed while it runs. Default: 30000 (BullMQ's lock duration). */
  leaseMs?: number;
}

// KEYS[1] marker; ARGV[1] lease value; ARGV[2] lease ms. Renews only our own lease.
const renewScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
// KEYS[1] marker; ARGV[1] lease value. Deletes only our own lease.
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export function createEffectStore(options: EffectStoreOptions): EffectStore {
  const ttlMs = options.ttlMs ?? defaultEffectTtlMs;
  const leaseMs = options.leaseMs ?? 30_000;
  const { redis } = options;
  const storeId = randomUUID();
  let leaseCount = 0;

  return {
    async once<T>(
      scope: { subscriber: string; eventId: string; signal: AbortSignal },
      name: string,
      fn: () => Promise<T>,
    ): Promise<T> {
      const key = `${options.prefix}:effect:${scope.subscriber}:${scope.eventId}:${name}`;
      // Unique per call: this store's random id and a counter (a UUID per call costs more).
      const lease = `lease:${storeId}:${(leaseCount += 1)}`;
      for (;;) {
        scope.signal.throwIfAborted();
        // One round trip: takes the lease, or answers what holds the key (SET NX GET, Redis 7).
        const current = await redis.set(key, lease, 'PX', leaseMs, 'NX', 'GET');
        if (current === null) break;
        if (current === 'done' || current.startsWith('done:')) return storedResult<T>(current);
        // Another delivery holds the lease (or it vanished just now): wait and look again.
        await sleep(pollMs, scope.signal);
      }
      // Renewed only while the attempt is live: once its signal aborts the
      // lease is left to expire, so a redelivery can take over.
      const renew = setInterval(
        () => {
          if (scope.signal.aborted) {
            clearInterval(renew);
            return;
          }
          redis.eval(renewScript, 1, key, lease, leaseMs).catch(() => {
            // A missed renewal only shortens the lease; the next one retries.
          });
        },
        Math.max(10, Math.floor(leaseMs / 3)),
      );
      // Never keeps a process alive on its own.
      renew.unref();
      let result: T;
      try {
        result = await fn();
      } catch (error) {
        clearInterval(renew);
        await redis.eval(releaseScript, 1, key, lease).catch(() => undefined);
        throw error;
      }
      clearInterval(renew);
      await redis.set(key, encodeMarker(result), 'PX', ttlMs);
      return result;
    },
  };
}

/** `done:{"v":…}` for a JSON-able value of at most maxEffectResultLength characters, else `done`. */
function encodeMarker(result: unknown): string {
  if (result === undefined) return 'done';
  try {
    const json = JSON.stringify({ v: result });
    return json.length <= maxEffectResultLength ? `done:${json}` : 'done';
  } catch {
    return 'done';
  }
}

function storedResult<T>(marker: string): T {
  if (!marker.startsWith('done:')) return undefined as T;
  try {
    return (JSON.parse(marker.slice('done:'.length)) as { v?: T }).v as T;
  } catch {
    return undefined as T;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // An already-aborted signal never fires 'abort' again: reject now.
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
