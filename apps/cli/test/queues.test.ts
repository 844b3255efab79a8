import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { realClock, type QueueStats } from '../src/index.js';
import { parseJson, useCliHarness } from './support/cli-harness.js';

const cli = useCliHarness();

/** provisioning: 2 completed, 1 failed; notifications: 3 waiting, 1 prioritized, 1 due and 1 future delayed; billing.dlq: 2 entries. */
async function seedKnownCounts(): Promise<void> {
  const provisioning = cli.queue('provisioning');
  await provisioning.add('ok', {}, { jobId: 'ok-1' });
  await provisioning.add('ok', {}, { jobId: 'ok-2' });
  await provisioning.add('bad', {}, { jobId: 'bad-1', attempts: 1 });
  let settled = 0;
  const connection = cli.admin.duplicate();
  const worker = new Worker(
    'provisioning',
    (job) => {
      if (job.name === 'bad') throw new Error('nope');
      return Promise.resolve();
    },
    { connection, prefix: cli.prefix() },
  );
  worker.on('completed', () => (settled += 1));
  worker.on('failed', () => (settled += 1));
  while (settled < 3) await sleep(20);
  await worker.close();
  await connection.quit();

  const notifications = cli.queue('notifications');
  for (const id of ['w-1', 'w-2', 'w-3'])
    await notifications.add('user.signed_up', {}, { jobId: id });
  await notifications.add('user.signed_up', {}, { jobId: 'p-1', priority: 5 });
  await notifications.add('user.signed_up', {}, { jobId: 'd-due', delay: 1 });
  await notifications.add('user.signed_up', {}, { jobId: 'd-later', delay: 3_600_000 });
  await sleep(20);

  await cli.deadLetters('billing', [{}, {}]);
  await cli.queue('billing.schedules').add('dunning-sweep', {}, { jobId: 'tick-1' });
}

describe('sy queues', () => {
  describe('with --json', () => {
    it('reports counts, backlog, oldest waiting age, last-minute completions and paused flag per queue', async () => {
      await seedKnownCounts();
      // The clock says 90 s have passed since the jobs were added.
      const clock = { ...realClock, now: () => Date.now() + 90_000 };
      const { code, stdout, stderr } = await cli.run(['queues', '--json'], { clock });
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const { queues } = parseJson<{ queues: QueueStats[] }>(stdout);
      expect(queues.map((q) => q.queue)).toEqual([
        'notifications',
        'notifications.dlq',
        'notifications.schedules',
        'provisioning',
        'provisioning.dlq',
        'provisioning.schedules',
        'billing',
        'billing.dlq',
        'billing.schedules',
      ]);
      const byName = Object.fromEntries(queues.map((q) => [q.queue, q]));
      expect(byName.notifications).toMatchObject({
        paused: false,
        counts: { waiting: 3, prioritized: 1, delayed: 2, active: 0, completed: 0, failed: 0 },
        dueDelayed: 1,
        backlog: 5,
        completedLastMinute: 0,
      });
      expect(byName.notifications!.oldestWaitingAgeMs).toBeGreaterThanOrEqual(90_000);
      expect(byName.notifications!.oldestWaitingAgeMs).toBeLessThan(120_000);
      // 90 s later the two completions are outside the last minute.
      expect(byName.provisioning).toMatchObject({
        counts: { completed: 2, failed: 1, waiting: 0 },
        backlog: 0,
        oldestWaitingAgeMs: null,
        completedLastMinute: 0,
      });
      expect(byName['billing.dlq']).toMatchObject({
        paused: true,
        counts: { waiting: 2 },
        kind: 'dead-letter',
      });
      expect(byName['billing.schedules']).toMatchObject({
        paused: false,
        counts: { waiting: 1 },
        backlog: 1,
        kind: 'schedules',
        subscriber: 'billing',
      });
    });

    it('counts completions of the last minute from the completed set', async () => {
      await seedKnownCounts();
      const { stdout } = await cli.run(['queues', '--json']);
      const provisioning = parseJson<{ queues: QueueStats[] }>(stdout).queues.find(
        (q) => q.queue === 'provisioning',
      );
      expect(provisioning?.completedLastMinute).toBe(2);
    });
  });

  describe('without --json', () => {
    it('prints an aligned table with one row per queue', async () => {
      await seedKnownCounts();
      const { code, stdout } = await cli.run(['queues']);
      expect(code).toBe(0);
      const lines = stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(10);
      expect(lines[0]).toMatch(
        /^QUEUE\s+PAUSED\s+WAITING\s+ACTIVE\s+DELAYED\s+PRIORITIZED\s+COMPLETED\s+FAILED\s+BACKLOG\s+OLDEST\s+DONE\/MIN$/,
      );
      // Aligned: every row has its BACKLOG column end where the header's does.
      const backlogEnd = lines[0]!.indexOf('BACKLOG') + 'BACKLOG'.length;
      const notifications = lines.find((line) => line.startsWith('notifications '))!;
      expect(notifications.slice(0, backlogEnd)).toMatch(
        /notifications\s+no\s+3\s+0\s+2\s+1\s+0\s+0\s+5$/,
      );
      expect(lines.find((line) => line.startsWith('billing.dlq'))).toMatch(
        /^billing\.dlq\s+yes\s+2\s/,
      );
      expect(lines.find((line) => line.startsWith('billing.schedules'))).toMatch(
        /^billing\.schedules\s+no\s+1\s/,
      );
    });
  });
});
