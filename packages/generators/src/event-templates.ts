/**
 * What `pnpm gen event <type>` writes: the catalogue entry (version 1 with
 * its business key), the fixture payloads and the unit test. The JSON Schema
 * snapshot is not templated: it is computed from the written catalogue by
 * packages/events itself (see generate-event.ts).
 */
import { businessKeyFieldOf } from './names.js';

export interface EventTemplateInput {
  type: string;
  description: string;
}

/** The default description: `order.shipped` -> "Order shipped." */
export function defaultEventDescription(type: string): string {
  const words = type.split('.').join(' ').replace(/_/g, ' ');
  return `${words.charAt(0).toUpperCase()}${words.slice(1)}.`;
}

const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The property added to `catalogue` in packages/events/src/catalogue.ts. */
export function catalogueEntry({ type, description }: EventTemplateInput): string {
  const key = businessKeyFieldOf(type);
  return `  ${quote(type)}: {
    1: defineEventVersion({
      description: ${quote(description)},
      schema: z.strictObject({
        ${key}: entityId,
        summary: z.string().min(1).max(500),
      }),
      businessKey: [${quote(key)}],
    }),
  }`;
}

export function fixturesPath(type: string, version = 1): string {
  return `packages/events/test/fixtures/${type}.v${version}.json`;
}

export function eventTestPath(type: string): string {
  return `packages/events/test/${type}.v1.test.ts`;
}

export function snapshotPath(type: string, version = 1): string {
  return `packages/events/schemas/${type}.v${version}.json`;
}

/** Valid payloads (two, differing in every field) and invalid ones, each with the path zod names. */
export function eventFixtures({ type }: EventTemplateInput): string {
  const key = businessKeyFieldOf(type);
  const noun = type.split('.')[0] ?? 'entity';
  const valid = [
    { [key]: `${noun}_1`, summary: `first sample ${type}` },
    { [key]: `${noun}_2`, summary: `second sample ${type}` },
  ];
  const ok = valid[0]!;
  const invalid = [
    { why: `${key} is missing`, path: [key], data: { summary: ok.summary } },
    { why: `${key} is empty`, path: [key], data: { ...ok, [key]: '' } },
    { why: `${key} holds a space`, path: [key], data: { ...ok, [key]: `${noun} 1` } },
    { why: 'summary is not a string', path: ['summary'], data: { ...ok, summary: 42 } },
    {
      why: 'summary is over 500 characters',
      path: ['summary'],
      data: { ...ok, summary: 'x'.repeat(501) },
    },
    { why: 'a field the schema does not declare is sent', path: [], data: { ...ok, extra: true } },
  ];
  return `${JSON.stringify({ valid, invalid }, null, 2)}\n`;
}

export function eventTest({ type }: EventTemplateInput): string {
  return `/**
 * ${type} v1, as \`pnpm gen event\` wrote it: its schema against the
 * payloads in fixtures/${type}.v1.json, its committed JSON Schema snapshot,
 * and its idempotency key. When you change the schema in src/catalogue.ts
 * (before the first publish; afterwards add version 2 instead), change the
 * fixtures and the snapshot with it (\`pnpm --filter @switchyard/events
 * schemas:update\` after deleting schemas/${type}.v1.json).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  catalogue,
  createEnvelope,
  deriveIdempotencyKey,
  eventDataJsonSchemas,
  parsePublishRequest,
} from '../src/index.js';

interface Fixtures {
  valid: Record<string, unknown>[];
  invalid: { why: string; path: (string | number)[]; data: Record<string, unknown> }[];
}

const type = ${quote(type)};
const definition = catalogue[type][1];
const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/${type}.v1.json', import.meta.url), 'utf8'),
) as Fixtures;
const snapshot = JSON.parse(
  readFileSync(new URL('../schemas/${type}.v1.json', import.meta.url), 'utf8'),
) as unknown;

const keyOf = (data: Record<string, unknown>) =>
  deriveIdempotencyKey({ type, version: 1, data, definition });

describe(\`\${type} v1\`, () => {
  describe('a valid payload', () => {
    it.each(fixtures.valid.map((data) => [JSON.stringify(data), data] as const))(
      'is accepted unchanged: %s',
      (_name, data) => {
        expect(definition.schema.parse(data)).toEqual(data);
      },
    );

    it('is published with a key derived from its business key', () => {
      const data = fixtures.valid[0]!;
      const envelope = createEnvelope(parsePublishRequest({ type, version: 1, data }));
      expect(envelope).toMatchObject({ type, version: 1, data, idempotencyKey: keyOf(data) });
      expect(envelope.idempotencyKey.startsWith(\`\${type}:v1:\`)).toBe(true);
    });
  });

  describe('an invalid payload', () => {
    it.each(fixtures.invalid.map((fixture) => [fixture.why, fixture] as const))(
      'is refused when %s',
      (_why, fixture) => {
        const result = definition.schema.safeParse(fixture.data);
        expect(result.success).toBe(false);
        expect(result.error?.issues.map((issue) => issue.path)).toContainEqual(fixture.path);
      },
    );
  });

  describe('its idempotency key', () => {
    const [first, second] = fixtures.valid as [Record<string, unknown>, Record<string, unknown>];
    const keyFields = new Set<string>(definition.businessKey);
    /** first's business key with every other field taken from second. */
    const sameFact = Object.fromEntries(
      Object.keys(first).map((field) => [field, keyFields.has(field) ? first[field] : second[field]]),
    );

    it('is the same for two payloads with the same business key', () => {
      expect(sameFact).not.toEqual(first);
      expect(keyOf(sameFact)).toBe(keyOf(first));
    });

    it('differs when the business key differs', () => {
      expect(keyOf(second)).not.toBe(keyOf(first));
    });
  });

  describe('its JSON Schema', () => {
    it('matches the committed snapshot in schemas/', () => {
      expect(eventDataJsonSchemas()[type][1]).toEqual(snapshot);
    });
  });
});
`;
}
