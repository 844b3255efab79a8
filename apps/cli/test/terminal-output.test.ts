/**
 * Text from Redis reaches a terminal: failure reasons carry downstream
 * bodies, ids and tenants come from job data. None of it may write a control
 * sequence (move the cursor, recolour, retitle, clear the screen).
 */
import { describe, expect, it } from 'vitest';
import { indexJobs } from '@switchyard/client';
import { createDeadLetterRecord, deadLetterJobId, deadLetterJobOptions } from '@switchyard/runtime';
import { numberedEnvelope } from '@switchyard/testkit';
import { formatTable, oneLine, printable } from '../src/format.js';
import { parseJson, useCliHarness } from './support/cli-harness.js';

const cli = useCliHarness();

/** An OSC retitle, a screen clear, an 8-bit CSI, a bidi override and a bell. */
const hostile = 'HTTP 500: \u001b]0;owned\u0007\u001b[2J\u009b31mred\u202eevil\u0000';
/** Anything a terminal acts on, other than the newlines between lines. */
const controls =
  // eslint-disable-next-line no-control-regex -- looking for control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('terminal output', () => {
  it('oneLine, printable and formatTable replace every control character with ?', () => {
    expect(printable('a\u001b[31mb\u009bc\u202ed')).toBe('a?[31mb?c?d');
    expect(oneLine(hostile, 200)).toBe('HTTP 500: ?]0;owned??[2J?31mred?evil?');
    expect(oneLine('a\n\tb', 10)).toBe('a b');
    const table = formatTable(['ID', 'TENANT'], [['j1', 'acme\u001b[2J\nnext']]);
    expect(table).toBe('ID  TENANT\nj1  acme?[2J?next\n');
  });

  it('sy find, dlq ls and dlq show print hostile reasons and tenants as plain text', async () => {
    const envelope = { ...numberedEnvelope('payment.failed', 1), tenantId: 'acme\u001b[8m' };
    const record = createDeadLetterRecord({
      subscriber: 'billing',
      queue: 'billing',
      jobId: envelope.id,
      jobName: envelope.type,
      event: envelope,
      reason: 'attempts_exhausted',
      errors: [
        {
          attempt: 1,
          code: 'SY_ERR_DOWNSTREAM',
          name: 'Error\u001b[1m',
          message: hostile,
          at: 'x',
        },
      ],
      attempts: 1,
      enqueuedAt: Date.now() - 1_000,
      failedAt: new Date(),
      workerId: 'w\u0007',
    });
    const dlq = cli.queue('billing.dlq');
    await dlq.pause();
    await dlq.add(record.jobName, record, {
      ...deadLetterJobOptions,
      jobId: deadLetterJobId(record.jobId),
    });
    await indexJobs(cli.admin, {
      prefix: cli.prefix(),
      entries: [{ queue: 'billing.dlq', jobId: record.jobId, eventId: envelope.id }],
      retention: { ttlSeconds: 60 },
    });

    const find = await cli.run(['find', envelope.id]);
    expect(find.code).toBe(0);
    expect(find.stdout).toContain('?]0;owned??[2J?31mred?evil?');
    expect(find.stdout).toContain('acme?[8m');
    const ls = await cli.run(['dlq', 'ls', 'billing']);
    const show = await cli.run(['dlq', 'show', 'billing', record.jobId]);
    for (const [name, run] of [
      ['find', find],
      ['dlq ls', ls],
      ['dlq show', show],
    ] as const) {
      expect(run.code, name).toBe(0);
      expect(controls.test(run.stdout), `${name}: ${JSON.stringify(run.stdout)}`).toBe(false);
    }
    expect(show.stdout).toContain('tenant:          acme?[8m\n');

    // --json is the same data, escaped: C0 by JSON itself, C1 and bidi as \u escapes.
    const json = await cli.run(['dlq', 'show', 'billing', record.jobId, '--json']);
    expect(controls.test(json.stdout)).toBe(false);
    expect(json.stdout).toContain('\\u009b31mred\\u202eevil');
    expect(
      parseJson<{ record: { errors: { message: string }[] } }>(json.stdout).record.errors[0]!
        .message,
    ).toBe(hostile);
  });
});
