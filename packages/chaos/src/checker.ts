/**
 * checkRun: holds what the load generator saw accepted against what the
 * sandbox ledger applied and what the DLQs hold, and says what went wrong.
 *
 * Definitions (docs/reliability.md):
 * - expected effect: for every accepted event and every one of its
 *   subscribers that `subscribers` includes, one call to that subscriber's
 *   sandbox service carrying the event's business id (userId, ownerId,
 *   invoiceId) in its body;
 * - lost: an expected effect with no ledger entry, unless the event's job is
 *   in the DLQ as expected poison (then the DLQ is its outcome);
 * - duplicate: more than one DISTINCT ledger entry (different idempotency
 *   keys) for one (service, business id). The sandbox applies a key once, so
 *   a redelivery that reaches it with the same key is not a duplicate effect:
 *   it is counted in the ledger's `repeats`, reported as `ledgerRepeats`,
 *   the evidence that the idempotency key did its job;
 * - DLQ ok: the DLQ entries are exactly `expectedPoison` (by subscriber and
 *   job id), each with the expected reason code; anything else in a DLQ is a
 *   failure (an accepted event that should have been applied was given up);
 * - redeliveries: ledger repeats plus `redeliveryEvidence` (BullMQ
 *   activations beyond the first, stalled jobs: see delivery-watch.ts). A
 *   fault scenario (`requireRedeliveries`) with none fails: its faults did
 *   not bite.
 */
import { ChaosUsageError } from './errors.js';
import type { AcceptedEvent, LoadRecord } from './load-generator.js';

/** One ledger entry, as the sandbox reports it (testkit's LedgerCall, structurally). */
export interface LedgerEntry {
  service: string;
  idempotencyKey: string;
  repeats: number;
  firstAt?: string;
  body: unknown;
}

/** One DLQ job, reduced to what the checker compares. */
export interface DlqEntry {
  subscriber: string;
  jobId: string;
  reason: string;
  eventId?: string | undefined;
}

/** A job the scenario poisoned on purpose, and the reason it must be dead-lettered with. */
export interface ExpectedPoison {
  subscriber: string;
  jobId: string;
  reason: string;
}

/** Where each subscriber's effect lands: its sandbox service and the body field naming the event. */
export interface EffectRoute {
  service: string;
  businessIdField: string;
}

/** The shipped worker apps' effects (apps/worker-* handlers). */
export const defaultEffectRoutes: Readonly<Record<string, EffectRoute>> = {
  notifications: { service: 'email', businessIdField: 'userId' },
  provisioning: { service: 'workspaces', businessIdField: 'ownerId' },
  billing: { service: 'billing-alerts', businessIdField: 'invoiceId' },
};

export interface CheckRunOptions {
  load: Pick<LoadRecord, 'accepted'> & Partial<Pick<LoadRecord, 'unknown'>>;
  ledger: readonly LedgerEntry[];
  /** Every entry of every DLQ of the checked subscribers. Default []. */
  dlq?: readonly DlqEntry[];
  /** The injected poison set. Default [] (the DLQ must be empty). */
  expectedPoison?: readonly ExpectedPoison[];
  /** Subscribers whose effects are checked. Default: every subscriber of an accepted event. */
  subscribers?: readonly string[];
  /** Default defaultEffectRoutes. */
  routes?: Readonly<Record<string, EffectRoute>>;
  /** Redeliveries seen outside the ledger (BullMQ re-activations, stalls). Default 0. */
  redeliveryEvidence?: number;
  /** The scenario injected faults: it fails without a single redelivery. Default false. */
  requireRedeliveries?: boolean;
  /** Jobs completed more than once (a late completion that did not fail on its lost lock). Default 0. */
  doubleCompletions?: number;
}

export interface LostEffect {
  subscriber: string;
  eventId: string;
  businessId: string;
  index: number;
}

export interface DuplicateEffect {
  service: string;
  businessId: string;
  idempotencyKeys: string[];
}

export interface CheckResult {
  /** Accepted events checked. */
  accepted: number;
  expectedEffects: number;
  /** Distinct (service, business id) pairs applied that belong to checked events. */
  appliedEffects: number;
  lost: LostEffect[];
  duplicates: DuplicateEffect[];
  /** Sum of the ledger's `repeats`: redeliveries the idempotency key absorbed. */
  ledgerRepeats: number;
  /** ledgerRepeats + redeliveryEvidence. */
  redeliveries: number;
  /** Ledger entries of events the load did not record as accepted (e.g. an `unknown` publish that was applied). Not an error. */
  unrecordedEffects: number;
  dlq: {
    ok: boolean;
    /** Expected poison not in the DLQ. */
    missing: ExpectedPoison[];
    /** DLQ entries nobody poisoned. */
    unexpected: DlqEntry[];
    /** Poison dead-lettered with another reason. */
    wrongReason: { expected: ExpectedPoison; actual: string }[];
  };
  doubleCompletions: number;
  /** Human-readable reasons for a 'fail' verdict; empty when it passes. */
  problems: string[];
  verdict: 'pass' | 'fail';
}

const businessIdOf = (body: unknown, field: string): string | undefined => {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
};

