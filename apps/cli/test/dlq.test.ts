import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '@switchyard/runtime';
import { day, parseJson, useCliHarness } from './support/cli-harness.js';

const cli = useCliHarness();

interface ListAnswer {
  total: number;
  entries: { id: string; record: DeadLetterRecord }[];
}

/** Five billing entries on days 1..5 of differing reason, type and tenant. */
async function seedFive(): Promise<DeadLetterRecord[]> {
  return cli.deadLetters('billing', [
    { reason: 'attempts_exhausted', type: 'payment.failed', tenantId: 'acme', failedAt: day(1) },
    { reason: 'permanent', type: 'payment.failed', tenantId: 'acme', failedAt: day(2) },
    { reason: 'schema_invalid', type: 'payment.failed', tenantId: 'globex', failedAt: day(3) },
    { reason: 'attempts_exhausted', type: 'user.signed_up', failedAt: day(4) },
    { reason: 'attempts_exhausted', type: 'payment.failed', tenantId: 'acme', failedAt: day(5) },
  ]);
}

const dlqIds = async (subscriber: string) =>
  (await cli.queue(`${subscriber}.dlq`).getJobs(['waiting'], 0, -1, true)).map((job) => job.id);

describe('sy dlq ls', () => {
  it('lists every entry oldest first, as a table and as JSON', async () => {
    const records = await seedFive();
    const table = await cli.run(['dlq', 'ls', 'billing']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+FAILED AT\s+REASON\s+TYPE\s+TENANT\s+ATTEMPTS\s+LAST ERROR$/);
    expect(lines.slice(1, 6).map((line) => line.split(/\s+/)[0])).toEqual(
      records.map((r) => r.eventId),
    );
    expect(lines[6]).toBe('1-5 of 5 matching in billing.dlq');

    const json = parseJson<ListAnswer>((await cli.run(['dlq', 'ls', 'billing', '--json'])).stdout);
    expect(json.total).toBe(5);
    expect(json.entries.map((e) => e.record.failedAt)).toEqual([
      day(1),
      day(2),
      day(3),
      day(4),
      day(5),
    ]);
  });

  it('applies reason, type, tenant, since/until filters with limit and offset', async () => {
    const records = await seedFive();
    const ls = async (...flags: string[]) =>
      parseJson<ListAnswer>((await cli.run(['dlq', 'ls', 'billing', '--json', ...flags])).stdout);

    const exhaustedPayments = await ls(
      '--reason',
      'attempts_exhausted',
      '--type',
      'payment.failed',
    );
    expect(exhaustedPayments.entries.map((e) => e.id)).toEqual([
      records[0]!.eventId,
      records[4]!.eventId,
    ]);
    const twoReasons = await ls('--reason', 'permanent', '--reason', 'schema_invalid');
    expect(twoReasons.total).toBe(2);
    expect((await ls('--tenant', 'acme')).total).toBe(3);
    const window = await ls('--since', day(2), '--until', day(4));
    expect(window.entries.map((e) => e.record.failedAt)).toEqual([day(2), day(3)]);
    const page = await ls('--limit', '2', '--offset', '1');
    expect(page).toMatchObject({ total: 5 });
    expect(page.entries.map((e) => e.id)).toEqual([records[1]!.eventId, records[2]!.eventId]);
  });

  it('refuses a bad filter value or an unknown subscriber with exit 2', async () => {
    const badReason = await cli.run(['dlq', 'ls', 'billing', '--reason', 'bored']);
    expect(badReason.code).toBe(2);
    expect(badReason.stderr).toMatch(/^sy: --reason "bored" is not one of permanent, /);
    const badDate = await cli.run(['dlq', 'ls', 'billing', '--since', 'yesterday']);
    expect(badDate).toMatchObject({
      code: 2,
      stderr:
        'sy: --since "yesterday" is not an ISO 8601 date: use e.g. 2030-01-31 or 2030-01-31T14:30:00Z\n',
    });
    // Strings Date would read anyway are refused too: a year, prose, a rolled-over day, no zone.
    for (const [flag, value] of [
      ['--since', '2030'],
      ['--until', 'March 7, 2030'],
      ['--since', '1'],
      ['--until', '2030-02-31'],
      ['--since', '2030-01-01T24:00:00Z'],
      ['--since', '2030/01/01'],
    ]) {
      const refused = await cli.run(['dlq', 'purge', 'billing', flag!, value!, '--dry-run']);
      expect(refused.code, value).toBe(2);
      expect(refused.stderr, value).toMatch(/is not an ISO 8601 date/);
    }
    const zoneless = await cli.run(['dlq', 'ls', 'billing', '--until', '2030-01-01T10:00:00']);
    expect(zoneless).toMatchObject({ code: 2 });
    expect(zoneless.stderr).toMatch(/with a zone \(add Z or an offset such as \+02:00\)/);
    for (const accepted of ['2030-01-03', '2030-01-03T00:00Z', '2030-01-03T01:00:00.5+01:00']) {
      expect((await cli.run(['dlq', 'ls', 'billing', '--since', accepted])).code, accepted).toBe(0);
    }
    const unknown = await cli.run(['dlq', 'ls', 'shipping']);
    expect(unknown).toMatchObject({
      code: 2,
      stderr: 'sy: unknown subscriber "shipping" (known: notifications, provisioning, billing)\n',
    });
  });
});

