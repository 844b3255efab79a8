/**
 * Errors of the chaos harness, each with a stable code. They are usage and
 * harness errors (a scenario set up wrong, a process that would not start),
 * never verdicts: a scenario's verdict is the checker's CheckResult.
 */
export class ChaosError extends Error {
  readonly code: string = 'SY_ERR_CHAOS';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A fleet was asked for a replica it does not have, or in a state that forbids the call. */
export class FleetUsageError extends ChaosError {
  override readonly code = 'SY_ERR_CHAOS_FLEET_USAGE';
}

/** runLoad / checkRun / startScenarioStack got options out of range. */
export class ChaosUsageError extends ChaosError {
  override readonly code = 'SY_ERR_CHAOS_USAGE';
}

/** A scenario did not reach its expected state (queues drained, ledger complete) within its bound. */
export class ScenarioTimeoutError extends ChaosError {
  override readonly code = 'SY_ERR_CHAOS_SCENARIO_TIMEOUT';
}
