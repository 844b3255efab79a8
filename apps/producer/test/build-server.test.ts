import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publishRequestJsonSchema } from '@switchyard/events';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import {
  apiKey,
  openProducer,
  paymentFailed,
  secondApiKey,
  signedUp,
  type ProducerFixture,
  type RequestSpec,
} from './support/producer-fixture.js';

let server: RedisHandle;
let fx: ProducerFixture;

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await fx?.close();
});

const nothing = { notifications: 0, provisioning: 0, billing: 0 };

interface Answer {
  eventId: string;
  idempotencyKey: string;
  status: string;
  queues: string[];
}

describe('producer HTTP API', () => {
  describe('POST /v1/events', () => {
    describe('when the event is valid', () => {
      it('answers 202 with eventId, idempotencyKey, status and queues once every subscriber queue has the job', async () => {
        fx = await openProducer(server);
        const response = await fx.request({ url: '/v1/events', body: signedUp('u_1') });

        expect(response.statusCode).toBe(202);
        const answer = response.json<Answer>();
        expect(Object.keys(answer).sort()).toEqual([
          'eventId',
          'idempotencyKey',
          'queues',
          'status',
        ]);
        expect(answer).toMatchObject({
          status: 'accepted',
          queues: ['notifications', 'provisioning'],
        });
        expect(await fx.enqueued()).toEqual({ notifications: 1, provisioning: 1, billing: 0 });
        const job = await fx.admin.hget(`${fx.prefix}:notifications:${answer.eventId}`, 'data');
        expect(JSON.parse(job!)).toMatchObject({
          id: answer.eventId,
          type: 'user.signed_up',
          data: { userId: 'u_1' },
        });
      });

      it('accepts any of the configured keys', async () => {
        fx = await openProducer(server);
        const response = await fx.request({
          url: '/v1/events',
          body: paymentFailed(),
          auth: secondApiKey,
        });

        expect(response.statusCode).toBe(202);
      });

      it('logs one line for the event, with ids, type, key, queues and status, and neither the e-mail nor the API key', async () => {
        fx = await openProducer(server);
        const response = await fx.request({
          url: '/v1/events',
          body: signedUp('u_9', { correlationId: 'corr-9', tenantId: 'acme' }),
        });
        const answer = response.json<Answer>();

        const lines = fx.logs().filter((line) => line.msg === 'event published');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({
          eventId: answer.eventId,
          type: 'user.signed_up',
          correlationId: 'corr-9',
          tenantId: 'acme',
          idempotencyKey: answer.idempotencyKey,
          queues: ['notifications', 'provisioning'],
          status: 'accepted',
        });
        expect(fx.rawLogs()).not.toContain('u_9@example.com');
        expect(fx.rawLogs()).not.toContain(apiKey);
        // One line per request (fastify's own request lines are off), written
        // after the answer, with the route, status and the event's correlation.
        const requestLines = fx.logs().filter((line) => line.msg === 'request completed');
        expect(requestLines).toHaveLength(1);
        expect(requestLines[0]).toMatchObject({
          method: 'POST',
          route: '/v1/events',
          statusCode: 202,
          reqId: lines[0]!.reqId,
          correlationId: 'corr-9',
          eventId: answer.eventId,
        });
        expect(requestLines[0]!.durationMs).toEqual(expect.any(Number));
        expect(fx.logs().some((line) => line.msg === 'incoming request')).toBe(false);
      });
    });

    describe('when an Idempotency-Key header is given', () => {
      it('uses it as the idempotency key', async () => {
        fx = await openProducer(server);
        const response = await fx.request({
          url: '/v1/events',
          body: signedUp(),
          headers: { 'idempotency-key': 'order-42' },
        });

        expect(response.statusCode).toBe(202);
        expect(response.json<Answer>().idempotencyKey).toBe('order-42');
      });
    });

    describe('when the same key and payload come again', () => {
      it('answers 202 duplicate with the first eventId and enqueues nothing more', async () => {
        fx = await openProducer(server);
        const first = (
          await fx.request({ url: '/v1/events', body: signedUp('u_2') })
        ).json<Answer>();
        const again = await fx.request({ url: '/v1/events', body: signedUp('u_2') });

        expect(again.statusCode).toBe(202);
        expect(again.json()).toEqual({ ...first, status: 'duplicate' });
        expect(await fx.enqueued()).toEqual({ notifications: 1, provisioning: 1, billing: 0 });
      });
    });

    describe('when the same key comes with a different payload', () => {
      it('answers 409 SY_ERR_IDEMPOTENCY_CONFLICT and enqueues nothing more', async () => {
        fx = await openProducer(server);
        await fx.request({ url: '/v1/events', body: paymentFailed('in_1') });
        const keysBefore = (await fx.keys()).sort();
        const changed = paymentFailed('in_1');
        changed.data.amountCents = 2_999;

        const response = await fx.request({ url: '/v1/events', body: changed });

        expect(response.statusCode).toBe(409);
        expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_IDEMPOTENCY_CONFLICT' } });
        expect(await fx.enqueued()).toEqual({ notifications: 0, provisioning: 0, billing: 1 });
        expect((await fx.keys()).sort()).toEqual(keysBefore);
      });
    });

    describe('when the request is refused', () => {
      const huge = 'x'.repeat(60_000);
      const cases: [string, RequestSpec, number, string][] = [
        [
          'no Authorization header',
          { url: '/v1/events', body: signedUp(), auth: null },
          401,
          'SY_ERR_UNAUTHORIZED',
        ],
        [
          'an unknown key',
          { url: '/v1/events', body: signedUp(), auth: 'not-a-configured-key-0000' },
          401,
          'SY_ERR_UNAUTHORIZED',
        ],
        [
          'a configured key plus a suffix',
          { url: '/v1/events', body: signedUp(), auth: `${apiKey}x` },
          401,
          'SY_ERR_UNAUTHORIZED',
        ],
        [
          'a Basic instead of a Bearer scheme',
          {
            url: '/v1/events',
            body: signedUp(),
            auth: null,
            headers: { authorization: `Basic ${apiKey}` },
          },
          401,
          'SY_ERR_UNAUTHORIZED',
        ],
        [
          'a body that is not JSON, without a key (auth comes before parsing)',
          {
            url: '/v1/events',
            body: '{"type":',
            auth: null,
            headers: { 'content-type': 'application/json' },
          },
          401,
          'SY_ERR_UNAUTHORIZED',
        ],
        [
          'a body over the limit, without a key',
          { url: '/v1/events', body: signedUp('u', { pad: huge + huge }), auth: null },
          401,
          'SY_ERR_UNAUTHORIZED',
        ],
        [
          'a body that is not JSON',
          { url: '/v1/events', body: '{"type":', headers: { 'content-type': 'application/json' } },
          400,
          'SY_ERR_INVALID_JSON',
        ],
        [
          'an empty JSON body',
          { url: '/v1/events', body: '', headers: { 'content-type': 'application/json' } },
          400,
          'SY_ERR_INVALID_JSON',
        ],
        [
          'a __proto__ key',
          {
            url: '/v1/events',
            body: '{"type":"user.signed_up","version":1,"data":{"userId":"u","email":"a@b.co","plan":"free","__proto__":{"admin":true}}}',
            headers: { 'content-type': 'application/json' },
          },
          400,
          'SY_ERR_INVALID_JSON',
        ],
        [
          'a constructor.prototype key',
          {
            url: '/v1/events',
            body: '{"type":"user.signed_up","version":1,"data":{"constructor":{"prototype":{"admin":true}}}}',
            headers: { 'content-type': 'application/json' },
          },
          400,
          'SY_ERR_INVALID_JSON',
        ],
        [
          'a text/plain body',
          {
            url: '/v1/events',
            body: JSON.stringify(signedUp()),
            headers: { 'content-type': 'text/plain' },
          },
          415,
          'SY_ERR_UNSUPPORTED_MEDIA_TYPE',
        ],
        [
          'a body without a content type',
          { url: '/v1/events', body: JSON.stringify(signedUp()) },
          415,
          'SY_ERR_UNSUPPORTED_MEDIA_TYPE',
        ],
        [
          'a body over BODY_LIMIT_BYTES',
          { url: '/v1/events', body: signedUp('u', { pad: huge + huge }) },
          413,
          'SY_ERR_BODY_TOO_LARGE',
        ],
        [
          'a version of the wrong type',
          { url: '/v1/events', body: { ...signedUp(), version: '1' } },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        [
          'data of the wrong types',
          {
            url: '/v1/events',
            body: { ...paymentFailed(), data: { ...paymentFailed().data, amountCents: '19.99' } },
          },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        [
          'an unknown event type',
          { url: '/v1/events', body: { ...signedUp(), type: 'user.vanished' } },
          400,
          'SY_ERR_UNKNOWN_EVENT_TYPE',
        ],
        [
          'an unknown version',
          { url: '/v1/events', body: { ...signedUp(), version: 7 } },
          400,
          'SY_ERR_UNKNOWN_EVENT_VERSION',
        ],
        [
          'an extra top-level key',
          { url: '/v1/events', body: { ...signedUp(), priority: 'high' } },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        [
          'an extra key in data',
          {
            url: '/v1/events',
            body: { ...signedUp(), data: { ...signedUp().data, isAdmin: true } },
          },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        [
          'a huge string in data',
          {
            url: '/v1/events',
            body: { ...paymentFailed(), data: { ...paymentFailed().data, reason: huge } },
          },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        ['a JSON array', { url: '/v1/events', body: [signedUp()] }, 400, 'SY_ERR_SCHEMA_INVALID'],
        [
          'JSON null',
          { url: '/v1/events', body: 'null', headers: { 'content-type': 'application/json' } },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        [
          'an Idempotency-Key header with spaces',
          { url: '/v1/events', body: signedUp(), headers: { 'idempotency-key': 'has spaces' } },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
      ];

      it.each(cases)(
        'answers %s with the right status and code, never 5xx, and enqueues nothing',
        async (_name, spec, status, code) => {
          fx = await openProducer(server);
          const response = await fx.request(spec);

          expect(response.statusCode).toBe(status);
          const body = response.json<{ error: Record<string, unknown> }>();
          expect(Object.keys(body)).toEqual(['error']);
          expect(body.error).toMatchObject({ code, message: expect.any(String) as unknown });
          expect(
            Object.keys(body.error).filter((key) => !['code', 'message', 'details'].includes(key)),
          ).toEqual([]);
          expect(await fx.enqueued()).toEqual(nothing);
          expect(await fx.keys()).toEqual([]);
        },
      );

      it('answers 401 with a WWW-Authenticate: Bearer challenge', async () => {
        fx = await openProducer(server);
        const response = await fx.request({ url: '/v1/events', body: signedUp(), auth: null });

        expect(response.headers['www-authenticate']).toBe('Bearer');
      });

      it('puts the zod issues in details, without echoing values', async () => {
        fx = await openProducer(server);
        const response = await fx.request({
          url: '/v1/events',
          body: {
            ...signedUp(),
            data: { userId: 'u_1', email: 'secret-not-an-email', plan: 'gold' },
          },
        });

        const body = response.json<{ error: { details: { path: unknown[]; code: string }[] } }>();
        expect(body.error.details.map((issue) => issue.path)).toEqual([
          ['data', 'email'],
          ['data', 'plan'],
        ]);
        expect(response.body).not.toContain('secret-not-an-email');
      });
    });
  });

  describe('POST /v1/events/batch', () => {
    describe('when some items are valid and some are not', () => {
      it('answers 202 with one result per item, in order, invalid ones by index, and enqueues the valid ones', async () => {
        fx = await openProducer(server);
        const response = await fx.request({
          url: '/v1/events/batch',
          body: [
            signedUp('u_1'),
            { ...signedUp('u_2'), version: 3 },
            paymentFailed('in_1'),
            { nonsense: true },
            signedUp('u_1'),
          ],
        });

        expect(response.statusCode).toBe(202);
        const { results } = response.json<{ results: Record<string, unknown>[] }>();
        expect(results.map((r) => [r.index, r.status])).toEqual([
          [0, 'accepted'],
          [1, 'rejected'],
          [2, 'accepted'],
          [3, 'rejected'],
          [4, 'duplicate'],
        ]);
        expect(results[1]).toEqual({
          index: 1,
          status: 'rejected',
          error: { code: 'SY_ERR_UNKNOWN_EVENT_VERSION', message: expect.any(String) as unknown },
        });
        expect(results[3]).toMatchObject({
          error: { code: 'SY_ERR_SCHEMA_INVALID', details: expect.any(Array) as unknown },
        });
        expect(Object.keys(results[0]!).sort()).toEqual([
          'eventId',
          'idempotencyKey',
          'index',
          'queues',
          'status',
        ]);
        expect(results[4]!.eventId).toBe(results[0]!.eventId);
        expect(await fx.enqueued()).toEqual({ notifications: 1, provisioning: 1, billing: 1 });
        expect(fx.logs().filter((line) => line.msg === 'event published')).toHaveLength(3);
      });
    });

    describe('when the batch is refused', () => {
      const cases: [string, RequestSpec, number, string][] = [
        ['an empty array', { url: '/v1/events/batch', body: [] }, 400, 'SY_ERR_BATCH_EMPTY'],
        [
          'more events than BATCH_MAX_EVENTS',
          {
            url: '/v1/events/batch',
            body: Array.from({ length: 6 }, (_, i) => paymentFailed(`in_${i}`)),
          },
          413,
          'SY_ERR_BATCH_TOO_LARGE',
        ],
        [
          'an object instead of an array',
          { url: '/v1/events/batch', body: signedUp() },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        [
          'an Idempotency-Key header',
          { url: '/v1/events/batch', body: [signedUp()], headers: { 'idempotency-key': 'k' } },
          400,
          'SY_ERR_SCHEMA_INVALID',
        ],
        [
          'no API key',
          { url: '/v1/events/batch', body: [signedUp()], auth: null },
          401,
          'SY_ERR_UNAUTHORIZED',
        ],
        [
          'a body that is not JSON',
          { url: '/v1/events/batch', body: '[{', headers: { 'content-type': 'application/json' } },
          400,
          'SY_ERR_INVALID_JSON',
        ],
      ];

      it.each(cases)(
        'answers %s with the right status and code and enqueues nothing',
        async (_name, spec, status, code) => {
          fx = await openProducer(server);
          const response = await fx.request(spec);

          expect(response.statusCode).toBe(status);
          expect(response.json()).toMatchObject({ error: { code } });
          expect(await fx.enqueued()).toEqual(nothing);
          expect(await fx.keys()).toEqual([]);
        },
      );
    });
  });

  describe('unknown routes and methods', () => {
    it('answers 404 for an unknown path (with a key)', async () => {
      fx = await openProducer(server);
      const response = await fx.request({ method: 'GET', url: '/v2/nothing?x=1' });

      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_NOT_FOUND' } });
    });

    it('answers 401 for an unknown path without a key: only the public routes are open', async () => {
      fx = await openProducer(server);
      const response = await fx.request({ method: 'GET', url: '/admin', auth: null });

      expect(response.statusCode).toBe(401);
    });

    it('answers 405 with Allow for a known path and another method', async () => {
      fx = await openProducer(server);
      const events = await fx.request({ method: 'GET', url: '/v1/events' });
      const health = await fx.request({ method: 'DELETE', url: '/healthz', auth: null });

      expect(events.statusCode).toBe(405);
      expect(events.headers.allow).toBe('POST');
      expect(events.json()).toMatchObject({ error: { code: 'SY_ERR_METHOD_NOT_ALLOWED' } });
      expect(health.statusCode).toBe(405);
      expect(health.headers.allow).toBe('GET, HEAD');
      expect(await fx.enqueued()).toEqual(nothing);
    });
  });

  describe('GET /healthz and /readyz', () => {
    describe('when Redis answers', () => {
      it('answers 200 to both, without an API key', async () => {
        fx = await openProducer(server);

        expect((await fx.request({ method: 'GET', url: '/healthz', auth: null })).statusCode).toBe(
          200,
        );
        const ready = await fx.request({ method: 'GET', url: '/readyz', auth: null });
        expect(ready.statusCode).toBe(200);
        expect(ready.json()).toEqual({ status: 'ready' });
      });
    });

    describe('when the server is draining', () => {
      it('fails readiness, answers /v1 with 503 and Retry-After: 1, keeps liveness, and enqueues nothing', async () => {
        fx = await openProducer(server);
        fx.state.draining = true;

        const ready = await fx.request({ method: 'GET', url: '/readyz', auth: null });
        const publish = await fx.request({ url: '/v1/events', body: signedUp() });
        const live = await fx.request({ method: 'GET', url: '/healthz', auth: null });

        expect(ready.statusCode).toBe(503);
        expect(ready.json()).toMatchObject({ reason: 'draining' });
        expect(publish.statusCode).toBe(503);
        expect(publish.headers['retry-after']).toBe('1');
        expect(publish.json()).toMatchObject({ error: { code: 'SY_ERR_DRAINING' } });
        // So keep-alive connections do not hold the shutdown open.
        expect(publish.headers.connection).toBe('close');
        expect(live.statusCode).toBe(200);
        expect(await fx.keys()).toEqual([]);
      });
    });
  });

  describe('GET /metrics', () => {
    it('exposes request durations by route pattern (unknown URLs as "unmatched") and published events by type and status', async () => {
      fx = await openProducer(server);
      await fx.request({ url: '/v1/events', body: signedUp() });
      await fx.request({ url: '/v1/events', body: signedUp() });
      await fx.request({ url: '/v1/events', body: { ...signedUp(), version: 9 } });
      await fx.request({ method: 'GET', url: '/no/such/thing-123' });

      const response = await fx.request({ method: 'GET', url: '/metrics', auth: null });

      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const text = response.body;
      expect(text).toContain('# TYPE sy_http_request_duration_seconds histogram');
      // Label order is prom-client's business: compare samples as label sets.
      expect(
        sample(text, 'sy_http_request_duration_seconds_count', {
          method: 'POST',
          route: '/v1/events',
          status: '202',
          service: 'producer',
        }),
      ).toBe(2);
      expect(
        sample(text, 'sy_http_request_duration_seconds_bucket', {
          method: 'POST',
          route: '/v1/events',
          status: '400',
          le: '+Inf',
        }),
      ).toBe(1);
      expect(text).toMatch(/route="unmatched"/);
      expect(
        sample(text, 'sy_http_request_duration_seconds_count', {
          route: 'unmatched',
          status: '404',
        }),
      ).toBe(1);
      expect(text).not.toContain('thing-123');
      expect(text).toContain('# TYPE sy_http_requests_total counter');
      expect(
        sample(text, 'sy_http_requests_total', {
          method: 'POST',
          route: '/v1/events',
          status: '202',
        }),
      ).toBe(2);
      expect(text).toContain('# TYPE sy_events_published_total counter');
      for (const status of ['accepted', 'duplicate', 'rejected']) {
        expect(
          sample(text, 'sy_events_published_total', {
            type: 'user.signed_up',
            status,
            service: 'producer',
          }),
        ).toBe(1);
      }
    });
  });

  describe('GET /metrics queue series', () => {
    it('reports jobs by state, backlog and oldest waiting age of every subscriber queue and DLQ', async () => {
      fx = await openProducer(server);
      await fx.request({ url: '/v1/events', body: signedUp('u_1') });
      await fx.request({ url: '/v1/events', body: signedUp('u_2') });

      const text = (await fx.request({ method: 'GET', url: '/metrics', auth: null })).body;

      expect(text).toContain('# TYPE sy_queue_jobs gauge');
      expect(text).toContain('# TYPE sy_queue_backlog gauge');
      expect(text).toContain('# TYPE sy_queue_oldest_waiting_age_seconds gauge');
      for (const queue of ['notifications', 'provisioning']) {
        expect(sample(text, 'sy_queue_jobs', { queue, state: 'waiting' })).toBe(2);
        expect(sample(text, 'sy_queue_backlog', { queue, service: 'producer' })).toBe(2);
        expect(
          sample(text, 'sy_queue_oldest_waiting_age_seconds', { queue }),
        ).toBeGreaterThanOrEqual(0);
      }
      for (const queue of ['billing', 'billing.dlq', 'notifications.dlq', 'provisioning.dlq']) {
        expect(sample(text, 'sy_queue_backlog', { queue })).toBe(0);
      }
      expect(sample(text, 'sy_queue_metrics_failures_total', { service: 'producer' })).toBe(0);
    });
  });

  describe('GET /openapi.json', () => {
    it('serves an OpenAPI 3.1 document with the routes, the events’ request schema, responses, errors and bearer security', async () => {
      fx = await openProducer(server);
      const response = await fx.request({ method: 'GET', url: '/openapi.json', auth: null });

      expect(response.statusCode).toBe(200);
      const doc = response.json<{
        openapi: string;
        paths: Record<
          string,
          Record<string, { responses: Record<string, unknown>; security?: unknown[] }>
        >;
        components: {
          schemas: Record<string, Record<string, unknown>>;
          securitySchemes: Record<string, unknown>;
        };
        security: unknown[];
      }>();
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/readyz',
        '/v1/events',
        '/v1/events/batch',
      ]);
      expect(Object.keys(doc.paths['/v1/events']!.post!.responses).sort()).toEqual([
        '202',
        '400',
        '401',
        '409',
        '413',
        '415',
        '429',
        '503',
      ]);
      expect(doc.paths['/healthz']!.get!.security).toEqual([]);
      expect(doc.security).toEqual([{ bearerAuth: [] }]);
      expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
      const { $schema: _dialect, ...requestSchema } = publishRequestJsonSchema();
      expect(doc.components.schemas.PublishRequest).toEqual(requestSchema);
      expect(doc.components.schemas.BatchRequest).toMatchObject({ minItems: 1, maxItems: 5 });
      expect(doc.components.schemas.Error).toBeDefined();
      // Every $ref points at something that exists.
      const refs = [
        ...response.body.matchAll(/"\$ref":"#\/components\/(schemas|responses)\/([^"]+)"/g),
      ];
      expect(refs.length).toBeGreaterThan(5);
      for (const [, kind, name] of refs) {
        expect(
          (doc.components as Record<string, Record<string, unknown>>)[kind!]![name!],
          `${kind}/${name}`,
        ).toBeDefined();
      }
    });
  });
});

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const found: number[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) found.push(Number(match[3]));
  }
  expect(found.length, `samples of ${name} matching ${JSON.stringify(labels)}`).toBeLessThanOrEqual(
    1,
  );
  return found[0];
}
