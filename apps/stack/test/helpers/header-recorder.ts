/**
 * A pass-through HTTP proxy for tests that records each request's method,
 * path and headers before forwarding it to `target` (the sandbox, which
 * keeps no headers), and relays the answer's status, content type,
 * Retry-After and body.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface HeaderRecorder {
  /** Its origin: give it to a worker as SANDBOX_URL. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const forwarded = ['content-type', 'accept', 'idempotency-key'];

export async function startHeaderRecorder(target: string): Promise<HeaderRecorder> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const name of forwarded) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const body = Buffer.concat(chunks);
      fetch(`${target}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body } : {}),
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (answer) => {
          const text = Buffer.from(await answer.arrayBuffer());
          const out: Record<string, string> = {};
          for (const name of ['content-type', 'retry-after']) {
            const value = answer.headers.get(name);
            if (value !== null) out[name] = value;
          }
          res.writeHead(answer.status, out).end(text);
        })
        .catch(() => {
          res.writeHead(502).end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
