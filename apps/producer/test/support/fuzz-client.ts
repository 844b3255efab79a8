/**
 * The fuzzed requests of security-fuzz.test.ts, and the client that sends
 * them: run as its own process (tsx), so that building 1 MB bodies and
 * reading answers does not run on the event loop the test measures.
 *
 * Each case knows whether it is a genuinely valid request (built from the
 * catalogue's shapes with a business key no other case uses, left
 * untouched); see the test for the oracle.
 *
 * As a process: env FUZZ_URL (origin of the producer), FUZZ_API_KEY,
 * FUZZ_SEED, FUZZ_COUNT, FUZZ_CONCURRENCY, FUZZ_BATCH_MAX; writes one JSON
 * line per request (FuzzResult) to stdout, then exits 0.
 */
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';

/**
 * A JSON value written as text, so keys such as `__proto__` survive as own
 * keys. Raw pieces may be Buffers: the 1 MB strings and deep nestings are
 * built once and shared, so building a case costs a copy, not a rebuild (the
 * run measures the event loop it shares with the server).
 */
type Json =
  | { kind: 'raw'; text: string | Buffer }
  | { kind: 'object'; entries: [string, Json][] }
  | { kind: 'array'; items: Json[] };
type JsonObject = Json & { kind: 'object' };

const raw = (value: unknown): Json => ({ kind: 'raw', text: JSON.stringify(value) });
const rawText = (text: string | Buffer): Json => ({ kind: 'raw', text });
const obj = (entries: [string, Json][]): Json => ({ kind: 'object', entries });

function collect(value: Json, out: (string | Buffer)[]): void {
  if (value.kind === 'raw') {
    out.push(value.text);
  } else if (value.kind === 'array') {
    out.push('[');
    value.items.forEach((item, i) => {
      if (i > 0) out.push(',');
      collect(item, out);
    });
    out.push(']');
  } else {
    out.push('{');
    value.entries.forEach(([key, item], i) => {
      out.push(`${i > 0 ? ',' : ''}${JSON.stringify(key)}:`);
      collect(item, out);
    });
    out.push('}');
  }
}

/** The bytes of one or more JSON values, joined by `separator`, in `open`/`close`. */
function toBytes(values: Json[], open = '', close = '', separator = ','): Buffer {
  const out: (string | Buffer)[] = [open];
  values.forEach((value, i) => {
    if (i > 0) out.push(separator);
    collect(value, out);
  });
  out.push(close);
  return Buffer.concat(
    out.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece)),
  );
}

const toText = (value: Json): string => toBytes([value]).toString();

export interface Case {
  label: string;
  url: '/v1/events' | '/v1/events/batch';
  headers: Record<string, string>;
  body: () => Buffer | string | undefined;
  /** Single: the event is valid. Batch: the validity of each item (undefined: not a usable batch). */
  valid: boolean;
  items?: boolean[];
  /**
   * A mutated event: a mutation may happen to leave it valid (a wrong-type
   * value that is a legal value of that field, e.g. an integer in range), so
   * an acceptance is checked against the catalogue before it counts as a
   * failure. Every other kind of case is invalid by construction.
   */
  mayBeValid?: Buffer;
}

let unique = 0;
let idPrefix = 'fz';
const nextId = () => `${idPrefix}_${++unique}`;

/** A valid request of one of the catalogue's types, with a business key no other case uses. */
function validEvent(kind: 0 | 1): Json {
  const id = nextId();
  if (kind === 0) {
    return obj([
      ['type', raw('user.signed_up')],
      ['version', raw(1)],
      [
        'data',
        obj([
          ['userId', raw(id)],
          ['email', raw(`${id}@example.com`)],
          ['plan', raw('free')],
        ]),
      ],
    ]);
  }
  return obj([
    ['type', raw('payment.failed')],
    ['version', raw(1)],
    [
      'data',
      obj([
        ['userId', raw('u_1')],
        ['invoiceId', raw(id)],
        ['amountCents', raw(1_999)],
        ['currency', raw('EUR')],
        ['reason', raw('card declined')],
      ]),
    ],
  ]);
}

const protoKeys = ['__proto__', 'constructor', 'prototype'] as const;

