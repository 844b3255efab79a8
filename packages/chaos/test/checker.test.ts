/**
 * The checker on synthetic ledgers: each check must be able to fail, or a
 * green chaos run proves nothing.
 */
import { describe, expect, it } from 'vitest';
import { checkRun, type LedgerEntry } from '../src/checker.ts';
import { generateEvents, type AcceptedEvent } from '../src/load-generator.ts';

const events = generateEvents({ seed: 7, count: 20, paymentFailedShare: 0.3 });
const accepted: AcceptedEvent[] = events.map((event) => ({
  ...event,
  eventId: `evt-${event.index}`,
  subscribers: event.type === 'payment.failed' ? ['billing'] : ['notifications', 'provisioning'],
  attempts: 1,
  answeredDuplicate: false,
  acceptedAt: 0,
}));

/** The ledger a correct run leaves: one entry per (subscriber, event). */
function perfectLedger(): LedgerEntry[] {
  return accepted.flatMap((event): LedgerEntry[] =>
    event.type === 'payment.failed'
      ? [
          {
            service: 'billing-alerts',
            idempotencyKey: event.idempotencyKey,
            repeats: 0,
            body: { invoiceId: event.businessId },
          },
        ]
      : [
          {
            service: 'email',
            idempotencyKey: event.idempotencyKey,
            repeats: 0,
            body: { userId: event.businessId },
          },
          {
            service: 'workspaces',
            idempotencyKey: event.idempotencyKey,
            repeats: 0,
            body: { ownerId: event.businessId },
          },
        ],
  );
}

const load = { accepted };

describe('checkRun', () => {
  it('passes a complete ledger with no DLQ', () => {
    const result = checkRun({ load, ledger: perfectLedger() });
    expect(result.problems).toEqual([]);
    expect(result.verdict).toBe('pass');
    expect(result.expectedEffects).toBe(perfectLedger().length);
    expect(result.appliedEffects).toBe(perfectLedger().length);
    expect(result.lost).toEqual([]);
  });

  describe('when an effect is missing', () => {
    it('reports it lost, naming subscriber and event', () => {
      const ledger = perfectLedger().filter(
        (call) =>
          !(
            call.service === 'workspaces' &&
            call.body &&
            (call.body as { ownerId: string }).ownerId ===
              events.find((e) => e.type === 'user.signed_up')!.businessId
          ),
      );
      const result = checkRun({ load, ledger });
      expect(result.verdict).toBe('fail');
      expect(result.lost).toHaveLength(1);
      expect(result.lost[0]!.subscriber).toBe('provisioning');
    });

    it('ignores subscribers left out of `subscribers`', () => {
      const ledger = perfectLedger().filter((call) => call.service !== 'billing-alerts');
      expect(checkRun({ load, ledger }).lost.length).toBeGreaterThan(0);
      expect(
        checkRun({ load, ledger, subscribers: ['notifications', 'provisioning'] }).verdict,
      ).toBe('pass');
    });
  });

  describe('when one event was applied under two idempotency keys', () => {
    it('reports a duplicate effect', () => {
      const ledger = perfectLedger();
      const first = ledger[0]!;
      ledger.push({ ...first, idempotencyKey: `${first.idempotencyKey}-again` });
      const result = checkRun({ load, ledger });
      expect(result.verdict).toBe('fail');
      expect(result.duplicates).toHaveLength(1);
      expect(result.duplicates[0]!.idempotencyKeys).toHaveLength(2);
    });
  });

  describe('when the sandbox absorbed redeliveries', () => {
    it('counts ledger repeats as redeliveries, not duplicates', () => {
      const ledger = perfectLedger();
      ledger[0]!.repeats = 3;
      const result = checkRun({ load, ledger, requireRedeliveries: true });
      expect(result.verdict).toBe('pass');
      expect(result.duplicates).toEqual([]);
      expect(result.ledgerRepeats).toBe(3);
      expect(result.redeliveries).toBe(3);
    });
  });

  describe('when a fault scenario saw no redelivery', () => {
    it('fails: the faults did not bite', () => {
      const result = checkRun({ load, ledger: perfectLedger(), requireRedeliveries: true });
      expect(result.verdict).toBe('fail');
      expect(result.problems.join()).toMatch(/did not bite/);
      expect(
        checkRun({
          load,
          ledger: perfectLedger(),
          requireRedeliveries: true,
          redeliveryEvidence: 2,
        }).verdict,
      ).toBe('pass');
    });
  });

  describe('DLQ', () => {
    const poison = [
      { subscriber: 'notifications', jobId: 'p1', reason: 'schema_invalid' },
      { subscriber: 'notifications', jobId: 'p2', reason: 'unknown_event' },
    ];

    it('passes exactly the poison set with the right reasons', () => {
      const result = checkRun({
        load,
        ledger: perfectLedger(),
        expectedPoison: poison,
        dlq: poison,
      });
      expect(result.dlq.ok).toBe(true);
      expect(result.verdict).toBe('pass');
    });

    it('fails a poison job missing from the DLQ', () => {
      const result = checkRun({
        load,
        ledger: perfectLedger(),
        expectedPoison: poison,
        dlq: [poison[0]!],
      });
      expect(result.dlq.missing).toEqual([poison[1]]);
      expect(result.verdict).toBe('fail');
    });

    it('fails a poison job with the wrong reason', () => {
      const dlq = [poison[0]!, { ...poison[1]!, reason: 'attempts_exhausted' }];
      const result = checkRun({ load, ledger: perfectLedger(), expectedPoison: poison, dlq });
      expect(result.dlq.wrongReason).toHaveLength(1);
      expect(result.verdict).toBe('fail');
    });

    it('fails anything else in the DLQ', () => {
      const dlq = [...poison, { subscriber: 'provisioning', jobId: 'evt-3', reason: 'stalled' }];
      const result = checkRun({ load, ledger: perfectLedger(), expectedPoison: poison, dlq });
      expect(result.dlq.unexpected).toHaveLength(1);
      expect(result.verdict).toBe('fail');
    });
  });

  it('fails a job completed twice', () => {
    expect(checkRun({ load, ledger: perfectLedger(), doubleCompletions: 1 }).verdict).toBe('fail');
  });

  it('counts effects of events it was not told about as unrecorded, not as errors', () => {
    const ledger = [
      ...perfectLedger(),
      { service: 'email', idempotencyKey: 'x', repeats: 0, body: { userId: 'usr_other' } },
    ];
    const result = checkRun({ load, ledger });
    expect(result.unrecordedEffects).toBe(1);
    expect(result.verdict).toBe('pass');
  });
});
