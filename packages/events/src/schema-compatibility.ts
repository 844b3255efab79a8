/**
 * The schema compatibility check: every published event version has a
 * committed JSON Schema snapshot (`schemas/<type>.v<version>.json`), and the
 * catalogue must still generate exactly that schema. Pure: the caller reads
 * the snapshot files (scripts/check-schemas.ts) and passes them in.
 *
 * Rules:
 * - A version with a snapshot must generate the same schema, compared as
 *   JSON values (key order and formatting do not matter; `required` and
 *   `enum` compare as sets). Any difference fails: a published version's
 *   jobs may still be in queues and publishers may still send it. A change
 *   comes as a new version with an upcaster.
 * - A snapshot whose version is gone from the catalogue fails: jobs of that
 *   version could no longer be read.
 * - A catalogue version without a snapshot is new; it is reported in
 *   `missing` (and fails the check) until `schemas:update` writes it.
 */
import type { JsonSchema } from './json-schema.js';

export interface SchemaSnapshot {
  /** File name inside the snapshot folder, e.g. `user.signed_up.v1.json`. */
  file: string;
  type: string;
  version: number;
  schema: unknown;
}

export interface SchemaProblem {
  kind: 'changed' | 'removed';
  type: string;
  version: number;
  file: string;
  /** The first field whose schema differs (dotted, `[]` for array items), when the difference is inside one. */
  field: string | undefined;
  /** JSON Pointer of the first difference in the schema; '' for a removed version. */
  path: string;
  message: string;
}

export interface MissingSnapshot {
  type: string;
  version: number;
  file: string;
  schema: JsonSchema;
  message: string;
}

export interface SchemaCheckResult {
  /** True when nothing changed, nothing was removed and every version has a snapshot. */
  ok: boolean;
  problems: SchemaProblem[];
  /** Catalogue versions without a snapshot yet: new versions. */
  missing: MissingSnapshot[];
}

export function snapshotFileName(type: string, version: number): string {
  return `${type}.v${version}.json`;
}

const updateCommand = 'pnpm --filter @switchyard/events schemas:update';

/** Compares the catalogue's generated schemas (`current`) with the committed snapshots. */
export function checkSchemaSnapshots(
  snapshots: readonly SchemaSnapshot[],
  current: Record<string, Record<number, JsonSchema>>,
): SchemaCheckResult {
  const problems: SchemaProblem[] = [];
  const missing: MissingSnapshot[] = [];
  const byFile = new Map(snapshots.map((snapshot) => [snapshot.file, snapshot]));

  for (const snapshot of [...snapshots].sort(bySnapshotOrder)) {
    const { type, version, file } = snapshot;
    const generated = Object.hasOwn(current, type) ? current[type] : undefined;
    const schema = generated && Object.hasOwn(generated, version) ? generated[version] : undefined;
    if (schema === undefined) {
      problems.push({
        kind: 'removed',
        type,
        version,
        file,
        field: undefined,
        path: '',
        message:
          `${type} v${version} was removed from the catalogue, but it is published (${file}): ` +
          'its jobs may still be in queues. Restore the version.',
      });
      continue;
    }
    const difference = firstDifference(snapshot.schema, schema, []);
    if (difference) {
      const field = fieldOf(difference.path, difference.element);
      const where = field === undefined ? 'the schema' : `field "${field}"`;
      const newest = Math.max(...Object.keys(generated ?? {}).map(Number));
      problems.push({
        kind: 'changed',
        type,
        version,
        file,
        field,
        path: pointerOf(difference.path),
        message:
          `${type} v${version}: ${where} changed at ${pointerOf(difference.path) || '/'} ` +
          `(${difference.detail}). A published version must not change: restore it and ` +
          `declare the change as ${type} v${newest + 1} with an upcaster.`,
      });
    }
  }

  for (const type of Object.keys(current).sort()) {
    const versions = current[type] ?? {};
    for (const version of Object.keys(versions)
      .map(Number)
      .sort((a, b) => a - b)) {
      const file = snapshotFileName(type, version);
      const schema = versions[version];
      if (!byFile.has(file) && schema !== undefined) {
        missing.push({
          type,
          version,
          file,
          schema,
          message: `${type} v${version} is new: no snapshot ${file} yet; run \`${updateCommand}\` and commit it.`,
        });
      }
    }
  }

  return { ok: problems.length === 0 && missing.length === 0, problems, missing };
}