const bigStrings = ['a', 'é', '@', '.', ' ', '\\\\'].flatMap((char) =>
  [1_000_000, 1_048_600].map((size) =>
    Buffer.from(`"${char.repeat(Math.ceil(size / char.length))}"`),
  ),
);
const deepNestings = [33, 1_000, 100_000, 400_000].flatMap((depth) => [
  Buffer.from('['.repeat(depth) + ']'.repeat(depth)),
  Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
]);

/** Values of a wrong or hostile kind for any field. */
const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(
    rawText('null'),
    rawText('true'),
    rawText('0'),
    rawText('-0'),
    rawText('1e400'),
    rawText('-1e400'),
    rawText('1e-400'),
    rawText('123456789012345678901234567890123456789'),
    rawText('9007199254740993'),
    rawText('1.5'),
    rawText('""'),
    rawText('[]'),
    rawText('{}'),
    rawText('"\\u0000"'),
    rawText('"\\ud800"'),
    rawText('"\\udfff\\ud800"'),
    rawText('"<script>alert(1)</script>"'),
    rawText('"../../etc/passwd"'),
    rawText('"${jndi:ldap://x}"'),
    rawText('{"$gt":""}'),
  ),
  fc.string({ maxLength: 40 }).map(raw),
  fc.integer().map(raw),
  fc.double().map((value) => rawText(Number.isFinite(value) ? String(value) : '1e999')),
  // A 1 MB string (under the 1 MiB body limit with the rest of the event, or just over it).
  fc.constantFrom(...bigStrings).map(rawText),
  // Deep nesting of arrays or objects.
  fc.constantFrom(...deepNestings).map(rawText),
  // A prototype key holding something that would pollute if merged.
  fc.constantFrom(...protoKeys).map((key) => obj([[key, obj([['polluted', raw('yes')]])]])),
);

/**
 * A mutation that makes a valid event invalid (the schemas are strict, so
 * every one must be caught): `inData` picks the level, `position` the field.
 */
type Mutation = (event: JsonObject, inData: boolean, position: number) => void;
function levelOf(event: JsonObject, inData: boolean): JsonObject {
  const data = event.entries.find(([key]) => key === 'data')?.[1];
  return data?.kind === 'object' && inData ? data : event;
}

function mutations(value: Json): Mutation[] {
  return [
    // A field of the wrong type or value.
    (event, inData, position) => {
      const target = levelOf(event, inData);
      if (target.entries.length === 0) return;
      const at = position % target.entries.length;
      target.entries[at] = [target.entries[at]![0], value];
    },
    // A field missing.
    (event, inData, position) => {
      const target = levelOf(event, inData);
      if (target.entries.length === 0) return;
      target.entries.splice(position % target.entries.length, 1);
    },
    // An extra field (also a prototype key, at either level).
    (event, inData, position) => {
      const keys = ['extra', 'id', 'isAdmin', ...protoKeys];
      levelOf(event, inData).entries.push([keys[position % keys.length]!, value]);
    },
  ];
}

const contentTypes = [
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/jsonx',
  'application/json-patch+json',
  'application/octet-stream',
  'json',
  '*/*',
  '',
];
const charsets = ['utf-16', 'utf-16le', 'latin1', 'iso-8859-1', 'utf-32', 'x-unknown', 'UTF-7'];

const json = { 'content-type': 'application/json' };

/** A random run of bytes, often not UTF-8 at all. */
const garbage = fc
  .uint8Array({ minLength: 1, maxLength: 4_096 })
  .map((bytes) => Buffer.from(bytes));

/** Byte sequences that are not valid UTF-8. */
const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xaf], // overlong '/'
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80], // an encoded surrogate
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
  [0xc3],
);

function singleCase(
  label: string,
  event: Json,
  valid: boolean,
  headers: Record<string, string> = json,
): Case {
  const bytes = toBytes([event]);
  return { label, url: '/v1/events', headers, body: () => bytes, valid };
}

