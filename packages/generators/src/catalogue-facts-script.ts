/**
 * Run in a child process by readCatalogueFacts (never imported): prints, as
 * one JSON line on stdout, what the catalogue and routing table in the
 * repo's current source say. A child process, with the `@switchyard/source`
 * condition, because the generator must see packages/events as it is on
 * disk now (possibly just written), not as it was built or first imported.
 *
 *   catalogue-facts-script [--sample <type>]... [--json-schema <type>@<version>]...
 */
import {
  catalogue,
  eventDataJsonSchemas,
  eventTypes,
  findEventVersion,
  latestVersion,
  subscribers,
  versionsOf,
} from '@switchyard/events';
import type { CatalogueFacts } from './catalogue-facts.js';
import { samplePayload } from './sample-payload.js';

const args = process.argv.slice(2);
const wanted = (flag: string): string[] =>
  args.flatMap((arg, i) => (arg === flag && args[i + 1] !== undefined ? [args[i + 1]!] : []));

const schemas = eventDataJsonSchemas();
const facts: CatalogueFacts = {
  events: Object.fromEntries(
    eventTypes.map((type) => {
      const latest = latestVersion(type);
      const definition = findEventVersion(type, latest);
      return [
        type,
        {
          versions: versionsOf(type),
          latest,
          businessKey: [...(definition?.businessKey ?? [])],
          description: definition?.description ?? '',
        },
      ];
    }),
  ),
  subscribers: Object.fromEntries(
    Object.entries(subscribers).map(([name, definition]) => [
      name,
      { events: [...definition.events], description: definition.description },
    ]),
  ),
  samples: {},
  jsonSchemas: {},
};

for (const type of wanted('--sample')) {
  const latest = Object.hasOwn(catalogue, type) ? latestVersion(type as keyof typeof catalogue) : 0;
  const definition = findEventVersion(type, latest);
  const jsonSchema = (schemas as Record<string, Record<number, Record<string, unknown>>>)[type]?.[
    latest
  ];
  if (definition === undefined || jsonSchema === undefined) continue;
  const data = samplePayload(jsonSchema, 'sample_1');
  facts.samples[type] = definition.schema.safeParse(data).success
    ? { version: latest, data }
    : null;
}

for (const spec of wanted('--json-schema')) {
  const [type = '', version = ''] = spec.split('@');
  const schema = (schemas as Record<string, Record<number, unknown>>)[type]?.[Number(version)];
  if (schema !== undefined) facts.jsonSchemas[spec] = schema;
}

process.stdout.write(`${JSON.stringify(facts)}\n`);
