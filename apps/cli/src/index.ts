export { runCli, mainUsage, realClock, type CliDeps } from './run-cli.js';
export { commands } from './commands/index.js';
export type { Clock, Command, CommandContext, ParsedArgs, Writer } from './command.js';
export { readConfig, redactUrl, type CliConfig } from './config.js';
export {
  CliError,
  OperationError,
  RedisError,
  RedisUnreachableError,
  UsageError,
  exitCodes,
} from './errors.js';
export { readQueueStats, type QueueStats } from './commands/queues.js';
export type { ScheduleInfo } from './commands/schedules.js';
