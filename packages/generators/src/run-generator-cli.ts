/**
 * The `pnpm gen` command line, apart from the process (main.ts), so tests
 * call it with their own root and streams. Exit status: 0 done or nothing to
 * do, 1 refused or failed (nothing changed), 2 usage error.
 */
import { parseArgs } from 'node:util';
import { GeneratorError, UsageError } from './errors.js';
import { generateEvent, type GenerateResult } from './generate-event.js';
import { generateSubscriber } from './generate-subscriber.js';

export const usage = `Usage:
  pnpm gen event <type> [--description <text>]
      Adds event type <type> (dotted lower-case snake_case, a noun then what
      happened: order.shipped) in version 1 to packages/events: catalogue
      entry with its business key, JSON Schema snapshot, fixtures, unit test.
  pnpm gen subscriber <name> --on <type>[,<type>...] [--description <text>]
      Adds subscriber <name> (kebab-case: fraud-check) receiving those event
      types: routing entry, worker app apps/worker-<name> with tests,
      docker-compose service, Kubernetes Deployment + ScaledObject,
      Prometheus targets, README row; then links it (pnpm install --offline).
  pnpm gen --help

Both check everything before writing anything, refuse names that are
malformed, reserved or taken (exit 1, nothing changed), and change nothing
when run again with the same answers. Walk-through: docs/extending.md.
`;

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

function report(io: CliIo, result: GenerateResult): void {
  for (const path of result.written) io.stdout.write(`wrote ${path}\n`);
  for (const note of result.notes) io.stdout.write(`${note}\n`);
}

export async function runGeneratorCli(
  argv: readonly string[],
  root: string,
  io: CliIo,
): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        strict: true,
        options: {
          on: { type: 'string', multiple: true },
          description: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help === true || positionals.length === 0) {
      io.stdout.write(usage);
      return values.help === true ? 0 : 2;
    }
    const [command, name, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    if (name === undefined) throw new UsageError(`gen ${command ?? ''}: give a name`);
    if (command === 'event') {
      if (values.on !== undefined) throw new UsageError('gen event takes no --on');
      report(io, await generateEvent(root, { type: name, description: values.description }));
      return 0;
    }
    if (command === 'subscriber') {
      if (values.on === undefined) {
        throw new UsageError('gen subscriber needs --on <type>[,<type>...]');
      }
      const on = values.on.flatMap((list) => list.split(','));
      report(io, await generateSubscriber(root, { name, on, description: values.description }));
      return 0;
    }
    throw new UsageError(`unknown generator "${command ?? ''}": use event or subscriber`);
  } catch (error) {
    if (error instanceof GeneratorError) {
      io.stderr.write(`error ${error.code}: ${error.message}\n`);
      if (error instanceof UsageError) io.stderr.write(`\n${usage}`);
      return error.exitCode;
    }
    throw error;
  }
}