function caseArbitrary(batchMax: number): fc.Arbitrary<() => Case> {
  return fc.oneof(
    // Genuinely valid events.
    {
      weight: 3,
      arbitrary: fc
        .constantFrom<0 | 1>(0, 1)
        .map((kind) => () => singleCase('valid', validEvent(kind), true)),
    },
    // Valid events with one to three mutations.
    {
      weight: 10,
      arbitrary: fc
        .record({
          kind: fc.constantFrom<0 | 1>(0, 1),
          values: fc.array(hostileValue, { minLength: 1, maxLength: 3 }),
          steps: fc.array(
            fc.record({ mutation: fc.nat(2), inData: fc.boolean(), position: fc.nat(20) }),
            {
              minLength: 3,
              maxLength: 3,
            },
          ),
        })
        .map(({ kind, values, steps }) => () => {
          const event = validEvent(kind) as JsonObject;
          values.forEach((value, i) => {
            const step = steps[i]!;
            mutations(value)[step.mutation]!(event, step.inData, step.position);
          });
          const single = singleCase('mutated', event, false);
          return { ...single, mayBeValid: single.body() as Buffer };
        }),
    },
    // Prototype keys at the top level, in data, and nested in a value, as the only change.
    {
      weight: 3,
      arbitrary: fc
        .record({
          kind: fc.constantFrom<0 | 1>(0, 1),
          key: fc.constantFrom(...protoKeys),
          level: fc.nat(2),
        })
        .map(({ kind, key, level }) => () => {
          const event = validEvent(kind) as JsonObject;
          const payload = obj([
            ['polluted', raw('yes')],
            ['prototype', obj([['polluted', raw('yes')]])],
          ]);
          const data = event.entries.find(([name]) => name === 'data')![1] as JsonObject;
          if (level === 0) event.entries.push([key, payload]);
          else if (level === 1) data.entries.push([key, payload]);
          else data.entries.push(['nested', obj([['deeper', obj([[key, payload]])]])]);
          return singleCase(`proto:${key}@${level}`, event, false);
        }),
    },
    // A valid event under another content type or charset.
    {
      weight: 2,
      arbitrary: fc
        .record({
          type: fc.constantFrom(...contentTypes),
          charset: fc.option(fc.constantFrom(...charsets)),
        })
        .map(({ type, charset }) => () => {
          const headers: Record<string, string> =
            charset === null
              ? { 'content-type': type }
              : { 'content-type': `application/json; charset=${charset}` };
          const event = validEvent(0);
          let text = toText(event);
          // A UTF-16 body really in UTF-16, so a server that guessed right could read it.
          if (charset?.startsWith('utf-16') === true)
            text = Buffer.from(text, 'utf16le').toString('latin1');
          return {
            label: `content-type:${headers['content-type']}`,
            url: '/v1/events' as const,
            headers,
            body: () => Buffer.from(text, 'latin1'),
            valid: false,
          };
        }),
    },
    // Garbage bytes.
    {
      weight: 2,
      arbitrary: garbage.map((bytes) => () => ({
        label: 'garbage',
        url: '/v1/events' as const,
        headers: json,
        body: () => bytes,
        valid: false,
      })),
    },
    // An otherwise valid event with invalid UTF-8 inside a string the schema accepts as any text.
    {
      weight: 2,
      arbitrary: invalidUtf8.map((bytes) => () => {
        const text = toText(validEvent(1));
        const at = text.indexOf('card declined') + 4;
        const body = Buffer.concat([
          Buffer.from(text.slice(0, at)),
          Buffer.from(bytes),
          Buffer.from(text.slice(at)),
        ]);
        return {
          label: `invalid-utf8:${bytes.join(',')}`,
          url: '/v1/events' as const,
          headers: json,
          body: () => body,
          valid: false,
        };
      }),
    },
    // Empty and degenerate bodies.
    {
      weight: 2,
      arbitrary: fc
        .record({
          body: fc.constantFrom(
            undefined,
            '',
            ' ',
            '\n',
            'null',
            '[]',
            '{}',
            '""',
            'true',
            '0',
            '{',
            '}',
            '\uFEFF{}',
            '{"type":',
          ),
          withType: fc.boolean(),
        })
        .map(({ body, withType }) => () => ({
          label: `empty:${JSON.stringify(body)}:${withType}`,
          url: '/v1/events' as const,
          headers: withType ? json : {},
          body: () => body,
          valid: false,
        })),
    },
    // Header oddities on a valid body.
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('x'.repeat(8_000), '', ' ', 'a b', 'caf\u00e9')
        .map((key) => () => ({
          ...singleCase('idempotency-header', validEvent(0), false, {
            ...json,
            'idempotency-key': key,
          }),
        })),
    },
    // Batches: valid and invalid items mixed, and degenerate batches.
    {
      weight: 5,
      arbitrary: fc
        .record({
          items: fc.array(
            fc.record({
              valid: fc.boolean(),
              value: hostileValue,
              kind: fc.constantFrom<0 | 1>(0, 1),
            }),
            {
              minLength: 1,
              maxLength: 10,
            },
          ),
        })
        .map(({ items }) => () => {
          const events: Json[] = [];
          const validity: boolean[] = [];
          for (const item of items) {
            const event = validEvent(item.kind) as JsonObject;
            if (!item.valid) {
              const data = event.entries.find(([key]) => key === 'data')![1] as JsonObject;
              data.entries.push(['extra', item.value]);
            }
            events.push(event);
            validity.push(item.valid);
          }
          const bytes = toBytes(events, '[', ']');
          // A batch over the body limit, or nesting too deep, is refused whole (4xx).
          const over = bytes.length > 1_048_576;
          return {
            label: 'batch',
            url: '/v1/events/batch' as const,
            headers: json,
            body: () => bytes,
            valid: false,
            ...(over ? {} : { items: validity }),
          };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '[]',
          '{}',
          'null',
          `[${'{}'.repeat(0)}]`,
          `[${Array(batchMax + 1)
            .fill('{}')
            .join(',')}]`,
          '[[[[[]]]]]',
          '[1,2,3]',
        )
        .map((text) => () => {
          // An array of non-events is a usable batch whose every item is rejected.
          const parsed = JSON.parse(text) as unknown;
          const usable = Array.isArray(parsed) && parsed.length > 0 && parsed.length <= batchMax;
          return {
            label: `batch-degenerate:${text.slice(0, 20)}`,
            url: '/v1/events/batch' as const,
            headers: json,
            body: () => text,
            valid: false,
            ...(usable ? { items: (parsed as unknown[]).map(() => false) } : {}),
          };
        }),
    },
  );
}