interface Difference {
  path: (string | number)[];
  /** For a set-like array (`required`, `enum`): the member added or removed. */
  element?: string;
  detail: string;
}

/** Keys whose arrays are sets: order carries no meaning. */
const setKeys = new Set(['required', 'enum']);

/** The first place, in key order, where the snapshot and the generated schema differ. */
function firstDifference(
  snapshot: unknown,
  generated: unknown,
  path: (string | number)[],
): Difference | undefined {
  if (Array.isArray(snapshot) && Array.isArray(generated)) {
    const key = path[path.length - 1];
    if (typeof key === 'string' && setKeys.has(key)) {
      const before = new Set(snapshot.map((value) => JSON.stringify(value)));
      const after = new Set(generated.map((value) => JSON.stringify(value)));
      const removed = [...before].find((value) => !after.has(value));
      if (removed !== undefined)
        return setDifference(path, key, removed, 'no longer in the catalogue');
      const added = [...after].find((value) => !before.has(value));
      if (added !== undefined) return setDifference(path, key, added, 'added in the catalogue');
      return undefined;
    }
    const length = Math.max(snapshot.length, generated.length);
    for (let index = 0; index < length; index += 1) {
      if (index >= snapshot.length || index >= generated.length) {
        return {
          path: [...path, index],
          detail: `${describe(snapshot[index])} in the snapshot, ${describe(generated[index])} in the catalogue`,
        };
      }
      const inner = firstDifference(snapshot[index], generated[index], [...path, index]);
      if (inner) return inner;
    }
    return undefined;
  }
  if (isPlainObject(snapshot) && isPlainObject(generated)) {
    const keys = [...new Set([...Object.keys(snapshot), ...Object.keys(generated)])].sort();
    for (const key of keys) {
      const inSnapshot = Object.hasOwn(snapshot, key);
      const inGenerated = Object.hasOwn(generated, key);
      if (!inSnapshot || !inGenerated) {
        return {
          path: [...path, key],
          detail: inSnapshot ? 'removed in the catalogue' : 'added in the catalogue',
        };
      }
      const inner = firstDifference(snapshot[key], generated[key], [...path, key]);
      if (inner) return inner;
    }
    return undefined;
  }
  if (Object.is(snapshot, generated)) return undefined;
  return {
    path,
    detail: `${describe(snapshot)} in the snapshot, ${describe(generated)} in the catalogue`,
  };
}

function setDifference(
  path: (string | number)[],
  key: string,
  member: string,
  what: string,
): Difference {
  const value: unknown = JSON.parse(member);
  return {
    path,
    // `required: ["plan"]` names a field; an enum member is a value of the field.
    ...(key === 'required' && typeof value === 'string' ? { element: value } : {}),
    detail: `${key} member ${truncate(member)} ${what}`,
  };
}

/**
 * The data field a schema path points into: the names after each
 * `properties`, `[]` for array `items`; with `element`, the field a
 * `required` list names.
 */
function fieldOf(path: (string | number)[], element?: string): string | undefined {
  const names: string[] = [];
  for (let index = 0; index < path.length; index += 1) {
    const segment = path[index];
    const next = path[index + 1];
    if (segment === 'properties' && next !== undefined) {
      names.push(String(next));
      index += 1;
    } else if (segment === 'items' && names.length > 0) {
      names[names.length - 1] += '[]';
    }
  }
  if (element !== undefined) names.push(element);
  return names.length > 0 ? names.join('.') : undefined;
}

/** RFC 6901 JSON Pointer. */
function pointerOf(path: (string | number)[]): string {
  return path
    .map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`)
    .join('');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : truncate(JSON.stringify(value));
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function bySnapshotOrder(a: SchemaSnapshot, b: SchemaSnapshot): number {
  return a.type === b.type ? a.version - b.version : a.type < b.type ? -1 : 1;
}
