/**
 * The load generator's bookkeeping, against a scripted publish function:
 * what counts as accepted, what is retried with the same key, what is
 * recorded as shed or unknown. (The scenarios run it against real Redis and
 * the real producer.)
 */
import { BacklogFullError, RedisUnavailableError } from '@switchyard/client';
import { describe, expect, it } from 'vitest';
import { generateEvents, runLoad, type PublishFn } from '../src/load-generator.ts';

const answer = (key: string, status: 'accepted' | 'duplicate' = 'accepted') => ({
  eventId: `evt-${key}`,
  idempotencyKey: key,
  status,
  queues: ['notifications', 'provisioning'],
});

describe('generateEvents', () => {
  it('gives the same events for the same seed, and unique business ids', () => {
    const a = generateEvents({ seed: 42, count: 500, paymentFailedShare: 0.5 });
    const b = generateEvents({ seed: 42, count: 500, paymentFailedShare: 0.5 });
    expect(a).toEqual(b);
    expect(new Set(a.map((e) => e.businessId)).size).toBe(500);
    expect(new Set(a.map((e) => e.idempotencyKey)).size).toBe(500);
    expect(a.some((e) => e.type === 'payment.failed')).toBe(true);
    expect(generateEvents({ seed: 43, count: 500, paymentFailedShare: 0.5 })).not.toEqual(a);
  });
});

describe('runLoad', () => {
  it('retries an indeterminate answer with the same key and records the event accepted once', async () => {
    const calls: string[] = [];
    const publish: PublishFn = (_type, _data, { idempotencyKey }) => {
      calls.push(idempotencyKey);
      // Every first attempt "times out" after having been applied: the retry is answered 'duplicate'.
      if (calls.filter((k) => k === idempotencyKey).length === 1) {
        return Promise.reject(new RedisUnavailableError('timeout'));
      }
      return Promise.resolve(answer(idempotencyKey, 'duplicate'));
    };
    const record = await runLoad({ publish, count: 20, seed: 1, concurrency: 4 });
    expect(record.accepted).toHaveLength(20);
    expect(record.indeterminateAnswers).toBe(20);
    expect(record.accepted.every((e) => e.attempts === 2 && e.answeredDuplicate)).toBe(true);
    // Both calls of each event carried the same key.
    expect(calls).toHaveLength(40);
    expect(new Set(calls).size).toBe(20);
  });

  it('records an event whose answers stay indeterminate as unknown, not accepted', async () => {
    const publish: PublishFn = () => Promise.reject(new RedisUnavailableError('down'));
    const record = await runLoad({ publish, count: 3, seed: 1, maxAttempts: 2 });
    expect(record.accepted).toEqual([]);
    expect(record.unknown).toHaveLength(3);
    expect(record.indeterminateAnswers).toBe(6);
  });

  it('counts shed answers, and drops the event with onShed "count"', async () => {
    const shed = new BacklogFullError('full', {
      queue: 'notifications',
      backlog: 10,
      limit: 10,
      retryAfterSeconds: 1,
    });
    const publish: PublishFn = () => Promise.reject(shed);
    const record = await runLoad({ publish, count: 5, seed: 1, onShed: 'count' });
    expect(record.shed).toHaveLength(5);
    expect(record.shedAnswers).toBe(5);
    expect(record.accepted).toEqual([]);
  });

  it('retries a shed event after Retry-After with onShed "retry"', async () => {
    let first = true;
    const publish: PublishFn = (_type, _data, { idempotencyKey }) => {
      if (first) {
        first = false;
        return Promise.reject(
          new BacklogFullError('full', {
            queue: 'notifications',
            backlog: 10,
            limit: 10,
            retryAfterSeconds: 1,
          }),
        );
      }
      return Promise.resolve(answer(idempotencyKey));
    };
    const record = await runLoad({ publish, count: 1, seed: 1, maxShedWaitMs: 10 });
    expect(record.accepted).toHaveLength(1);
    expect(record.shedAnswers).toBe(1);
    expect(record.shed).toEqual([]);
  });

  it('records a refusal as refused', async () => {
    const publish: PublishFn = () =>
      Promise.reject(Object.assign(new Error('bad'), { code: 'SY_ERR_SCHEMA_INVALID' }));
    const record = await runLoad({ publish, count: 2, seed: 1 });
    expect(record.refused.map((r) => r.code)).toEqual([
      'SY_ERR_SCHEMA_INVALID',
      'SY_ERR_SCHEMA_INVALID',
    ]);
  });
});
