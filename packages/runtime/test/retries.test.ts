/**
 * Retry policy on real Redis: the `switchyard` backoff (exponential, jittered,
 * capped), timeouts, and rate limits that do not spend attempts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { signedUp, waitFor } from '@switchyard/testkit';
import {
  DownstreamRateLimitedError,
  RateLimitedError,
  TimeoutError,
  TransientError,
  backoffDelay,
  createHttpClient,
  defineHandler,
} from '../src/index.js';
import { useRedisHarness } from './support/redis-harness.js';
import { startWorker } from './support/start-worker.js';

const harness = useRedisHarness({ sandbox: true });

describe('backoffDelay', () => {
  const options = { baseMs: 100, maxMs: 1_000, jitter: 0.2 };

  it('doubles per attempt, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 30, 1000].map((n) => backoffDelay(options, n, () => 0))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000,
    ]);
  });

  it('stays within [d·(1−jitter), d] for any random value', () => {
    for (const random of [0, 0.25, 0.5, 0.999999]) {
      for (let n = 1; n <= 8; n += 1) {
        const d = Math.min(1_000, 100 * 2 ** (n - 1));
        const delay = backoffDelay(options, n, () => random);
        expect(delay).toBeGreaterThanOrEqual(d * 0.8);
        expect(delay).toBeLessThanOrEqual(d);
      }
    }
  });
});

describe('retries', () => {
  describe('when a handler fails transiently N times, then succeeds', () => {
    it('completes on attempt N+1 after exponentially growing, capped, jittered delays', async () => {
      const failures = 5;
      const backoff = { baseMs: 100, maxMs: 300, jitter: 0.2 };
      const startedAt: number[] = [];
      const failedAt: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        attempts: 10,
        backoff,
        handle: async (_event, ctx) => {
          startedAt.push(Date.now());
          await Promise.resolve();
          if (ctx.attempt <= failures) {
            failedAt.push(Date.now());
            throw new TransientError(`hiccup ${ctx.attempt}`);
          }
        },
      });
      const { publish, settled, queue, deadLetters } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('completed');
      expect(startedAt).toHaveLength(failures + 1);
      const job = await queue.getJob(envelope.id);
      expect(job?.attemptsMade).toBe(failures + 1);
      const observed = failedAt.map((at, i) => startedAt[i + 1]! - at);
      const ceilings = [100, 200, 300, 300, 300];
      observed.forEach((delay, i) => {
        // Lower bound exact; the upper bound allows for BullMQ's promotion of delayed jobs.
        expect(delay).toBeGreaterThanOrEqual(ceilings[i]! * (1 - backoff.jitter) - 5);
        expect(delay).toBeLessThanOrEqual(ceilings[i]! + 120);
      });
      expect(observed[1]!).toBeGreaterThan(observed[0]!);
      expect(observed[2]!).toBeGreaterThan(observed[0]!);
      expect(await deadLetters()).toEqual([]);
    });
  });
});

describe('timeouts', () => {
  describe('when a handler hangs past its timeout', () => {
    it('aborts ctx.signal with a TimeoutError and retries the job', async () => {
      const reasons: unknown[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        timeoutMs: 200,
        backoff: { baseMs: 10 },
        handle: async (_event, ctx) => {
          if (ctx.attempt > 1) return;
          await new Promise<void>((_resolve, reject) => {
            ctx.signal.addEventListener(
              'abort',
              () => {
                reasons.push(ctx.signal.reason);
                reject(ctx.signal.reason as Error);
              },
              { once: true },
            );
          });
        },
      });
      const { publish, settled, queue } = await startWorker(harness, [handler]);
      const envelope = signedUp();
      const started = Date.now();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('completed');
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
      expect(reasons).toEqual([expect.any(TimeoutError)]);
      expect((await queue.getJob(envelope.id))?.attemptsMade).toBe(2);
    });
  });

  describe('when a handler ignores the signal', () => {
    it('still frees its slot: the next job runs on a worker of concurrency 1', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      harness.cleanups.push(() => Promise.resolve(release()));
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        timeoutMs: 200,
        attempts: 1,
        handle: async (event) => {
          if (event.data.userId === 'u_stuck') await gate;
        },
      });
      const { publish, settled, deadLetters } = await startWorker(harness, [handler], {
        concurrency: 1,
      });
      const stuck = signedUp('u_stuck');
      const next = signedUp('u_next');

      await publish(stuck);
      await publish(next);

      expect(await settled(next.id, 5_000)).toBe('completed');
      expect(await settled(stuck.id)).toBe('failed');
      expect(await deadLetters()).toEqual([
        expect.objectContaining({
          reason: 'attempts_exhausted',
          errors: [expect.objectContaining({ code: 'SY_ERR_TIMEOUT' })],
        }),
      ]);
    });
  });
});

describe('rate limits', () => {
  describe.each([
    ['RateLimitedError', () => new RateLimitedError('slow down', 600)],
    [
      'DownstreamRateLimitedError',
      () => new DownstreamRateLimitedError('POST /email: 429', 429, 600),
    ],
  ])('when a handler throws %s with retryAfter 600 ms', (_name, error) => {
    it('makes the queue wait at least that long and does not count the attempt', async () => {
      const calls: { at: number; attempt: number }[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        attempts: 1,
        handle: async (_event, ctx) => {
          calls.push({ at: Date.now(), attempt: ctx.attempt });
          await Promise.resolve();
          if (calls.length === 1) throw error();
        },
      });
      const { publish, settled, queue } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('completed');
      expect(calls.map((call) => call.attempt)).toEqual([1, 1]);
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(590);
      // attempts: 1 and it completed: the rate-limited try was not counted.
      expect((await queue.getJob(envelope.id))?.attemptsMade).toBe(1);
    });
  });

  it('holds back other jobs of the queue too', async () => {
    const calls: { id: string; at: number }[] = [];
    const handler = defineHandler({
      subscriber: 'notifications',
      event: 'user.signed_up',
      handle: async (event) => {
        calls.push({ id: event.data.userId, at: Date.now() });
        await Promise.resolve();
        if (calls.length === 1) throw new RateLimitedError('slow down', 500);
      },
    });
    const { publish, settled } = await startWorker(harness, [handler], { concurrency: 1 });
    const first = signedUp('u_first');
    await publish(first);
    await waitFor(() => calls.length === 1, { message: 'first call' });
    const second = signedUp('u_second');
    await publish(second);

    expect(await settled(second.id)).toBe('completed');
    expect(await settled(first.id)).toBe('completed');
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(490);
  });

  describe('when two workers serve the queue', () => {
    it('a 429 seen by one makes the other make no call during the wait', async () => {
      const calls: { worker: string; at: number }[] = [];
      let limitedAt = 0;
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        backoff: { baseMs: 10, maxMs: 10 },
        handle: async (_event, ctx) => {
          calls.push({ worker: ctx.workerId, at: Date.now() });
          await Promise.resolve();
          if (calls.length === 1) {
            limitedAt = Date.now();
            throw new DownstreamRateLimitedError('POST /email: 429', 429, 1_000);
          }
        },
      });
      const one = await startWorker(harness, [handler], { concurrency: 1, workerId: 'one' });
      await startWorker(harness, [handler], {
        concurrency: 1,
        workerId: 'two',
        prefix: one.prefix,
      });
      const first = signedUp('u_first');
      await one.publish(first);
      // The limiter key also counts started jobs; a rate limit sets it to a count no limiter allows.
      const limiter = one.queue.toKey('limiter');
      await waitFor(async () => Number(await harness.client.get(limiter)) > 1e12, {
        message: 'the queue is rate limited',
      });
      const others = [signedUp('u_a'), signedUp('u_b'), signedUp('u_c')];
      for (const envelope of others) await one.publish(envelope);

      for (const envelope of [first, ...others]) {
        expect(await one.settled(envelope.id)).toBe('completed');
      }
      // Neither worker, not only the one that got the 429, called during the wait.
      expect(calls.slice(1).filter((call) => call.at < limitedAt + 950)).toEqual([]);
    });
  });

  describe('when the sandbox answers 429 with Retry-After: 1', () => {
    it('waits that long before the next call and completes on attempt 1', async () => {
      const sandbox = createHttpClient({ baseUrl: harness.sandbox.url, timeoutMs: 5_000 });
      const attempts: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        attempts: 1,
        backoff: { baseMs: 10, maxMs: 10 },
        handle: async (event, ctx) => {
          attempts.push(ctx.attempt);
          await sandbox.post(
            '/email',
            { userId: event.data.userId },
            { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal },
          );
        },
      });
      harness.cleanups.push(async () => {
        await harness.sandbox.control({ status429Rate: 0 });
        await harness.sandbox.reset();
      });
      await harness.sandbox.reset();
      await harness.sandbox.control({ status429Rate: 1, retryAfterSeconds: 1 });
      const { publish, settled, queue, registry } = await startWorker(harness, [handler]);
      const envelope = signedUp('u_429');
      const status429 = async () =>
        (
          (await (await fetch(`${harness.sandbox.url}/control`)).json()) as {
            stats: { status429: number };
          }
        ).stats.status429;
      const before = await status429();

      await publish(envelope);
      // Seen at most one poll after the 429 was answered: the gap below is an underestimate.
      await waitFor(async () => (await status429()) > before, {
        intervalMs: 10,
        message: 'the sandbox answered 429',
      });
      const limitedAt = Date.now();
      await harness.sandbox.control({ status429Rate: 0 });

      expect(await settled(envelope.id)).toBe('completed');
      const [call] = await harness.sandbox.ledger();
      const gapMs = Date.parse(call!.firstAt) - limitedAt;
      console.log('429 Retry-After 1 s: gap from the 429 to the accepted call (ms):', gapMs);
      expect(gapMs).toBeGreaterThanOrEqual(1_000 - 50);
      expect(call).toMatchObject({ idempotencyKey: envelope.idempotencyKey, repeats: 0 });
      // attempts: 1, yet it completed: the 429 spent no attempt.
      expect(attempts).toEqual([1, 1]);
      expect((await queue.getJob(envelope.id))?.attemptsMade).toBe(1);
      expect(await registry.metrics()).toMatch(
        /^sy_rate_limit_waits_total\{queue="notifications",cause="retry_after"[^}]*\} 1$/m,
      );
    });
  });

  describe('when the queue meta lost its rate limit (removed by hand)', () => {
    it('a Retry-After still holds the queue: the hold restores the unbounded limit', async () => {
      const calls: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        attempts: 1,
        backoff: { baseMs: 10, maxMs: 10 },
        handle: async () => {
          calls.push(Date.now());
          await Promise.resolve();
          if (calls.length === 1) throw new RateLimitedError('slow down', 600);
        },
      });
      const { publish, settled, queue } = await startWorker(harness, [handler]);
      await queue.removeGlobalRateLimit();
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('completed');
      expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(590);
      expect(await queue.getGlobalRateLimit()).toEqual({ max: 1_000_000_000, duration: 1_000 });
    });
  });

  describe('when a later Retry-After is shorter than the wait already set', () => {
    it('keeps the longer wait', async () => {
      let release: (() => void) | undefined;
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        backoff: { baseMs: 10, maxMs: 10 },
        handle: async () => {
          await new Promise<void>((resolve) => (release = resolve));
          throw new RateLimitedError('slow down', 100);
        },
      });
      const { publish, queue, lines } = await startWorker(harness, [handler]);
      await publish(signedUp());
      await waitFor(() => release !== undefined, { message: 'handler running' });
      // Another replica's 429 asked for 3 s meanwhile.
      const limiter = queue.toKey('limiter');
      await harness.client.set(limiter, String(Number.MAX_SAFE_INTEGER), 'PX', 3_000);
      release!();
      await waitFor(() => lines.some((line) => line.msg === 'rate limited; the queue waits'), {
        message: 'rate limited',
      });
      await sleep(50);

      expect(await harness.client.pttl(limiter)).toBeGreaterThan(2_000);
    });
  });

  describe('when Retry-After is 0', () => {
    it('waits the backoff delay instead of retrying at once', async () => {
      const calls: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        backoff: { baseMs: 200, maxMs: 1_000, jitter: 0 },
        handle: async () => {
          calls.push(Date.now());
          await Promise.resolve();
          if (calls.length <= 2) throw new DownstreamRateLimitedError('429', 429, 0);
        },
      });
      const { publish, settled } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      await publish(envelope);

      expect(await settled(envelope.id)).toBe('completed');
      expect(calls).toHaveLength(3);
      // Bounce 1 waits backoff(1) = 200 ms, bounce 2 waits backoff(2) = 400 ms.
      expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(190);
      expect(calls[2]! - calls[1]!).toBeGreaterThanOrEqual(390);
    });
  });
});

describe('jobs added without the switchyard backoff', () => {
  describe.each([
    ['no backoff at all', undefined],
    ['a custom backoff type of their own', { type: 'their-own' }],
  ])('when a job has %s', (_name, backoff) => {
    it('retries after the capped backoff delay, not at once', async () => {
      const calls: number[] = [];
      const handler = defineHandler({
        subscriber: 'notifications',
        event: 'user.signed_up',
        backoff: { baseMs: 300, maxMs: 300, jitter: 0 },
        handle: async () => {
          calls.push(Date.now());
          await Promise.resolve();
          if (calls.length <= 2) throw new TransientError('try again');
        },
      });
      const { queue, settled } = await startWorker(harness, [handler]);
      const envelope = signedUp();

      // Added by hand: only attempts (and maybe a backoff of another kind).
      await queue.add(envelope.type, envelope, {
        jobId: envelope.id,
        attempts: 3,
        ...(backoff ? { backoff } : {}),
      });

      expect(await settled(envelope.id)).toBe('completed');
      expect(calls).toHaveLength(3);
      expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(290);
      expect(calls[2]! - calls[1]!).toBeGreaterThanOrEqual(290);
    });
  });
});
