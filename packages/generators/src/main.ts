#!/usr/bin/env node
/**
 * `pnpm gen ...` (root package.json runs this file with tsx and the
 * `@switchyard/source` condition). Works on the repository this package sits
 * in: packages/generators/../..
 */
import { fileURLToPath } from 'node:url';
import { runGeneratorCli } from './run-generator-cli.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

process.exitCode = await runGeneratorCli(process.argv.slice(2), root, {
  stdout: process.stdout,
  stderr: process.stderr,
});
