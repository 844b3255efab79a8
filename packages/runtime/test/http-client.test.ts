import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '@switchyard/testkit';
import {
  DownstreamRateLimitedError,
  DownstreamRejectedError,
  DownstreamTimeoutError,
  DownstreamUnavailableError,
  createHttpClient,
} from '../src/index.js';

/** The downstream: answers each request with whatever `reply` says, and records what it got. */
let server: Server;
let baseUrl: string;
let reply: (req: IncomingMessage, res: ServerResponse) => void;
const received: {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      reply(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  received.length = 0;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
});

const answer =
  (status: number, body = '', headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };

const key = { idempotencyKey: 'user.signed_up:v1:abc' };

describe('createHttpClient', () => {
  describe('when the downstream answers 2xx', () => {
    it('sends JSON with the Idempotency-Key header and returns the parsed answer', async () => {
      reply = answer(201, '{"id":"em_1"}');
      const client = createHttpClient({ baseUrl: `${baseUrl}/` });

      const result = await client.post('/email', { to: 'a@example.com' }, key);

      expect(result).toEqual({ id: 'em_1' });
      expect(received).toEqual([
        expect.objectContaining({
          method: 'POST',
          url: '/email',
          body: '{"to":"a@example.com"}',
          headers: expect.objectContaining({
            'idempotency-key': 'user.signed_up:v1:abc',
            'content-type': 'application/json',
          }) as unknown,
        }),
      ]);
    });

    it('returns undefined for an empty body', async () => {
      reply = answer(204);
      expect(await createHttpClient({ baseUrl }).post('/email', {}, key)).toBeUndefined();
    });

    it('treats a body that is not JSON as a transient failure', async () => {
      reply = answer(200, '<html>');
      await expect(createHttpClient({ baseUrl }).post('/email', {}, key)).rejects.toBeInstanceOf(
        DownstreamUnavailableError,
      );
    });
  });

  describe('when the downstream asks us to slow down', () => {
    it('maps 429 with Retry-After seconds to DownstreamRateLimitedError', async () => {
      reply = answer(429, '{"error":"slow down"}', { 'retry-after': '3' });
      const error = await createHttpClient({ baseUrl })
        .post('/email', {}, key)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownstreamRateLimitedError);
      expect(error).toMatchObject({
        status: 429,
        retryAfterMs: 3_000,
        code: 'SY_ERR_DOWNSTREAM_RATE_LIMITED',
      });
    });

    it('maps 503 with an HTTP-date Retry-After to DownstreamRateLimitedError, timed by the injected clock', async () => {
      const now = Date.parse('2030-01-01T00:00:00Z');
      reply = answer(503, '', { 'retry-after': 'Tue, 01 Jan 2030 00:00:05 GMT' });
      const error = await createHttpClient({ baseUrl, now: () => now })
        .post('/email', {}, key)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownstreamRateLimitedError);
      expect(error).toMatchObject({ status: 503, retryAfterMs: 5_000 });
    });

    it('maps 429 without Retry-After to DownstreamRateLimitedError with no delay', async () => {
      reply = answer(429);
      const error = await createHttpClient({ baseUrl })
        .post('/email', {}, key)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownstreamRateLimitedError);
      expect(error).toMatchObject({ retryAfterMs: undefined });
    });
  });

  describe('when the downstream fails', () => {
    it.each([500, 502, 503, 408])(
      'maps %i (no Retry-After) to DownstreamUnavailableError',
      async (status) => {
        reply = answer(status, '{"error":"boom"}');
        const error = await createHttpClient({ baseUrl })
          .post('/email', {}, key)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DownstreamUnavailableError);
        expect(error).not.toBeInstanceOf(DownstreamRateLimitedError);
        expect(error).toMatchObject({ status, code: 'SY_ERR_DOWNSTREAM_UNAVAILABLE' });
      },
    );

    it.each([400, 401, 404, 409, 422])('maps %i to DownstreamRejectedError', async (status) => {
      reply = answer(status, '{"error":"no"}');
      const error = await createHttpClient({ baseUrl })
        .post('/email', {}, key)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownstreamRejectedError);
      expect(error).toMatchObject({ status, code: 'SY_ERR_DOWNSTREAM_REJECTED' });
      expect((error as Error).message).toContain('{"error":"no"}');
    });

    it('maps a refused connection to DownstreamUnavailableError', async () => {
      const closedPort = await freePort();
      const error = await createHttpClient({ baseUrl: `http://127.0.0.1:${closedPort}` })
        .post('/email', {}, key)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownstreamUnavailableError);
      expect(error).toMatchObject({ status: undefined });
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
    });
  });

  describe('when no answer arrives within timeoutMs', () => {
    it('aborts the call with DownstreamTimeoutError', async () => {
      reply = (_req, res) => {
        const timer = setTimeout(() => answer(200, '{}')(_req, res), 2_000);
        res.on('close', () => clearTimeout(timer));
      };
      const started = Date.now();
      const error = await createHttpClient({ baseUrl, timeoutMs: 100 })
        .post('/email', {}, key)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownstreamTimeoutError);
      expect(error).toBeInstanceOf(DownstreamUnavailableError);
      expect(error).toMatchObject({ code: 'SY_ERR_DOWNSTREAM_TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(1_500);
    });
  });

  describe('when the caller aborts', () => {
    it("rejects with the caller's reason, not a downstream error", async () => {
      reply = (_req, res) => {
        const timer = setTimeout(() => answer(200, '{}')(_req, res), 2_000);
        res.on('close', () => clearTimeout(timer));
      };
      const controller = new AbortController();
      const reason = new Error('shutting down');
      setTimeout(() => controller.abort(reason), 50);
      const error = await createHttpClient({ baseUrl })
        .post('/email', {}, { ...key, signal: controller.signal })
        .catch((e: unknown) => e);
      expect(error).toBe(reason);
    });
  });

  describe('when the answer body is larger than 1 MiB', () => {
    it('stops reading at the cap and fails the call as unavailable', async () => {
      let written = 0;
      reply = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          // An endless body: only a reader that stops ends this call.
          while (written < 64 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
        };
        res.on('drain', pump);
        pump();
      };
      const error = await createHttpClient({ baseUrl })
        .post('/email', {}, key)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownstreamUnavailableError);
      expect((error as Error).message).toMatch(/over 1048576 bytes/);
      expect(written).toBeLessThan(16 * 1024 * 1024);
    });
  });
});
