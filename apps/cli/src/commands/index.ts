import type { Command } from '../command.js';
import { findCommand } from './find.js';
import { limitsGetCommand, limitsSetCommand } from './limits.js';
import { dlqLsCommand, dlqPurgeCommand, dlqReplayCommand, dlqShowCommand } from './dlq.js';
import { pauseCommand, resumeCommand } from './pause-resume.js';
import { publishCommand } from './publish.js';
import { queuesCommand } from './queues.js';
import { schedulesCommand } from './schedules.js';

/** Every command, in the order `sy --help` lists them. */
export const commands: readonly Command[] = [
  queuesCommand,
  dlqLsCommand,
  dlqShowCommand,
  dlqReplayCommand,
  dlqPurgeCommand,
  pauseCommand,
  resumeCommand,
  limitsGetCommand,
  limitsSetCommand,
  publishCommand,
  findCommand,
  schedulesCommand,
];
