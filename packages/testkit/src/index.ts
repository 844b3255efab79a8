export { startRedis } from './start-redis.js';
export type { RedisHandle, StartRedisOptions } from './redis-handle.js';
export { startApp } from './start-app.js';
export type { AppProcess, StartAppOptions } from './start-app.js';
export { waitFor } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
export { freePort } from './free-port.js';
export { pingRedis } from './ping-redis.js';
export {
  AppStartError,
  HandleStoppedError,
  NoRedisError,
  RedisStartError,
  TestkitError,
  UnsupportedOperationError,
  WaitForTimeoutError,
} from './errors.js';