describe('sy dlq show', () => {
  it('prints one entry with its errors and event, or its record as JSON', async () => {
    const [record] = await cli.deadLetters('notifications', [{ tenantId: 'acme' }]);
    const text = await cli.run(['dlq', 'show', 'notifications', record!.eventId!]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`event id:        ${record!.eventId}`);
    expect(text.stdout).toContain('reason:          attempts_exhausted');
    expect(text.stdout).toMatch(/#1 \S+ SY_ERR_TEST Error: boom \d+/);
    expect(text.stdout).toContain('"email": "u_');
    const json = await cli.run(['dlq', 'show', 'notifications', record!.eventId!, '--json']);
    expect(parseJson<{ record: DeadLetterRecord }>(json.stdout).record).toEqual(record);
  });

  it('exits 1 for an id that is not in the DLQ', async () => {
    await cli.deadLetters('notifications', [{}]);
    const { code, stderr } = await cli.run(['dlq', 'show', 'notifications', 'nope']);
    expect(code).toBe(1);
    expect(stderr).toBe('sy: no entry "nope" in notifications.dlq\n');
  });
});

describe('sy dlq replay', () => {
  // The paced 1,000-entry replay with a worker re-processing each entry is in
  // worker-process.test.ts (the built bin against a worker app process).

  it('replays only the named ids and the filtered entries', async () => {
    const records = await seedFive();
    const byId = await cli.run(['dlq', 'replay', 'billing', records[1]!.eventId!, '--json']);
    expect(byId.code).toBe(0);
    expect(parseJson<{ replayed: number }>(byId.stdout).replayed).toBe(1);
    const byFilter = await cli.run([
      'dlq',
      'replay',
      'billing',
      '--tenant',
      'acme',
      '--rate',
      '1000',
    ]);
    expect(byFilter.stdout).toMatch(/^replayed 2 of 2 selected/);
    expect(await dlqIds('billing')).toEqual([records[2]!.eventId, records[3]!.eventId]);
  });

  it('changes nothing with --dry-run', async () => {
    const records = await seedFive();
    const { code, stdout } = await cli.run(['dlq', 'replay', 'billing', '--all', '--dry-run']);
    expect(code).toBe(0);
    expect(stdout).toBe('dry run: 5 entries of billing.dlq would be replayed into billing\n');
    expect(await dlqIds('billing')).toEqual(records.map((r) => r.eventId));
    expect(await cli.queue('billing').count()).toBe(0);
  });

  it('needs ids, a filter or --all, and reports missing ids with exit 1', async () => {
    await seedFive();
    const bare = await cli.run(['dlq', 'replay', 'billing']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/pass --all/);
    const missing = await cli.run(['dlq', 'replay', 'billing', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('missing nope');
    expect(await dlqIds('billing')).toHaveLength(5);
  });
});

describe('sy dlq purge', () => {
  it('refuses without --yes or --dry-run and removes nothing', async () => {
    await seedFive();
    const { code, stderr } = await cli.run(['dlq', 'purge', 'billing', '--all']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sy: dlq purge deletes entries for good: add --yes/);
    expect(await dlqIds('billing')).toHaveLength(5);
  });

  it('counts with --dry-run and removes the selection with --yes', async () => {
    const records = await seedFive();
    const dry = await cli.run([
      'dlq',
      'purge',
      'billing',
      '--reason',
      'attempts_exhausted',
      '--dry-run',
    ]);
    expect(dry).toMatchObject({
      code: 0,
      stdout: 'dry run: 3 entries of billing.dlq would be purged\n',
    });
    expect(await dlqIds('billing')).toHaveLength(5);
    const real = await cli.run([
      'dlq',
      'purge',
      'billing',
      '--reason',
      'attempts_exhausted',
      '--yes',
      '--json',
    ]);
    expect(real.code).toBe(0);
    expect(parseJson<{ purged: number }>(real.stdout).purged).toBe(3);
    expect(await dlqIds('billing')).toEqual([records[1]!.eventId, records[2]!.eventId]);
    expect(await cli.queue('billing').count()).toBe(0);
  });
});
