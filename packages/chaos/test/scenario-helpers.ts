/**
 * What every worker-side scenario does after its faults: wait for the queues
 * to drain, read the ledger, the DLQs and the delivery watch, run the
 * checker, and append the scenario's row to the report.
 */
import { checkRun, type CheckResult, type ExpectedPoison } from '../src/checker.ts';
import type { LoadRecord } from '../src/load-generator.ts';
import { percentile, recordScenario } from '../src/report.ts';
import type { ScenarioStack } from '../src/scenario-stack.ts';

export interface FinishOptions {
  scenario: string;
  stack: ScenarioStack;
  load: LoadRecord;
  /** Faults injected, as the report says them, e.g. '10 SIGKILL'. */
  faults: string;
  startedAt: number;
  expectedPoison?: ExpectedPoison[];
  requireRedeliveries: boolean;
  /** Recovery samples (ms), for the p50/p99 columns. */
  recoveryMs?: number[];
  drainTimeoutMs?: number;
  notes?: string;
  /** Verdict override for negative controls (they pass when loss is REPORTED). */
  verdictOf?: (result: CheckResult) => string;
}

export async function finishScenario(opts: FinishOptions): Promise<CheckResult> {
  await opts.stack.drain(opts.drainTimeoutMs ?? 120_000);
  const [ledger, dlq] = await Promise.all([opts.stack.sandbox.ledger(), opts.stack.deadLetters()]);
  const deliveries = opts.stack.watch.stats();
  const result = checkRun({
    load: opts.load,
    ledger,
    dlq,
    expectedPoison: opts.expectedPoison ?? [],
    subscribers: opts.stack.queues,
    // BullMQ re-activations (retries, stall re-runs) and stalls, beyond the ledger's repeats.
    redeliveryEvidence: deliveries.reactivations,
    doubleCompletions: deliveries.doubleCompletions,
    requireRedeliveries: opts.requireRedeliveries,
  });
  const durationMs = Date.now() - opts.startedAt;
  const throughput = Math.round((result.appliedEffects * 1000) / Math.max(1, durationMs));
  const notes = [
    opts.notes,
    `${result.appliedEffects} effects in ${(durationMs / 1000).toFixed(1)} s (~${throughput}/s end to end)`,
    `ledger repeats ${result.ledgerRepeats}, BullMQ re-activations ${deliveries.reactivations}, stalled ${deliveries.stalled}, failed attempts ${deliveries.failed}`,
    deliveries.trimmedGaps > 0
      ? `event stream trimmed ${deliveries.trimmedGaps}x (counts are lower bounds)`
      : undefined,
    load(opts.load),
    result.problems.length > 0 ? `problems: ${result.problems.join('; ')}` : undefined,
  ]
    .filter((n) => n !== undefined && n !== '')
    .join('; ');
  recordScenario({
    scenario: opts.scenario,
    events: opts.load.requested,
    faults: opts.faults,
    accepted: opts.load.accepted.length,
    lost: result.lost.length,
    duplicates: result.duplicates.length,
    dlqOk: result.dlq.ok,
    redeliveries: result.redeliveries,
    recoveryP50Ms: percentile(opts.recoveryMs ?? [], 50),
    recoveryP99Ms: percentile(opts.recoveryMs ?? [], 99),
    durationMs,
    verdict: opts.verdictOf?.(result) ?? result.verdict,
    notes,
  });
  return result;
}

function load(record: LoadRecord): string | undefined {
  const parts = [
    record.indeterminateAnswers > 0
      ? `${record.indeterminateAnswers} indeterminate publish answers retried`
      : '',
    record.unknown.length > 0 ? `${record.unknown.length} publishes of unknown outcome` : '',
    record.shedAnswers > 0 ? `${record.shedAnswers} shed answers` : '',
    record.refused.length > 0 ? `${record.refused.length} refused` : '',
  ].filter((p) => p !== '');
  return parts.length === 0 ? undefined : parts.join(', ');
}