/** What the client reports for one request. */
export interface FuzzResult {
  index: number;
  label: string;
  url: string;
  valid: boolean;
  items?: boolean[];
  status: number;
  /** The answer's body (at most 64 KiB). */
  body: string;
  /** For a mutated case answered 2xx: the request text, for the catalogue check. */
  requestText?: string;
  /** Bytes in the request body. */
  bodyBytes: number;
  /** A transport failure instead of an answer (connection reset, timeout). */
  transportError?: string;
}

/** The thunks of `count` cases for `seed`; calling one builds the case (and its unique ids). */
export function fuzzCases(seed: number, count: number, batchMax: number): (() => Case)[] {
  idPrefix = `fz_${seed}`;
  return fc.sample(caseArbitrary(batchMax), { seed, numRuns: count });
}

/** Bound on one request, answer included. */
const requestTimeoutMs = 30_000;

function send(
  origin: string,
  apiKey: string,
  spec: Case,
  body: Buffer | string | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${origin}${spec.url}`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...spec.headers,
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
        },
        timeout: requestTimeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= 65_536) chunks.push(chunk);
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () =>
      request.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)),
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function main(): Promise<void> {
  const origin = process.env.FUZZ_URL!;
  const apiKey = process.env.FUZZ_API_KEY!;
  const cases = fuzzCases(
    Number(process.env.FUZZ_SEED),
    Number(process.env.FUZZ_COUNT),
    Number(process.env.FUZZ_BATCH_MAX),
  );
  const concurrency = Number(process.env.FUZZ_CONCURRENCY);
  let next = 0;
  const lines: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < cases.length) {
        const index = next++;
        const spec = cases[index]!();
        const body = spec.body();
        const base = {
          index,
          label: spec.label,
          url: spec.url,
          valid: spec.valid,
          bodyBytes: body === undefined ? 0 : Buffer.byteLength(body),
          ...(spec.items ? { items: spec.items } : {}),
        };
        let result: FuzzResult;
        try {
          const answer = await send(origin, apiKey, spec, body);
          result = {
            ...base,
            ...answer,
            ...(spec.mayBeValid !== undefined && answer.status < 300
              ? { requestText: spec.mayBeValid.toString() }
              : {}),
          };
        } catch (error) {
          result = { ...base, status: 0, body: '', transportError: String(error) };
        }
        lines.push(JSON.stringify(result));
      }
    }),
  );
  // Exit only once the pipe took every line: process.exit would cut a pending write.
  await new Promise<void>((resolve) =>
    process.stdout.write(`${lines.join('\n')}\n`, () => resolve()),
  );
}

if (process.argv[1]?.endsWith('fuzz-client.ts') === true) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
