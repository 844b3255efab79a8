import { describe, expect, it } from 'vitest';
import { readQueueLimits, readTenantLimits, writeQueueLimits } from '@switchyard/runtime';
import type { QueueLimitsReport } from '../src/commands/limits.js';
import { parseJson, useCliHarness } from './support/cli-harness.js';

const cli = useCliHarness();

const limitsOf = (queue: string) => readQueueLimits(cli.admin, { prefix: cli.prefix(), queue });
const tenantsOf = async (queue: string) =>
  Object.fromEntries(
    await readTenantLimits({ redis: cli.admin, prefix: cli.prefix(), queueName: queue }),
  );

describe('sy limits', () => {
  describe('get', () => {
    it('reports every subscriber queue, with what the workers configured', async () => {
      await writeQueueLimits(cli.admin, {
        prefix: cli.prefix(),
        queue: 'billing',
        rateLimit: { max: 20, durationMs: 1_000 },
        concurrency: 4,
        source: 'config',
        now: Date.parse('2030-01-01T00:00:00Z'),
      });
      const json = await cli.run(['limits', 'get', '--json']);
      expect(json.code).toBe(0);
      const { queues } = parseJson<{ queues: QueueLimitsReport[] }>(json.stdout);
      expect(queues.map((q) => q.queue)).toEqual(['notifications', 'provisioning', 'billing']);
      expect(queues[2]).toEqual({
        queue: 'billing',
        rateLimit: { max: 20, durationMs: 1_000 },
        concurrency: 4,
        source: 'config',
        updatedAt: Date.parse('2030-01-01T00:00:00Z'),
        tenants: {},
      });
      expect(queues[0]).toMatchObject({ rateLimit: null, concurrency: null, source: null });

      const text = await cli.run(['limits', 'get', 'billing']);
      expect(text.code).toBe(0);
      const lines = text.stdout.split('\n');
      expect(lines[0]).toMatch(/^QUEUE\s+RATE\s+CONCURRENCY\s+SET BY\s+UPDATED\s+WHO$/);
      expect(lines[1]).toMatch(/^billing\s+20\/s\s+4\s+config\s+2030-01-01T00:00:00\.000Z\s+-$/);
      expect(text.stdout).toContain('no tenant overrides');
    });
  });

  describe('set', () => {
    it('sets and removes the queue-wide rate limit and concurrency, marked as set from the CLI', async () => {
      const set = await cli.run([
        'limits',
        'set',
        'billing',
        '--rate',
        '6000/1m',
        '--concurrency',
        '5',
        '--by',
        'ops-alice',
      ]);
      expect(set.stderr).toBe('');
      expect(set.code).toBe(0);
      expect(set.stdout).toMatch(/^billing\s+6000\/m\s+5\s+cli\s+\S+Z\s+ops-alice$/m);
      expect(await limitsOf('billing')).toMatchObject({
        rateLimit: { max: 6000, durationMs: 60_000 },
        concurrency: 5,
        source: 'cli',
        by: 'ops-alice',
      });

      // Only what is named changes.
      await cli.run(['limits', 'set', 'billing', '--rate', '10/500ms']);
      expect(await limitsOf('billing')).toMatchObject({
        rateLimit: { max: 10, durationMs: 500 },
        concurrency: 5,
      });
      const off = await cli.run([
        'limits',
        'set',
        'billing',
        '--rate',
        'off',
        '--concurrency',
        'off',
        '--json',
      ]);
      expect(off.code).toBe(0);
      expect(parseJson<QueueLimitsReport>(off.stdout)).toMatchObject({
        queue: 'billing',
        rateLimit: null,
        concurrency: null,
        source: 'cli',
      });

      const back = await cli.run(['limits', 'set', 'billing', '--use-config']);
      expect(back.code).toBe(0);
      expect((await limitsOf('billing')).source).toBe('config');
    });

    it('sets, merges and clears tenant overrides', async () => {
      const set = await cli.run([
        'limits',
        'set',
        'notifications',
        '--tenant',
        'acme',
        '--tenant-rate',
        '5/s',
        '--tenant-burst',
        '10',
      ]);
      expect(set.code).toBe(0);
      expect(set.stdout).toMatch(/^notifications\s+acme\s+5\/s\s+10\s+-$/m);
      await cli.run([
        'limits',
        'set',
        'notifications',
        '--tenant',
        'acme',
        '--tenant-concurrency',
        '2',
      ]);
      await cli.run(['limits', 'set', 'notifications', '--tenant', '*', '--tenant-rate', '0.5']);
      expect(await tenantsOf('notifications')).toEqual({
        '*': { ratePerSecond: 0.5 },
        acme: { ratePerSecond: 5, burst: 10, concurrency: 2 },
      });
      const cleared = await cli.run([
        'limits',
        'set',
        'notifications',
        '--tenant',
        'acme',
        '--clear',
        '--json',
      ]);
      expect(parseJson<QueueLimitsReport>(cleared.stdout).tenants).toEqual({
        '*': { ratePerSecond: 0.5 },
      });
      // The queue-wide limits were not touched by tenant changes.
      expect((await limitsOf('notifications')).source).toBeNull();
    });

    it('refuses bad values with exit 2 and writes nothing', async () => {
      const refused: [string[], RegExp][] = [
        [['billing'], /nothing to change/],
        [['billing', '--rate', '100'], /--rate "100" must be <max>\/<duration>/],
        [['billing', '--rate', '0/1s'], /--rate "0\/1s"/],
        [['billing', '--rate', '5/1d'], /--rate "5\/1d"/],
        [['billing', '--concurrency', '0'], /--concurrency "0" must be an integer from 1/],
        [['billing', '--concurrency', '2.5'], /--concurrency "2.5"/],
        [['billing', '--use-config', '--rate', '1/s'], /cannot be combined/],
        [['billing', '--tenant-rate', '5'], /need --tenant/],
        [['billing', '--tenant', 'acme'], /or --clear \(not both\)/],
        [['billing', '--tenant', 'acme', '--clear', '--tenant-burst', '1'], /not both/],
        [['billing', '--tenant', 'a b', '--clear'], /--tenant "a b" must be/],
        [['billing', '--tenant', 'acme', '--tenant-rate', '0.0001'], /--tenant-rate "0.0001"/],
        [['billing', '--tenant', 'acme', '--tenant-burst=-1'], /--tenant-burst "-1"/],
        [['billing.dlq', '--rate', '1/s'], /unknown subscriber "billing.dlq"/],
        [['shipping', '--rate', '1/s'], /unknown subscriber "shipping"/],
      ];
      for (const [args, message] of refused) {
        const { code, stderr } = await cli.run(['limits', 'set', ...args]);
        expect(code, args.join(' ')).toBe(2);
        expect(stderr, args.join(' ')).toMatch(message);
      }
      expect(await limitsOf('billing')).toMatchObject({ rateLimit: null, source: null });
      expect(await tenantsOf('billing')).toEqual({});
    });
  });
});