export function checkRun(opts: CheckRunOptions): CheckResult {
  const routes = opts.routes ?? defaultEffectRoutes;
  const accepted: readonly AcceptedEvent[] = opts.load.accepted;
  const subscribers = new Set(opts.subscribers ?? accepted.flatMap((e) => e.subscribers));
  for (const subscriber of subscribers) {
    if (routes[subscriber] === undefined) {
      throw new ChaosUsageError(`no effect route for subscriber '${subscriber}'`);
    }
  }
  const serviceOf = new Map<string, string>(); // service -> subscriber
  for (const subscriber of subscribers) serviceOf.set(routes[subscriber]!.service, subscriber);

  // Index the ledger by (service, business id): the distinct keys seen for it.
  const applied = new Map<string, Set<string>>();
  let ledgerRepeats = 0;
  for (const call of opts.ledger) {
    ledgerRepeats += call.repeats;
    const subscriber = serviceOf.get(call.service);
    if (subscriber === undefined) continue;
    const businessId = businessIdOf(call.body, routes[subscriber]!.businessIdField);
    if (businessId === undefined) continue;
    const key = `${call.service}\u0000${businessId}`;
    let keys = applied.get(key);
    if (keys === undefined) applied.set(key, (keys = new Set()));
    keys.add(call.idempotencyKey);
  }

  const poisonJobs = new Set(
    (opts.expectedPoison ?? []).map((p) => `${p.subscriber}\u0000${p.jobId}`),
  );
  const lost: LostEffect[] = [];
  const expectedKeys = new Set<string>();
  let expectedEffects = 0;
  for (const event of accepted) {
    for (const subscriber of event.subscribers) {
      if (!subscribers.has(subscriber)) continue;
      const key = `${routes[subscriber]!.service}\u0000${event.businessId}`;
      expectedKeys.add(key);
      if (poisonJobs.has(`${subscriber}\u0000${event.eventId}`)) continue;
      expectedEffects++;
      if (!applied.has(key)) {
        lost.push({
          subscriber,
          eventId: event.eventId,
          businessId: event.businessId,
          index: event.index,
        });
      }
    }
  }

  const duplicates: DuplicateEffect[] = [];
  let appliedEffects = 0;
  let unrecordedEffects = 0;
  for (const [key, keys] of applied) {
    if (expectedKeys.has(key)) appliedEffects++;
    else unrecordedEffects++;
    if (keys.size > 1) {
      const [service, businessId] = key.split('\u0000') as [string, string];
      duplicates.push({ service, businessId, idempotencyKeys: [...keys] });
    }
  }

  // DLQ: exactly the poison set, with the right reasons.
  const expectedPoison = opts.expectedPoison ?? [];
  const dlq = (opts.dlq ?? []).filter(
    (entry) =>
      subscribers.has(entry.subscriber) ||
      poisonJobs.has(`${entry.subscriber}\u0000${entry.jobId}`),
  );
  const dlqByJob = new Map(dlq.map((entry) => [`${entry.subscriber}\u0000${entry.jobId}`, entry]));
  const missing: ExpectedPoison[] = [];
  const wrongReason: { expected: ExpectedPoison; actual: string }[] = [];
  for (const poison of expectedPoison) {
    const entry = dlqByJob.get(`${poison.subscriber}\u0000${poison.jobId}`);
    if (entry === undefined) missing.push(poison);
    else if (entry.reason !== poison.reason)
      wrongReason.push({ expected: poison, actual: entry.reason });
  }
  const unexpected = dlq.filter(
    (entry) => !poisonJobs.has(`${entry.subscriber}\u0000${entry.jobId}`),
  );
  const dlqOk = missing.length === 0 && wrongReason.length === 0 && unexpected.length === 0;

  const redeliveries = ledgerRepeats + (opts.redeliveryEvidence ?? 0);
  const doubleCompletions = opts.doubleCompletions ?? 0;
  const problems: string[] = [];
  if (lost.length > 0) {
    problems.push(
      `${lost.length} lost effect(s), e.g. ${lost
        .slice(0, 3)
        .map((l) => `${l.subscriber}/${l.businessId}`)
        .join(', ')}`,
    );
  }
  if (duplicates.length > 0) {
    problems.push(
      `${duplicates.length} duplicate effect(s), e.g. ${duplicates
        .slice(0, 3)
        .map((d) => `${d.service}/${d.businessId} x${d.idempotencyKeys.length}`)
        .join(', ')}`,
    );
  }
  if (missing.length > 0) problems.push(`${missing.length} poison job(s) missing from the DLQ`);
  if (wrongReason.length > 0) {
    const first = wrongReason[0]!;
    problems.push(
      `${wrongReason.length} poison job(s) dead-lettered with the wrong reason (e.g. ${first.expected.jobId}: ${first.actual}, expected ${first.expected.reason})`,
    );
  }
  if (unexpected.length > 0) {
    const first = unexpected[0]!;
    problems.push(
      `${unexpected.length} unexpected DLQ entr${unexpected.length === 1 ? 'y' : 'ies'} (e.g. ${first.subscriber}/${first.jobId}: ${first.reason})`,
    );
  }
  if (opts.requireRedeliveries === true && redeliveries === 0) {
    problems.push('no redeliveries: the faults did not bite');
  }
  if (doubleCompletions > 0) problems.push(`${doubleCompletions} job(s) completed more than once`);

  return {
    accepted: accepted.length,
    expectedEffects,
    appliedEffects,
    lost,
    duplicates,
    ledgerRepeats,
    redeliveries,
    unrecordedEffects,
    dlq: { ok: dlqOk, missing, unexpected, wrongReason },
    doubleCompletions,
    problems,
    verdict: problems.length === 0 ? 'pass' : 'fail',
  };
}
