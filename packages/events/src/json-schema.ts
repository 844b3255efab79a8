/**
 * JSON Schema (draft 2020-12) of every event version, generated from the zod
 * catalogue. Used by the producer's OpenAPI document and, later, by the
 * compatibility snapshots.
 */
import { z } from 'zod';
import { catalogue, eventTypes, versionsOf, type EventType } from './catalogue.js';
import { publishRequestSchema } from './envelope.js';

export type JsonSchema = Record<string, unknown>;

function toJsonSchema(schema: z.ZodType): JsonSchema {
  // `io: 'input'` describes what a publisher may send.
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
}

/** `{ [type]: { [version]: JSON Schema of data } }` for the whole catalogue. */
export function eventDataJsonSchemas(): Record<EventType, Record<number, JsonSchema>> {
  const out = {} as Record<EventType, Record<number, JsonSchema>>;
  for (const type of eventTypes) {
    const versions: Record<number, JsonSchema> = {};
    const defined: Record<number, { schema: z.ZodType; description: string }> = catalogue[type];
    for (const version of versionsOf(type)) {
      const definition = defined[version];
      if (definition) {
        versions[version] = {
          ...toJsonSchema(definition.schema),
          description: definition.description,
        };
      }
    }
    out[type] = versions;
  }
  return out;
}

/**
 * The publish request as one JSON Schema: a `oneOf` with one branch per
 * type and version, each pinning `type` and `version` and giving its `data`.
 */
export function publishRequestJsonSchema(): JsonSchema {
  const envelope = toJsonSchema(publishRequestSchema);
  const properties = (envelope.properties ?? {}) as Record<string, JsonSchema>;
  const branches: JsonSchema[] = [];
  const schemas = eventDataJsonSchemas();
  for (const type of eventTypes) {
    for (const [version, data] of Object.entries(schemas[type])) {
      const { $schema: _ignored, ...dataSchema } = data;
      branches.push({
        title: `${type} v${version}`,
        type: 'object',
        additionalProperties: false,
        required: ['type', 'version', 'data'],
        properties: {
          ...properties,
          type: { const: type },
          version: { const: Number(version) },
          data: dataSchema,
        },
      });
    }
  }
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', oneOf: branches };
}
