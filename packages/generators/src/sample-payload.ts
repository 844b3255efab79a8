/**
 * A payload built from an event version's JSON Schema, for the tests of a
 * generated subscriber when its event has no fixture file (events written by
 * hand). Pure and best-effort: the caller validates the result against the
 * zod schema and asks for a fixture file when it does not pass.
 */
type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(value);
  } catch {
    try {
      return new RegExp(pattern).test(value);
    } catch {
      return false;
    }
  }
}

function sampleString(schema: Schema, name: string, seed: string): string {
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : 1_000;
  const fit = (value: string) => value.padEnd(min, 'x').slice(0, max);
  switch (schema.format) {
    case 'email':
      return `${seed}@example.com`;
    case 'date-time':
      return '2030-01-02T03:04:05.000Z';
    case 'date':
      return '2030-01-02';
    case 'uuid':
      return '0190a000-0000-7000-8000-000000000001';
    case 'uri':
    case 'url':
      return `https://example.com/${seed}`;
    default:
      break;
  }
  const pattern = schema.pattern;
  if (typeof pattern !== 'string') return fit(`${name}-${seed}`);
  const candidates = [seed, `${name}-${seed}`, 'en', 'EUR', 'sample', 'a', 'A', '1', 'a1'];
  return candidates.map(fit).find((value) => matches(pattern, value)) ?? fit(seed);
}

function sampleValue(schema: Schema, name: string, seed: string): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schema[key];
    if (Array.isArray(branches)) {
      const first = branches.find(isSchema);
      if (first) return sampleValue(first, name, seed);
    }
  }
  switch (schema.type) {
    case 'string':
      return sampleString(schema, name, seed);
    case 'integer':
    case 'number': {
      const low =
        typeof schema.minimum === 'number'
          ? schema.minimum
          : typeof schema.exclusiveMinimum === 'number'
            ? Math.floor(schema.exclusiveMinimum) + 1
            : 1;
      const high = typeof schema.maximum === 'number' ? schema.maximum : low;
      return Math.min(Math.max(low, 1), Math.max(high, low));
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const count = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const items = isSchema(schema.items) ? schema.items : {};
      return Array.from({ length: count }, (_unused, i) => sampleValue(items, name, `${seed}${i}`));
    }
    case 'object':
      return samplePayload(schema, seed);
    default:
      return `${name}-${seed}`;
  }
}

/** The required fields of an object schema, each given a plausible value. */
export function samplePayload(schema: Schema, seed: string): Record<string, unknown> {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required : Object.keys(properties);
  const out: Record<string, unknown> = {};
  for (const field of required) {
    if (typeof field !== 'string') continue;
    const property = properties[field];
    out[field] = sampleValue(isSchema(property) ? property : {}, field, seed);
  }
  return out;
}
