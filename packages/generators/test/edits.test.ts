/**
 * The pure edits behind the generators, on small inputs: naming rules, the
 * registry object edit, and the shared-file edits (found by structure,
 * idempotent, conflicts reported).
 */
import { describe, expect, it } from 'vitest';
import {
  ensureComposeService,
  ensureKustomizeResource,
  ensurePrometheusComposeName,
  healthPortBases,
  renderPrometheusWorkers,
  renderReadmeWorkers,
} from '../src/infra-edits.js';
import { checkEventType, checkSubscriberName } from '../src/names.js';
import { findRegistryObject, normaliseSource } from '../src/object-literal-edit.js';
import { samplePayload } from '../src/sample-payload.js';

describe('naming rules', () => {
  it.each(['order.shipped', 'invoice_line.paid', 'a.b.c', 'user2.signed_up'])(
    'accepts the event type %s',
    (type) => {
      expect(() => checkEventType(type)).not.toThrow();
    },
  );

  it.each([
    ['order', 'SY_ERR_GEN_NAME_INVALID'],
    ['Order.shipped', 'SY_ERR_GEN_NAME_INVALID'],
    ['order-shipped.now', 'SY_ERR_GEN_NAME_INVALID'],
    ['order..shipped', 'SY_ERR_GEN_NAME_INVALID'],
    ['order.shipped_', 'SY_ERR_GEN_NAME_INVALID'],
    [`order.${'x'.repeat(100)}`, 'SY_ERR_GEN_NAME_INVALID'],
    ['dlq.moved', 'SY_ERR_GEN_NAME_RESERVED'],
  ])('refuses the event type %s with %s', (type, code) => {
    expect(() => checkEventType(type)).toThrow(expect.objectContaining({ code }));
  });

  it.each(['audit', 'fraud-check', 'crm2-sync'])('accepts the subscriber %s', (name) => {
    expect(() => checkSubscriberName(name)).not.toThrow();
  });

  it.each([
    ['Fraud', 'SY_ERR_GEN_NAME_INVALID'],
    ['fraud_check', 'SY_ERR_GEN_NAME_INVALID'],
    ['fraud--check', 'SY_ERR_GEN_NAME_INVALID'],
    ['-fraud', 'SY_ERR_GEN_NAME_INVALID'],
    ['2fa', 'SY_ERR_GEN_NAME_INVALID'],
    ['worker-audit', 'SY_ERR_GEN_NAME_INVALID'],
    ['x'.repeat(41), 'SY_ERR_GEN_NAME_INVALID'],
    ...['dlq', 'schedules', 'producer', 'dashboard', 'sandbox', 'cli', 'stack'].map(
      (name) => [name, 'SY_ERR_GEN_NAME_RESERVED'] as [string, string],
    ),
  ])('refuses the subscriber %s with %s', (name, code) => {
    expect(() => checkSubscriberName(name)).toThrow(expect.objectContaining({ code }));
  });
});

