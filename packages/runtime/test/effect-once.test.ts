/**
 * ctx.once on real Redis: a side effect runs once per (subscriber, eventId,
 * name), whatever the deliveries do.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import { createEffectStore, maxEffectResultLength } from '../src/effect-once.js';

let redis: RedisHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  await client.quit();
  await redis.stop();
});

function setup(leaseMs = 1_000) {
  const prefix = `sy-test-${randomUUID()}`;
  const store = createEffectStore({ redis: client, prefix, leaseMs, ttlMs: 60_000 });
  const scope = {
    subscriber: 'notifications',
    eventId: randomUUID(),
    signal: new AbortController().signal,
  };
  const key = `${prefix}:effect:notifications:${scope.eventId}:send`;
  return { store, scope, key };
}

describe('ctx.once', () => {
  describe('when the effect already ran', () => {
    it('returns the stored result without running it again', async () => {
      const { store, scope, key } = setup();
      let runs = 0;
      const effect = () => Promise.resolve({ id: `email_${(runs += 1)}` });

      expect(await store.once(scope, 'send', effect)).toEqual({ id: 'email_1' });
      expect(await store.once(scope, 'send', effect)).toEqual({ id: 'email_1' });

      expect(runs).toBe(1);
      expect(await client.get(key)).toBe('done:{"v":{"id":"email_1"}}');
      expect(await client.pttl(key)).toBeGreaterThan(50_000);
    });

    it('keeps only "done" for a result over 8 KiB, or none', async () => {
      const { store, scope, key } = setup();
      let runs = 0;
      const big = 'x'.repeat(maxEffectResultLength);
      const effect = () => {
        runs += 1;
        return Promise.resolve(big);
      };

      expect(await store.once(scope, 'send', effect)).toBe(big);
      expect(await store.once(scope, 'send', effect)).toBeUndefined();
      expect(runs).toBe(1);
      expect(await client.get(key)).toBe('done');
      expect(maxEffectResultLength).toBe(8 * 1024);

      await store.once(scope, 'void', () => Promise.resolve(undefined));
      expect(await client.get(key.replace(/:send$/, ':void'))).toBe('done');
    });
  });

  describe('when a duplicate delivery runs at the same time', () => {
    it('waits for the running one and shares its result', async () => {
      const { store, scope } = setup();
      let runs = 0;
      const effect = async () => {
        runs += 1;
        await sleep(200);
        return runs;
      };

      const results = await Promise.all([
        store.once(scope, 'send', effect),
        store.once(scope, 'send', effect),
      ]);

      expect(results).toEqual([1, 1]);
      expect(runs).toBe(1);
    });
  });

  describe('when the effect fails', () => {
    it('releases its lease so the next attempt runs it', async () => {
      const { store, scope, key } = setup();
      let runs = 0;

      await expect(
        store.once(scope, 'send', () => Promise.reject(new Error(`fail ${(runs += 1)}`))),
      ).rejects.toThrow('fail 1');
      expect(await client.exists(key)).toBe(0);
      expect(await store.once(scope, 'send', () => Promise.resolve((runs += 1)))).toBe(2);
    });
  });

  describe('when the lease holder died', () => {
    it('runs the effect once the lease expires', async () => {
      const { store, scope, key } = setup(300);
      await client.set(key, 'lease:dead-worker', 'PX', 300);
      const started = Date.now();

      expect(await store.once(scope, 'send', () => Promise.resolve('ran'))).toBe('ran');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });
  });

  describe('while the effect runs longer than its lease', () => {
    it('renews the lease so no duplicate runs it meanwhile', async () => {
      const { store, scope } = setup(150);
      let runs = 0;
      const effect = async () => {
        runs += 1;
        await sleep(500);
        return runs;
      };
      const first = store.once(scope, 'send', effect);
      await sleep(50);

      expect(await store.once(scope, 'send', effect)).toBe(1);
      expect(await first).toBe(1);
      expect(runs).toBe(1);
    });
  });

  describe('when the waiter is aborted', () => {
    it("rejects promptly with the signal's reason", async () => {
      const { store, scope, key } = setup();
      await client.set(key, 'lease:other', 'PX', 5_000);
      const control = new AbortController();
      const waiting = store.once({ ...scope, signal: control.signal }, 'send', () =>
        Promise.resolve(1),
      );
      const settled = waiting.then(
        () => Date.now(),
        () => Date.now(),
      );
      await sleep(150);
      const abortedAt = Date.now();
      control.abort(new Error('timeout'));

      await expect(waiting).rejects.toThrow('timeout');
      expect((await settled) - abortedAt).toBeLessThan(50);
      await client.del(key);
    });
  });

  describe('when the attempt aborts while its effect still runs', () => {
    it('stops renewing the lease, so it expires and a redelivery can take over', async () => {
      const { store, scope, key } = setup(300);
      const control = new AbortController();
      let finish: (() => void) | undefined;
      // An effect that ignores the signal.
      const running = store.once({ ...scope, signal: control.signal }, 'send', () => {
        return new Promise<void>((resolve) => (finish = resolve));
      });
      await sleep(50);
      control.abort(new Error('timeout'));

      await sleep(600);
      expect(await client.exists(key)).toBe(0);
      finish!();
      await running;
    });
  });
});
