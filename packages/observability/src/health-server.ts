/**
 * A small HTTP server for processes that have no web framework of their own
 * (workers): `/healthz` (alive), `/readyz` (ready to take work), `/metrics`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface HealthServerOptions {
  /** Address to bind. Default: 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  registry: Registry;
  /** Readiness; a thrown error counts as not ready. */
  isReady: () => boolean | Promise<boolean>;
  logger?: Logger;
}

export interface HealthServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET')
      return reply(405, '{"error":{"code":"SY_ERR_METHOD","message":"GET only"}}');
    if (path === '/healthz') return reply(200, '{"status":"ok"}');
    if (path === '/readyz') {
      Promise.resolve()
        .then(options.isReady)
        .then(
          (ready) =>
            reply(ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'not ready' })),
          (error: unknown) => {
            options.logger?.warn({ err: error }, 'readiness check failed');
            reply(503, '{"status":"not ready"}');
          },
        );
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => reply(200, text, options.registry.contentType),
        (error: unknown) => {
          options.logger?.error({ err: error }, 'metrics collection failed');
          reply(500, '{"error":{"code":"SY_ERR_METRICS","message":"metrics collection failed"}}');
        },
      );
      return;
    }
    reply(404, '{"error":{"code":"SY_ERR_NOT_FOUND","message":"no such route"}}');
  });
  // Health probes are tiny; bound slow or idle clients so shutdown is not held up.
  server.requestTimeout = 5_000;
  server.keepAliveTimeout = 1_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
