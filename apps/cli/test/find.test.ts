import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisPublisher, type FoundJob } from '@switchyard/client';
import { waitReady } from '@switchyard/testkit';
import { parseJson, useCliHarness } from './support/cli-harness.js';

const cli = useCliHarness();

interface FindAnswer {
  id: string;
  jobs: FoundJob[];
}

/** Publishes through the client, as the producer does, with every id set. */
async function publishSignedUp(
  userId: string,
  ids: { tenantId: string; correlationId: string; key: string },
) {
  const connection = new Redis(cli.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const publisher = createRedisPublisher({ connection, prefix: cli.prefix() });
  try {
    await waitReady(connection);
    return await publisher.publish(
      {
        type: 'user.signed_up',
        version: 1,
        data: { userId, email: `${userId}@example.com`, plan: 'pro' },
        tenantId: ids.tenantId,
        correlationId: ids.correlationId,
      },
      { idempotencyKeyHeader: ids.key },
    );
  } finally {
    await publisher.close();
    connection.disconnect();
  }
}

describe('sy find', () => {
  it('locates an event in every subscriber queue by each of its ids', async () => {
    const published = await publishSignedUp('u_1', {
      tenantId: 'acme',
      correlationId: 'checkout-42',
      key: 'signup-u_1',
    });
    const expected = ['notifications', 'provisioning'];
    for (const [kind, id] of [
      ['eventId', published.eventId],
      ['correlationId', 'checkout-42'],
      ['idempotencyKey', 'signup-u_1'],
      ['tenantId', 'acme'],
    ] as const) {
      const { code, stdout, stderr } = await cli.run(['find', id, '--json']);
      expect(stderr, kind).toBe('');
      expect(code, kind).toBe(0);
      const answer = parseJson<FindAnswer>(stdout);
      expect(answer.id).toBe(id);
      expect(answer.jobs.map((job) => job.queue).sort(), kind).toEqual(expected);
      for (const job of answer.jobs) {
        expect(job).toMatchObject({
          jobId: published.eventId,
          state: 'waiting',
          deadLetter: false,
          matchedBy: [kind],
          eventType: 'user.signed_up',
          tenantId: 'acme',
          correlationId: 'checkout-42',
          idempotencyKey: 'signup-u_1',
        });
      }
    }
  });

  it('finds what sy publish published, and prints a table', async () => {
    const published = await cli.run([
      'publish',
      'payment.failed',
      '--tenant',
      'globex',
      '--data',
      JSON.stringify({
        userId: 'u_2',
        invoiceId: 'inv_2',
        amountCents: 500,
        currency: 'EUR',
        reason: 'card_declined',
      }),
      '--json',
    ]);
    expect(published.code).toBe(0);
    const { eventId } = parseJson<{ eventId: string }>(published.stdout);
    const { code, stdout } = await cli.run(['find', eventId]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^QUEUE\s+JOB ID\s+STATE\s+MATCHED BY\s+TYPE\s+TENANT\s+ATTEMPTS\s+AGE$/,
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^billing\\s+${eventId}\\s+waiting\\s+eventId,correlationId\\s+payment\\.failed\\s+globex\\s+0\\s+\\d+(ms|s)$`,
      ),
    );
    expect(lines).toHaveLength(2);
  });

  it('narrows with --kind and --limit', async () => {
    for (let i = 0; i < 3; i += 1) {
      await publishSignedUp(`u_${i}`, { tenantId: 'acme', correlationId: `c-${i}`, key: `k-${i}` });
    }
    const all = parseJson<FindAnswer>((await cli.run(['find', 'acme', '--json'])).stdout);
    expect(all.jobs).toHaveLength(6);
    const limited = parseJson<FindAnswer>(
      (await cli.run(['find', 'acme', '--kind', 'tenantId', '--limit', '2', '--json'])).stdout,
    );
    expect(limited.jobs).toHaveLength(2);
    const otherKind = await cli.run([
      'find',
      'acme',
      '--kind',
      'eventId',
      '--kind',
      'idempotencyKey',
    ]);
    expect(otherKind.code).toBe(1);
    expect(otherKind.stderr).toBe(
      'sy: no job found for "acme" as eventId or idempotencyKey (the index keeps queue jobs for the idempotency window, DLQ entries 30 days)\n',
    );
  });

  it('ignores whitespace around the id, as the dashboard does', async () => {
    const published = await publishSignedUp('u_1', {
      tenantId: 'acme',
      correlationId: 'c-1',
      key: 'k-1',
    });
    const { code, stdout } = await cli.run(['find', `  ${published.eventId}\n`, '--json']);
    expect(code).toBe(0);
    const answer = parseJson<FindAnswer>(stdout);
    expect(answer.id).toBe(published.eventId);
    expect(answer.jobs).toHaveLength(2);
  });

  it('exits 3 with the answer of Redis when it refuses the search, never "no job found"', async () => {
    await publishSignedUp('u_1', { tenantId: 'acme', correlationId: 'c-1', key: 'k-1' });
    // A user that may not read sorted sets: every index lookup is refused (NOPERM).
    const user = `find-${Math.random().toString(36).slice(2)}`;
    await cli.admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '+@all', '-zrevrange');
    try {
      const url = cli.url.replace('redis://', `redis://${user}:pw@`);
      for (const json of [false, true]) {
        const run = await cli.run(['find', 'acme', ...(json ? ['--json'] : [])], {
          env: { REDIS_URL: url, QUEUE_PREFIX: cli.prefix() },
        });
        expect(run.code).toBe(3);
        expect(run.stdout).toBe('');
        expect(run.stderr).toMatch(/^sy: Redis at redis:\/\/.+ answered an error: NOPERM .*\n$/);
        expect(run.stderr).not.toContain(':pw@');
      }
    } finally {
      await cli.admin.call('ACL', 'DELUSER', user);
    }
  });

  it('exits 1 when nothing is found (an empty list with --json), 2 for bad arguments', async () => {
    const text = await cli.run(['find', 'nothing-here']);
    expect(text).toMatchObject({ code: 1, stdout: '' });
    expect(text.stderr).toMatch(/^sy: no job found for "nothing-here"/);
    const json = await cli.run(['find', 'nothing-here', '--json']);
    expect(json.code).toBe(1);
    expect(parseJson<FindAnswer>(json.stdout)).toEqual({ id: 'nothing-here', jobs: [] });
    // An odd id is only ever looked up, never interpreted.
    expect((await cli.run(['find', '*', '--json'])).code).toBe(1);
    expect((await cli.run(['find', 'x'.repeat(5_000)])).code).toBe(1);

    expect(await cli.run(['find'])).toMatchObject({
      code: 2,
      stderr: 'sy: find: missing <id> (see sy find --help)\n',
    });
    const badKind = await cli.run(['find', 'x', '--kind', 'jobId']);
    expect(badKind).toMatchObject({ code: 2 });
    expect(badKind.stderr).toMatch(/--kind "jobId" is not one of eventId, correlationId/);
    expect((await cli.run(['find', 'x', '--limit', '501'])).code).toBe(2);
  });
});
