import { describe, expect, it } from 'vitest';
import { waitFor, WaitForTimeoutError } from '../src/index.js';

describe('waitFor', () => {
  describe('when the condition comes true', () => {
    it('resolves with the first value that is not undefined, null or false', async () => {
      const answers = [undefined, null, false, 0];
      let calls = 0;

      const value = await waitFor(() => answers[calls++], { intervalMs: 1 });

      expect(value).toBe(0);
      expect(calls).toBe(4);
    });

    it('treats a throw as "not yet"', async () => {
      let calls = 0;

      const value = await waitFor(
        () => {
          calls += 1;
          if (calls < 3) throw new Error('still starting');
          return Promise.resolve('up');
        },
        { intervalMs: 1 },
      );

      expect(value).toBe('up');
    });
  });

  describe('when the condition never comes true', () => {
    it('rejects with the message and the last error after timeoutMs', async () => {
      const startedAt = Date.now();

      const failure = waitFor(
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 200, intervalMs: 20, message: 'the queue to drain' },
      );

      await expect(failure).rejects.toBeInstanceOf(WaitForTimeoutError);
      await expect(failure).rejects.toMatchObject({
        code: 'SY_ERR_TESTKIT_WAIT_TIMEOUT',
        message: expect.stringMatching(
          /the queue to drain not met within 200 ms.*connection refused/,
        ) as unknown,
      });
      expect(Date.now() - startedAt).toBeLessThan(1_000);
    });

    it('cuts off an attempt that hangs at the deadline', async () => {
      const startedAt = Date.now();

      await expect(
        waitFor(() => new Promise<never>(() => undefined), { timeoutMs: 200 }),
      ).rejects.toBeInstanceOf(WaitForTimeoutError);
      expect(Date.now() - startedAt).toBeLessThan(1_000);
    });
  });
});
