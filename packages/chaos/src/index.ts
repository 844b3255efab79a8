/**
 * @switchyard/chaos: the chaos harness (docs/reliability.md).
 *
 * - startFleet: worker replicas as real processes; kill / pause / respawn / rolling restart.
 * - startScenarioStack: sandbox + one fleet per subscriber + publishers + delivery watch on one Redis.
 * - runLoad: seeded load that records every accepted event, retrying indeterminate answers with the same key.
 * - checkRun: lost / duplicate / DLQ / redelivery verdict against the sandbox ledger.
 * - recordScenario / formatReport: one report row per scenario, printed at the end of the run.
 * - startRedisServer redis-server with AOF profiles, SIGKILL and restart.
 * - startFaultProxy TCP fault proxy between clients and Redis.
 */
export { startFleet, type Fleet, type StartFleetOptions } from './fleet.js';
export {
  fastRecoveryEnv,
  startScenarioStack,
  workerAppOf,
  type ScenarioStack,
  type StartScenarioStackOptions,
} from './scenario-stack.js';
export {
  classifyPublishError,
  generateEvents,
  runLoad,
  seededRandom,
  type AcceptedEvent,
  type GeneratedEvent,
  type LoadRecord,
  type PublishAnswer,
  type PublishFn,
  type RunLoadOptions,
} from './load-generator.js';
export {
  checkRun,
  defaultEffectRoutes,
  type CheckResult,
  type CheckRunOptions,
  type DlqEntry,
  type DuplicateEffect,
  type EffectRoute,
  type ExpectedPoison,
  type LedgerEntry,
  type LostEffect,
} from './checker.js';
export { watchDeliveries, type DeliveryStats, type DeliveryWatch } from './delivery-watch.js';
export {
  formatReport,
  percentile,
  readResults,
  recordScenario,
  resetResults,
  resultsPath,
  type ResultsFile,
  type ScenarioRow,
} from './report.js';
export { chaosEnv, soak, type ChaosEnv } from './env.js';
export { ChaosError, ChaosUsageError, FleetUsageError, ScenarioTimeoutError } from './errors.js';
export {
  RedisServerError,
  startRedisServer,
  type RedisProfile,
  type RedisServer,
  type StartRedisServerOptions,
} from './redis-server.js';
export {
  blockingConnectionOf,
  connectionIds,
  connectionNamed,
  FaultProxyUsageError,
  startFaultProxy,
  type ConnectionFilter,
  type FaultMode,
  type FaultProxy,
  type ProxyConnectionInfo,
  type StartFaultProxyOptions,
} from './fault-proxy.js';
