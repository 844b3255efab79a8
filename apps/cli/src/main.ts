#!/usr/bin/env node
/**
 * The `sy` bin: hands argv, the environment and the standard streams to
 * runCli and exits with its code. Ctrl-C once stops a replay or purge
 * between entries (it reports what it did); twice exits at once.
 */
import { runCli } from './run-cli.js';

const controller = new AbortController();
process.once('SIGINT', () => {
  controller.abort();
  process.once('SIGINT', () => process.exit(130));
});

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stderr.isTTY,
  signal: controller.signal,
});
process.exitCode = code;
// Exit once both streams are flushed (a write callback runs after every
// earlier write): ioredis leaves its connect timer running after a refused
// connection, which would otherwise hold the process for connectTimeout.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
