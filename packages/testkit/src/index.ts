export { startRedis } from './start-redis.js';
export { startRedisCluster } from './start-redis-cluster.js';
export type { RedisClusterHandle, StartRedisClusterOptions } from './start-redis-cluster.js';
export { startRedisSentinel } from './start-redis-sentinel.js';
export type { RedisSentinelHandle, StartRedisSentinelOptions } from './start-redis-sentinel.js';
export type { RedisHandle, StartRedisOptions } from './redis-handle.js';
export { startApp } from './start-app.js';
export type { AppProcess, StartAppOptions } from './start-app.js';
export { waitFor } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
export { freePort } from './free-port.js';
export { pingRedis } from './ping-redis.js';
export { assertBuilt } from './assert-built.js';
export { startSandbox } from './start-sandbox.js';
export type { LedgerCall, Sandbox, StartSandboxOptions } from './start-sandbox.js';
export { numberedEnvelope, paymentFailed, signedUp } from './envelopes.js';
export { paymentFailedRequest, signedUpRequest } from './publish-requests.js';
export { randomPrefix, unlinkPrefix, waitReady } from './redis-prefix.js';
export { handlerContext } from './handler-context.js';
export type { HandlerContextOptions, TestHandlerContext } from './handler-context.js';
export {
  AppNotBuiltError,
  AppStartError,
  HandleStoppedError,
  NoRedisError,
  RedisStartError,
  SandboxRequestError,
  TestkitError,
  UnsupportedOperationError,
  WaitForTimeoutError,
} from './errors.js';
