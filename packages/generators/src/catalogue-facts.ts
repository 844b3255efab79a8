/**
 * What packages/events says right now, read in a child process (see
 * catalogue-facts-script.ts for why a child).
 */
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenerateStepError } from './errors.js';

export interface CatalogueFacts {
  events: Record<
    string,
    { versions: number[]; latest: number; businessKey: string[]; description: string }
  >;
  subscribers: Record<string, { events: string[]; description: string }>;
  /** Per requested type: a valid payload of its newest version, or null when none could be built. */
  samples: Record<string, { version: number; data: Record<string, unknown> } | null>;
  /** Per requested `<type>@<version>`: its JSON Schema, as the snapshot check computes it. */
  jsonSchemas: Record<string, unknown>;
}

export interface ReadCatalogueFactsOptions {
  samples?: readonly string[];
  jsonSchemas?: readonly string[];
  /** Bound on the child process. Default 60 s. */
  timeoutMs?: number;
}

const here = import.meta.url;
/** The script beside this file: .ts when running from src (tsx), .js from dist. */
const script = fileURLToPath(
  new URL(`./catalogue-facts-script${here.endsWith('.ts') ? '.ts' : '.js'}`, here),
);
/** packages/generators, whose node_modules hold tsx and @switchyard/events. */
const packageDir = dirname(dirname(script));

export async function readCatalogueFacts(
  options: ReadCatalogueFactsOptions = {},
): Promise<CatalogueFacts> {
  const args = [
    '--conditions=@switchyard/source',
    '--import',
    'tsx',
    script,
    ...(options.samples ?? []).flatMap((type) => ['--sample', type]),
    ...(options.jsonSchemas ?? []).flatMap((spec) => ['--json-schema', spec]),
  ];
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { cwd: packageDir, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, out, err) => {
        if (error) {
          reject(
            new GenerateStepError(
              `could not load packages/events (does it compile?): ${err.trim() || error.message}`,
              { cause: error },
            ),
          );
        } else {
          resolve({ stdout: out });
        }
      },
    );
  });
  return JSON.parse(stdout) as CatalogueFacts;
}
