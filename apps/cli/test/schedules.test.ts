import { describe, expect, it } from 'vitest';
import { scheduleLastRunsKey, scheduleQueueNameOf } from '@switchyard/runtime';
import type { ScheduleInfo } from '../src/index.js';
import { parseJson, useCliHarness } from './support/cli-harness.js';

const cli = useCliHarness();

/**
 * Schedulers as the runtime upserts them (schedule-runner.ts: id = job name =
 * schedule name on `<subscriber>.schedules`): billing every minute,
 * notifications on a cron.
 */
async function seedSchedulers(): Promise<void> {
  const billing = cli.queue(scheduleQueueNameOf('billing'));
  await billing.upsertJobScheduler(
    'dunning-sweep',
    { every: 60_000 },
    { name: 'dunning-sweep', data: { subscriber: 'billing', schedule: 'dunning-sweep' } },
  );
  const notifications = cli.queue(scheduleQueueNameOf('notifications'));
  await notifications.upsertJobScheduler(
    'digest',
    { pattern: '0 3 * * *', tz: 'Europe/Berlin' },
    { name: 'digest', data: { subscriber: 'notifications', schedule: 'digest' } },
  );
  await cli.admin.hset(
    scheduleLastRunsKey(cli.prefix(), 'billing'),
    'dunning-sweep',
    JSON.stringify({
      scheduledAt: '2030-01-31T03:00:00.000Z',
      finishedAt: '2030-01-31T03:00:01.000Z',
      outcome: 'succeeded',
      workerId: 'worker-billing-1',
    }),
  );
}

describe('sy schedules', () => {
  describe('with --json', () => {
    it("lists every subscriber's schedulers with rate or cron, next and last run", async () => {
      await seedSchedulers();
      const { code, stdout, stderr } = await cli.run(['schedules', '--json']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const { schedules } = parseJson<{ schedules: ScheduleInfo[] }>(stdout);
      const byName = Object.fromEntries(schedules.map((s) => [s.name, s]));
      expect(schedules).toHaveLength(2);
      expect(byName['dunning-sweep']).toMatchObject({
        subscriber: 'billing',
        every: 60_000,
        cron: null,
        lastRun: { outcome: 'succeeded', scheduledAt: '2030-01-31T03:00:00.000Z' },
      });
      expect(Date.parse(byName['dunning-sweep']!.nextRunAt!)).not.toBeNaN();
      expect(byName.digest).toMatchObject({
        subscriber: 'notifications',
        every: null,
        cron: '0 3 * * *',
        tz: 'Europe/Berlin',
        lastRun: null,
      });
    });
  });

  it('prints a table without --json', async () => {
    await seedSchedulers();
    const { code, stdout } = await cli.run(['schedules']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^SUBSCRIBER\s+NAME\s+EVERY\/CRON/);
    expect(stdout).toMatch(/billing\s+dunning-sweep\s+60000ms/);
    expect(stdout).toMatch(/notifications\s+digest\s+0 3 \* \* \* \(Europe\/Berlin\)/);
  });

  describe('rm', () => {
    it('removes the scheduler and its last-run record', async () => {
      await seedSchedulers();
      const removed = await cli.run(['schedules', 'rm', 'billing', 'dunning-sweep']);
      expect(removed.stderr).toBe('');
      expect(removed.code).toBe(0);
      const { schedules } = parseJson<{ schedules: ScheduleInfo[] }>(
        (await cli.run(['schedules', '--json'])).stdout,
      );
      expect(schedules.map((s) => s.name)).toEqual(['digest']);
      expect(await cli.admin.hgetall(scheduleLastRunsKey(cli.prefix(), 'billing'))).toEqual({});
    });

    it('fails (exit 1) for a schedule that does not exist', async () => {
      const { code, stderr } = await cli.run(['schedules', 'rm', 'billing', 'nope']);
      expect(code).toBe(1);
      expect(stderr).toContain('no schedule "nope" for subscriber "billing"');
    });

    it('refuses (exit 2) an unknown subscriber or a missing name', async () => {
      expect((await cli.run(['schedules', 'rm', 'payroll', 'x'])).code).toBe(2);
      expect((await cli.run(['schedules', 'rm', 'billing'])).code).toBe(2);
    });
  });
});
