/**
 * The committed JSON Schema snapshots of every published event version, on
 * disk: `schemas/<type>.v<version>.json` beside this package's `src`. The
 * comparison itself is pure and lives in src/schema-compatibility.ts; this
 * file is its I/O, used by the CLI (check-schemas.ts) and the tests.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkSchemaSnapshots,
  eventDataJsonSchemas,
  type JsonSchema,
  type SchemaCheckResult,
  type SchemaSnapshot,
} from '../src/index.js';

/** The committed snapshot folder. */
export const snapshotsDir = fileURLToPath(new URL('../schemas/', import.meta.url));

const snapshotFile = /^(?<type>.+)\.v(?<version>[1-9][0-9]*)\.json$/;

/**
 * Every `<type>.v<version>.json` in `dir`, parsed. A file that is not JSON
 * throws with its name; other files are ignored.
 */
export async function readSnapshots(dir: string): Promise<SchemaSnapshot[]> {
  const snapshots: SchemaSnapshot[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const match = snapshotFile.exec(file);
    if (!match?.groups) continue;
    const text = await readFile(join(dir, file), 'utf8');
    let schema: unknown;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      throw new Error(`schema snapshot ${file} is not valid JSON`, { cause: error });
    }
    snapshots.push({
      file,
      type: match.groups.type ?? '',
      version: Number(match.groups.version),
      schema,
    });
  }
  return snapshots;
}

export interface RunSchemaCheckOptions {
  /** Snapshot folder. Default: the committed `schemas/`. */
  dir?: string;
  /** Write the snapshot of every new version (never overwrites one). Default: false. */
  update?: boolean;
  /** The generated schemas. Default: `eventDataJsonSchemas()` of the catalogue. */
  current?: Record<string, Record<number, JsonSchema>>;
}

export interface SchemaCheckRun extends SchemaCheckResult {
  /** Files written by `update`. */
  written: string[];
}

/**
 * Checks the catalogue against the snapshots in `dir`; with `update`, then
 * writes the snapshots of new versions (a new version is then no longer
 * missing, but changed or removed versions still fail).
 */
export async function runSchemaCheck(options: RunSchemaCheckOptions = {}): Promise<SchemaCheckRun> {
  const dir = options.dir ?? snapshotsDir;
  const current = options.current ?? eventDataJsonSchemas();
  const result = checkSchemaSnapshots(await readSnapshots(dir), current);
  if (!options.update) return { ...result, written: [] };
  const written: string[] = [];
  for (const snapshot of result.missing) {
    // 'wx': fail rather than overwrite, should a file appear meanwhile.
    await writeFile(join(dir, snapshot.file), `${JSON.stringify(snapshot.schema, null, 2)}\n`, {
      flag: 'wx',
    });
    written.push(snapshot.file);
  }
  return { ...result, ok: result.problems.length === 0, missing: [], written };
}
