/**
 * `pnpm gen event <type>`: adds `<type>` version 1 to the catalogue with its
 * business key, its JSON Schema snapshot, fixture payloads and a unit test.
 *
 * Contract: every check runs before anything is written; a name already in
 * use (in the catalogue, or a file this would write that holds something
 * else) is refused with NameTakenError; re-running with the same answers
 * when everything is in place writes nothing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCatalogueFacts } from './catalogue-facts.js';
import { applyChanges, ChangeSet } from './change-set.js';
import { EditAnchorError, GenerateStepError, InvalidNameError, NameTakenError } from './errors.js';
import {
  catalogueEntry,
  defaultEventDescription,
  eventFixtures,
  eventTest,
  eventTestPath,
  fixturesPath,
  snapshotPath,
} from './event-templates.js';
import { formatSource } from './format-source.js';
import { checkEventType } from './names.js';
import { findRegistryObject, normaliseSource } from './object-literal-edit.js';

export const catalogueFile = 'packages/events/src/catalogue.ts';

export interface EventAnswers {
  type: string;
  /** One line for humans. Default: from the type (`order.shipped` -> "Order shipped."). */
  description?: string | undefined;
}

export interface GenerateResult {
  /** Files written (repo-relative), in order; empty when everything was in place. */
  written: string[];
  /** Lines for the person who ran it: what was done and what to do next. */
  notes: string[];
}

export function checkDescription(description: string): void {
  if (description.length < 1 || description.length > 200 || /[\r\n]/.test(description)) {
    throw new InvalidNameError('--description must be one line of 1 to 200 characters');
  }
}

export async function generateEvent(root: string, answers: EventAnswers): Promise<GenerateResult> {
  const { type } = answers;
  checkEventType(type);
  const description = answers.description ?? defaultEventDescription(type);
  checkDescription(description);
  const input = { type, description };

  const set = new ChangeSet(root);
  const source = set.require(catalogueFile);
  if (!/import\s*\{[^}]*\bentityId\b[^}]*\}\s*from\s*'\.\/fields\.js'/.test(source)) {
    throw new EditAnchorError(
      `${catalogueFile} no longer imports entityId from './fields.js'; the generated schema uses it`,
    );
  }
  const registry = findRegistryObject(source, catalogueFile, 'catalogue');
  const entry = catalogueEntry(input);
  const existing = registry.propertyText(type);
  if (existing === undefined) {
    set.write(catalogueFile, await formatSource(root, catalogueFile, registry.withProperty(entry)));
  } else if (normaliseSource(existing) !== normaliseSource(entry.trim())) {
    set.conflicts.push(
      `${catalogueFile} already declares "${type}" (not as generated with these answers)`,
    );
  }

  const snapshot = snapshotPath(type);
  const needsSnapshot = !set.exists(snapshot);
  if (existing === undefined && !needsSnapshot) {
    set.conflicts.push(`${snapshot} exists, but the catalogue has no "${type}"`);
  }
  for (const [path, text] of [
    [fixturesPath(type), eventFixtures(input)],
    [eventTestPath(type), eventTest(input)],
  ] as const) {
    set.ensureFile(path, await formatSource(root, path, text));
  }

  if (set.conflicts.length > 0) {
    throw new NameTakenError(
      `event type "${type}" is taken:\n  - ${set.conflicts.join('\n  - ')}\nNothing was changed. Pick another type, or add a version to the existing one by hand (see packages/events/src/catalogue.ts).`,
    );
  }
  const changes = set.changes();
  if (changes.length === 0 && !needsSnapshot) {
    return { written: [], notes: [`event type "${type}" is already generated; nothing changed`] };
  }

  const written = changes.map((change) => change.path);
  await applyChanges(root, changes, async () => {
    if (!needsSnapshot) return;
    // The snapshot is what packages/events computes from the catalogue just
    // written, exactly as `schemas:check` will compare it.
    const facts = await readCatalogueFacts({ jsonSchemas: [`${type}@1`] });
    const schema = facts.jsonSchemas[`${type}@1`];
    if (schema === undefined) {
      throw new GenerateStepError(`the written catalogue does not declare ${type} v1`);
    }
    const text = await formatSource(root, snapshot, `${JSON.stringify(schema, null, 2)}\n`);
    await writeFile(join(root, snapshot), text, { flag: 'wx' });
    written.push(snapshot);
  });
  return {
    written: [...written].sort(),
    notes: [
      `added ${type} v1 to the catalogue (business key: the generated id field); edit its schema in ${catalogueFile} before the first publish`,
      `test it: pnpm --filter @switchyard/events exec vitest run test/${type}.v1.test.ts`,
      `route it to a new worker: pnpm gen subscriber <name> --on ${type}`,
    ],
  };
}