describe('the registry object edit', () => {
  const source = `import x from 'y';
// a comment
export const subscribers = {
  billing: { description: 'b', events: ['payment.failed'] },
  'fraud-check': { description: 'f', events: [] } // last, no comma
} as const satisfies Record<string, unknown>;
`;

  it('finds the entries, quoted or not', () => {
    const registry = findRegistryObject(source, 'routing.ts', 'subscribers');
    expect(registry.names).toEqual(['billing', 'fraud-check']);
    expect(registry.propertyText('fraud-check')).toBe(
      "'fraud-check': { description: 'f', events: [] }",
    );
  });

  it('appends an entry after the last one, adding the missing comma', () => {
    const registry = findRegistryObject(source, 'routing.ts', 'subscribers');
    const edited = registry.withProperty("  audit: { description: 'a', events: [] }");
    const again = findRegistryObject(edited, 'routing.ts', 'subscribers');
    expect(again.names).toEqual(['billing', 'fraud-check', 'audit']);
    expect(edited.endsWith('} as const satisfies Record<string, unknown>;\n')).toBe(true);
  });

  it('names the file when the variable is gone', () => {
    expect(() =>
      findRegistryObject('export const other = {};', 'routing.ts', 'subscribers'),
    ).toThrow(/routing\.ts: found no "const subscribers/);
  });

  it('compares entries regardless of wrapping and trailing commas', () => {
    expect(normaliseSource('a: {\n  b: [1, 2,],\n}')).toBe(normaliseSource('a: { b: [1, 2] }'));
  });
});

describe('docker-compose.yml edit', () => {
  const compose = `x-worker: &worker
  init: true

services:
  redis:
    image: redis

  worker-billing:
    <<: *worker
    build: { context: . }

  prometheus:
    image: prom
`;

  it('adds the service after the last worker, and finds it there the second time', () => {
    const first = ensureComposeService(compose, 'worker-audit');
    expect(first.text).toContain(
      '  worker-billing:\n    <<: *worker\n    build: { context: . }\n\n  worker-audit:\n',
    );
    expect(first.text).toMatch(/worker-audit:[\s\S]*\n\n {2}prometheus:/);
    expect(ensureComposeService(first.text!, 'worker-audit')).toEqual({ text: first.text });
  });

  it('reports a conflict when a service of that name differs', () => {
    const other = `${compose}  worker-audit:\n    image: mine\n`;
    expect(ensureComposeService(other, 'worker-audit').conflict).toMatch(/already has a service/);
  });
});

describe('kustomization edit', () => {
  const kustomization =
    'kind: Kustomization\nresources:\n  - producer.yaml\n  - worker-billing.yaml\nimages: []\n';

  it('adds the manifest once', () => {
    const first = ensureKustomizeResource(kustomization, 'worker-audit', 'k.yaml');
    expect(first.text).toBe(
      'kind: Kustomization\nresources:\n  - producer.yaml\n  - worker-billing.yaml\n  - worker-audit.yaml\nimages: []\n',
    );
    expect(ensureKustomizeResource(first.text!, 'worker-audit', 'k.yaml').text).toBe(first.text);
  });
});

describe('health ports and the lists that show them', () => {
  const apps = ['worker-notifications', 'worker-billing', 'worker-audit'];

  it('follows the stack: name order, 100 apart from 3100', () => {
    expect([...healthPortBases(apps)]).toEqual([
      ['worker-audit', 3100],
      ['worker-billing', 3200],
      ['worker-notifications', 3300],
    ]);
  });

  it("rewrites the README rows in that order, keeping each row's text", () => {
    const readme = [
      '| app | port | does |',
      '| --- | --- | --- |',
      '| [cli](apps/cli/README.md) | — | ops |',
      '| [worker-billing](apps/worker-billing/README.md) | 3100, 3101, … (health) | alerts |',
      '| [worker-notifications](apps/worker-notifications/README.md) | 3200, 3201, … (health) | mails |',
      '',
    ].join('\n');
    const out = renderReadmeWorkers(readme, apps, { app: 'worker-audit', does: 'audits' }).text!;
    expect(out.split('\n').slice(3, 6)).toEqual([
      '| [worker-audit](apps/worker-audit/README.md) | 3100, 3101, … (health) | audits |',
      '| [worker-billing](apps/worker-billing/README.md) | 3200, 3201, … (health) | alerts |',
      '| [worker-notifications](apps/worker-notifications/README.md) | 3300, 3301, … (health) | mails |',
    ]);
    expect(renderReadmeWorkers(out, apps, { app: 'worker-audit', does: 'audits' }).text).toBe(out);
  });

  it('rewrites the static Prometheus targets of the workers job', () => {
    const config = [
      'scrape_configs:',
      '  - job_name: workers',
      '    static_configs:',
      "      - targets: ['127.0.0.1:3100', '127.0.0.1:3101']",
      '        labels: { app: worker-billing }',
      '',
      '  # a comment that stays',
    ].join('\n');
    const out = renderPrometheusWorkers(config, apps).text!;
    expect(out).toContain(
      "      - targets: ['127.0.0.1:3100', '127.0.0.1:3101']\n        labels: { app: worker-audit }\n      - targets: ['127.0.0.1:3200', '127.0.0.1:3201']\n        labels: { app: worker-billing }",
    );
    expect(out.endsWith('\n\n  # a comment that stays')).toBe(true);
  });

  it('adds the service name to the compose scrape config once', () => {
    const line = '      - { names: [worker-billing], type: A, port: 3100 }';
    const out = ensurePrometheusComposeName(line, 'worker-audit').text!;
    expect(out).toBe('      - { names: [worker-billing, worker-audit], type: A, port: 3100 }');
    expect(ensurePrometheusComposeName(out, 'worker-audit').text).toBe(out);
  });
});

describe('sample payloads from a JSON Schema', () => {
  it('fills required fields within their constraints', () => {
    const schema = {
      type: 'object',
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' },
        email: { type: 'string', format: 'email' },
        plan: { enum: ['free', 'pro'] },
        currency: { type: 'string', pattern: '^[A-Z]{3}$' },
        cents: { type: 'integer', minimum: 1, maximum: 100 },
        note: { type: 'string' },
      },
      required: ['id', 'email', 'plan', 'currency', 'cents'],
    };
    expect(samplePayload(schema, 'sample_1')).toEqual({
      id: 'sample_1',
      email: 'sample_1@example.com',
      plan: 'free',
      currency: 'EUR',
      cents: 1,
    });
  });
});
