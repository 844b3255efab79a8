/**
 * A tiny HTTP downstream on 127.0.0.1 (outside our code): records every call
 * and answers 201 with `{}`, or holds answers while `hold()` is on, so a
 * test can keep a handler in flight.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DownstreamCall {
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface Downstream {
  url: string;
  calls: DownstreamCall[];
  /** Holds every answer (current and future) until release(). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startDownstream(): Promise<Downstream> {
  const calls: DownstreamCall[] = [];
  let holding = false;
  const held: ServerResponse[] = [];
  const answer = (res: ServerResponse) => {
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end('{}');
  };
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      calls.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(text) as unknown });
      if (holding) held.push(res);
      else answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const res of held.splice(0)) answer(res);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
