/**
 * The compatibility check in CI: the catalogue against the committed JSON
 * Schema snapshots in `schemas/`, and against broken copies of them in a
 * temporary folder.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventDataJsonSchemas, eventTypes, versionsOf, type JsonSchema } from '../src/index.js';
import { runSchemaCheck, snapshotsDir } from '../scripts/schema-snapshots.js';

type Schemas = Record<string, Record<number, JsonSchema>>;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sy-schemas-'));
  await cp(snapshotsDir, dir, { recursive: true });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readJson(file: string): Promise<JsonSchema> {
  return JSON.parse(await readFile(join(dir, file), 'utf8')) as JsonSchema;
}

async function editSnapshot(file: string, edit: (schema: JsonSchema) => void): Promise<void> {
  const schema = await readJson(file);
  edit(schema);
  await writeFile(join(dir, file), JSON.stringify(schema));
}

/** The catalogue's schemas with `edit` applied to a deep copy. */
function catalogueWith(edit: (schemas: Schemas) => void): Schemas {
  const schemas = structuredClone(eventDataJsonSchemas()) as Schemas;
  edit(schemas);
  return schemas;
}

const properties = (schema: JsonSchema | undefined) =>
  schema?.properties as Record<string, JsonSchema>;

describe('schema compatibility check', () => {
  describe('against the committed snapshots', () => {
    it('passes: every published version is unchanged and has its snapshot', async () => {
      const run = await runSchemaCheck();
      expect([...run.problems, ...run.missing].map((p) => p.message)).toEqual([]);
      expect(run.ok).toBe(true);
    });

    it('has a snapshot of every version in the catalogue', async () => {
      const files = (await readdir(snapshotsDir)).filter((f) => f.endsWith('.json')).sort();
      // Derived from the catalogue, so `pnpm gen event` needs no edit here.
      const expected = eventTypes.flatMap((type) =>
        versionsOf(type).map((v) => `${type}.v${v}.json`),
      );
      expect(files).toEqual(expected.sort());
      expect(files).toEqual(
        expect.arrayContaining([
          'payment.failed.v1.json',
          'user.signed_up.v1.json',
          'user.signed_up.v2.json',
        ]),
      );
    });
  });

  describe('when a committed schema changes a field', () => {
    it('fails, naming the event, the version and the field', async () => {
      await editSnapshot('user.signed_up.v1.json', (schema) => {
        properties(schema).plan = { type: 'integer' };
      });

      const run = await runSchemaCheck({ dir });

      expect(run.ok).toBe(false);
      expect(run.problems).toEqual([
        expect.objectContaining({
          kind: 'changed',
          type: 'user.signed_up',
          version: 1,
          field: 'plan',
          path: '/properties/plan/enum',
        }),
      ]);
      expect(run.problems[0]?.message).toMatch(/^user\.signed_up v1: field "plan" changed/);
      expect(run.problems[0]?.message).toContain('user.signed_up v3');
    });
  });

  describe('when the catalogue drops a required field of a published version', () => {
    it('fails, naming the event and the field', async () => {
      const current = catalogueWith((schemas) => {
        const v1 = schemas['user.signed_up']?.[1];
        delete properties(v1).email;
        v1!.required = (v1!.required as string[]).filter((field) => field !== 'email');
      });

      const run = await runSchemaCheck({ dir, current });

      expect(run.ok).toBe(false);
      expect(run.problems).toHaveLength(1);
      expect(run.problems[0]).toMatchObject({ type: 'user.signed_up', version: 1, field: 'email' });
      expect(run.problems[0]?.message).toContain('user.signed_up v1');
      expect(run.problems[0]?.message).toContain('"email"');
    });
  });

  describe('when the catalogue makes an optional field required', () => {
    it('names the field from the required list', async () => {
      const current = catalogueWith((schemas) => {
        const v2 = schemas['user.signed_up']?.[2];
        properties(v2).referrer = { type: 'string' };
        (v2!.required as string[]).push('referrer');
      });
      await editSnapshot('user.signed_up.v2.json', (schema) => {
        properties(schema).referrer = { type: 'string' };
      });

      const run = await runSchemaCheck({ dir, current });

      expect(run.problems).toEqual([
        expect.objectContaining({ version: 2, field: 'referrer', path: '/required' }),
      ]);
    });
  });

  describe('when only formatting or order differs', () => {
    it('passes', async () => {
      await editSnapshot('payment.failed.v1.json', (schema) => {
        schema.required = [...(schema.required as string[])].reverse();
      });
      const run = await runSchemaCheck({ dir });
      expect(run.problems).toEqual([]);
    });
  });

  describe('when a published version is removed from the catalogue', () => {
    it('fails, naming the event and the version', async () => {
      const current = catalogueWith((schemas) => {
        delete schemas['user.signed_up']?.[1];
      });

      const run = await runSchemaCheck({ dir, current });

      expect(run.ok).toBe(false);
      expect(run.problems).toEqual([
        expect.objectContaining({ kind: 'removed', type: 'user.signed_up', version: 1 }),
      ]);
      expect(run.problems[0]?.message).toContain('user.signed_up v1 was removed');
    });
  });

  describe('when a new version has no snapshot yet', () => {
    beforeEach(async () => {
      await rm(join(dir, 'user.signed_up.v2.json'));
    });

    it('reports it and fails the check', async () => {
      const run = await runSchemaCheck({ dir });
      expect(run.ok).toBe(false);
      expect(run.problems).toEqual([]);
      expect(run.missing).toEqual([
        expect.objectContaining({ type: 'user.signed_up', version: 2 }),
      ]);
      expect(run.missing[0]?.message).toContain('schemas:update');
    });

    it('is written by update, identical to the committed one', async () => {
      const run = await runSchemaCheck({ dir, update: true });
      expect(run).toMatchObject({ ok: true, written: ['user.signed_up.v2.json'] });
      expect(await readJson('user.signed_up.v2.json')).toEqual(
        JSON.parse(await readFile(join(snapshotsDir, 'user.signed_up.v2.json'), 'utf8')),
      );
      expect((await runSchemaCheck({ dir })).ok).toBe(true);
    });

    it('never overwrites an existing snapshot on update', async () => {
      await editSnapshot('user.signed_up.v1.json', (schema) => {
        properties(schema).plan = { type: 'integer' };
      });
      const broken = await readFile(join(dir, 'user.signed_up.v1.json'), 'utf8');

      const run = await runSchemaCheck({ dir, update: true });

      expect(run.written).toEqual(['user.signed_up.v2.json']);
      expect(run.ok).toBe(false);
      expect(run.problems.map((p) => p.field)).toEqual(['plan']);
      expect(await readFile(join(dir, 'user.signed_up.v1.json'), 'utf8')).toBe(broken);
    });
  });

  describe('when a snapshot is not JSON', () => {
    it('fails with the file name', async () => {
      await writeFile(join(dir, 'payment.failed.v1.json'), '{ not json');
      await expect(runSchemaCheck({ dir })).rejects.toThrow('payment.failed.v1.json');
    });
  });
});
