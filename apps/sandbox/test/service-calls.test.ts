import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildSandbox } from '../src/index.js';
import { callService, manualClock } from './helpers.js';

let app: FastifyInstance;
const clock = manualClock();

beforeEach(() => {
  app = buildSandbox({ clock: clock.now });
});

afterEach(async () => {
  await app.close();
});

describe('a service call', () => {
  describe('when its key is new', () => {
    it.each(['email', 'workspaces', 'billing-alerts', 'webhooks'])(
      'answers 201 with an id on POST /%s',
      async (service) => {
        const response = await callService(app, service, 'key-1');

        expect(response.statusCode).toBe(201);
        expect(response.json()).toEqual({
          id: expect.stringMatching(
            /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
          ) as unknown,
          service,
          idempotencyKey: 'key-1',
          receivedAt: new Date(clock.now()).toISOString(),
        });
      },
    );
  });

  describe('when its key was seen before by the same service', () => {
    it('answers with the first answer, applies nothing and counts the repeat', async () => {
      const first = await callService(app, 'email', 'welcome:u1', { to: 'ada@example.com' });
      clock.advance(5_000);

      const second = await callService(app, 'email', 'welcome:u1', {
        to: 'someone-else@example.com',
      });
      const third = await callService(app, 'email', 'welcome:u1');

      expect(second.statusCode).toBe(first.statusCode);
      expect(second.json()).toEqual(first.json());
      expect(third.json()).toEqual(first.json());
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const ledger = (await app.inject({ method: 'GET', url: '/ledger' })).json<{
        calls: unknown[];
      }>();
      expect(ledger.calls).toEqual([
        expect.objectContaining({
          idempotencyKey: 'welcome:u1',
          repeats: 2,
          body: { to: 'ada@example.com' },
        }),
      ]);
      const control = (await app.inject({ method: 'GET', url: '/control' })).json<{
        stats: unknown;
      }>();
      expect(control.stats).toMatchObject({ accepted: 1, repeats: 2 });
    });

    it('applies the key once when the calls are concurrent', async () => {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => callService(app, 'workspaces', 'ws:u1')),
      );

      expect(new Set(answers.map((answer) => answer.json<{ id: string }>().id)).size).toBe(1);
      expect((await app.inject({ method: 'GET', url: '/ledger' })).json()).toMatchObject({
        calls: [{ repeats: 9 }],
      });
    });
  });

  describe('when the same key goes to different services', () => {
    it('applies it once per service', async () => {
      const email = await callService(app, 'email', 'shared-key');
      const workspaces = await callService(app, 'workspaces', 'shared-key');

      expect(email.statusCode).toBe(201);
      expect(workspaces.statusCode).toBe(201);
      expect(workspaces.json<{ id: string }>().id).not.toBe(email.json<{ id: string }>().id);
      const ledger = (await app.inject({ method: 'GET', url: '/ledger' })).json<{
        calls: { service: string; repeats: number }[];
      }>();
      expect(ledger.calls.map(({ service, repeats }) => ({ service, repeats }))).toEqual([
        { service: 'email', repeats: 0 },
        { service: 'workspaces', repeats: 0 },
      ]);
    });
  });

  describe('when the Idempotency-Key header is missing', () => {
    it('answers 400 and records nothing', async () => {
      const response = await callService(app, 'email', null);

      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: {
          code: 'SY_ERR_IDEMPOTENCY_KEY_MISSING',
          message: expect.stringContaining('Idempotency-Key') as unknown,
        },
      });
      expect((await app.inject({ method: 'GET', url: '/ledger' })).json()).toEqual({ calls: [] });
    });

    it('treats an empty header as missing', async () => {
      const response = await callService(app, 'email', '  ');

      expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_IDEMPOTENCY_KEY_MISSING' } });
    });
  });

  describe('when the Idempotency-Key header comes twice', () => {
    it('takes the values as one key, joined with ", " as Node joins them', async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as { port: number };

      // node:http sends an array as two header lines (fetch would join them itself).
      const { statusCode, body } = await new Promise<{ statusCode?: number; body: string }>(
        (resolve, reject) => {
          const call = request(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: '/email',
              agent: false,
              headers: { 'content-type': 'application/json', 'idempotency-key': ['a', 'b'] },
            },
            (response) => {
              let text = '';
              response.setEncoding('utf8');
              response.on('data', (chunk: string) => (text += chunk));
              response.on('end', () => resolve({ statusCode: response.statusCode, body: text }));
            },
          );
          call.on('error', reject);
          call.end('{}');
        },
      );

      expect(statusCode).toBe(201);
      expect(JSON.parse(body)).toMatchObject({ idempotencyKey: 'a, b' });
    });
  });

  describe('when the Idempotency-Key is over 255 characters', () => {
    it('answers 400', async () => {
      const response = await callService(app, 'email', 'k'.repeat(256));

      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_IDEMPOTENCY_KEY_INVALID' } });
    });
  });

  describe('when the body is not JSON', () => {
    it('answers 415 to a text/plain body', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/email',
        headers: { 'idempotency-key': 'k', 'content-type': 'text/plain' },
        payload: 'hello',
      });

      expect(response.statusCode).toBe(415);
      expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_UNSUPPORTED_MEDIA_TYPE' } });
    });

    it('answers 415 to a call without a Content-Type or body', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/email',
        headers: { 'idempotency-key': 'k' },
      });

      expect(response.statusCode).toBe(415);
      expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_UNSUPPORTED_MEDIA_TYPE' } });
    });

    it('answers 400 to malformed JSON', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/email',
        headers: { 'idempotency-key': 'k', 'content-type': 'application/json' },
        payload: '{"to":',
      });

      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_INVALID_JSON' } });
    });
  });

  describe('when the body is over 1 MiB', () => {
    it('answers 413', async () => {
      const response = await callService(app, 'email', 'big', { blob: 'x'.repeat(1024 * 1024) });

      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ error: { code: 'SY_ERR_BODY_TOO_LARGE' } });
    });
  });
});

describe('an unknown route', () => {
  describe('when called', () => {
    it('answers 404 in the error format', async () => {
      const response = await app.inject({ method: 'GET', url: '/nope' });

      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({
        error: { code: 'SY_ERR_NOT_FOUND', message: 'no route for GET /nope' },
      });
    });
  });
});

describe('the health routes', () => {
  describe('when the sandbox is up', () => {
    it.each(['/healthz', '/readyz'])('answer 200 on %s', async (url) => {
      const response = await app.inject({ method: 'GET', url });

      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
    });
  });
});
