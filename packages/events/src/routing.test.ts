import { describe, expect, it } from 'vitest';
import {
  catalogue,
  deadLetterQueueNameOf,
  eventDataJsonSchemas,
  eventTypes,
  findEventVersion,
  isSubscriberName,
  latestVersion,
  publishRequestJsonSchema,
  queueNameOf,
  subscriberNames,
  subscribers,
  subscribersOf,
  versionsOf,
} from './index.js';

describe('routing table', () => {
  it('fans user.signed_up out to notifications and provisioning', () => {
    expect(subscribersOf('user.signed_up')).toEqual(['notifications', 'provisioning']);
  });

  it('sends payment.failed to billing only', () => {
    expect(subscribersOf('payment.failed')).toEqual(['billing']);
  });

  it('has no subscribers for unknown or inherited names', () => {
    expect(subscribersOf('user.deleted')).toEqual([]);
    expect(subscribersOf('constructor')).toEqual([]);
    expect(isSubscriberName('toString')).toBe(false);
  });

  it('routes only catalogue types', () => {
    for (const name of subscriberNames) {
      for (const type of subscribers[name].events) expect(eventTypes).toContain(type);
    }
  });

  it('gives each subscriber a queue and a distinct dead-letter queue', () => {
    const names = subscriberNames.flatMap((s) => [queueNameOf(s), deadLetterQueueNameOf(s)]);
    expect(new Set(names).size).toBe(names.length);
    // BullMQ forbids ':' in queue names.
    for (const name of names) expect(name).not.toContain(':');
  });
});

describe('catalogue', () => {
  it('names business keys that are fields of the schema', () => {
    for (const type of eventTypes) {
      const versions: Record<
        number,
        { schema: { shape: object }; businessKey: readonly string[] }
      > = catalogue[type];
      for (const definition of Object.values(versions)) {
        expect(definition.businessKey.length).toBeGreaterThan(0);
        for (const field of definition.businessKey)
          expect(Object.keys(definition.schema.shape)).toContain(field);
      }
    }
  });

  it('knows the newest version of each type', () => {
    expect(latestVersion('user.signed_up')).toBe(2);
    expect(latestVersion('payment.failed')).toBe(1);
  });

  it('numbers versions 1..n, with an upcaster on every version but the first', () => {
    for (const type of eventTypes) {
      const versions = versionsOf(type);
      expect(versions).toEqual(versions.map((_v, index) => index + 1));
      for (const version of versions) {
        const definition = findEventVersion(type, version);
        expect(typeof definition?.upcast, `${type} v${version}`).toBe(
          version === 1 ? 'undefined' : 'function',
        );
      }
    }
  });
});

describe('JSON Schema export', () => {
  it('describes every version of every type', () => {
    const schemas = eventDataJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([...eventTypes].sort());
    expect(schemas['payment.failed'][1]).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: expect.arrayContaining([
        'userId',
        'invoiceId',
        'amountCents',
        'currency',
        'reason',
      ]) as unknown,
    });
  });

  it('gives one branch per type and version in the publish request', () => {
    const schema = publishRequestJsonSchema();
    const branches = schema.oneOf as { title: string; properties: { type: { const: string } } }[];
    // One branch per catalogue entry (derived, so `pnpm gen event` needs no edit here).
    expect(branches.map((b) => b.title)).toEqual(
      eventTypes.flatMap((type) => versionsOf(type).map((v) => `${type} v${v}`)),
    );
    expect(branches.slice(0, 3).map((b) => b.title)).toEqual([
      'user.signed_up v1',
      'user.signed_up v2',
      'payment.failed v1',
    ]);
    expect(branches[0]?.properties.type.const).toBe('user.signed_up');
  });
});
