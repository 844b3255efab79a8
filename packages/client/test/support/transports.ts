/**
 * The two transports of createPublisher side by side on one suite's Redis:
 * direct (createPublisher({ redis })) and HTTP to the built producer app
 * (`node apps/producer/dist/main.js`, as users run it), each under its own
 * queue prefix with the same backpressure settings, plus a tiny node:http
 * proxy that tests put in front of the producer to lose or fake answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  assertBuilt,
  freePort,
  randomPrefix,
  startApp,
  unlinkPrefix,
  waitReady,
  type AppProcess,
  type RedisHandle,
} from '@switchyard/testkit';
import { createPublisher, type HttpPublisherOptions, type Publisher } from '../../src/index.js';

export const apiKey = 'transport-test-key-0123456789';

const root = (path: string) => fileURLToPath(new URL(`../../../../${path}`, import.meta.url));

/** The producer process runs the built client and events: all three must be fresh. */
export function assertProducerBuilt(): string {
  const hint = 'pnpm turbo run build --filter @switchyard/producer...';
  assertBuilt(root('packages/events/dist/index.js'), root('packages/events/src'), hint);
  assertBuilt(root('packages/client/dist/index.js'), root('packages/client/src'), hint);
  const entry = root('apps/producer/dist/main.js');
  assertBuilt(entry, root('apps/producer/src'), hint);
  return entry;
}

/** Backpressure settings both transports share: billing is tiny, read on every publish. */
export const backlogLimits = { billing: 2 };

export interface TransportUnderTest {
  name: string;
  prefix: string;
  publisher: Publisher;
  /** The jobs of one of this transport's queues, any state. */
  jobsIn(queue: string): Promise<Job[]>;
  queue(name: string): Queue;
}

export interface Transports {
  producer: AppProcess;
  admin: Redis;
  all: TransportUnderTest[];
  /** A second HTTP publisher on the producer, with other options. */
  http(options?: Partial<HttpPublisherOptions>, baseUrl?: string): Publisher;
  httpPrefix: string;
  close(): Promise<void>;
}

export async function openTransports(server: RedisHandle): Promise<Transports> {
  const entry = assertProducerBuilt();
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  await waitReady(admin);
  const directPrefix = randomPrefix();
  const httpPrefix = randomPrefix();
  const port = await freePort();
  const producer = await startApp({
    entry,
    env: {
      REDIS_URL: server.url,
      PRODUCER_PORT: String(port),
      API_KEYS: apiKey,
      QUEUE_PREFIX: httpPrefix,
      BACKLOG_LIMITS: Object.entries(backlogLimits)
        .map(([queue, limit]) => `${queue}=${limit}`)
        .join(','),
      BACKLOG_CHECK_INTERVAL_MS: '0',
      LOG_LEVEL: 'warn',
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
  const queues = new Map<string, Queue>();
  const queueOf = (prefix: string, name: string): Queue => {
    const key = `${prefix}:${name}`;
    let found = queues.get(key);
    if (found === undefined) {
      found = new Queue(name, { connection: admin, prefix });
      queues.set(key, found);
    }
    return found;
  };
  const publishers: Publisher[] = [];
  const http = (options: Partial<HttpPublisherOptions> = {}, baseUrl = producer.url): Publisher => {
    const publisher = createPublisher({ baseUrl, apiKey, retries: 0, ...options });
    publishers.push(publisher);
    return publisher;
  };
  const direct = createPublisher({
    redis: server.url,
    prefix: directPrefix,
    backlogLimits,
    backlogCheckIntervalMs: 0,
  });
  publishers.push(direct);
  const under = (name: string, prefix: string, publisher: Publisher): TransportUnderTest => ({
    name,
    prefix,
    publisher,
    queue: (queue) => queueOf(prefix, queue),
    jobsIn: async (queue) => queueOf(prefix, queue).getJobs(),
  });
  return {
    producer,
    admin,
    httpPrefix,
    http,
    all: [
      under('redis', directPrefix, direct),
      under('http', httpPrefix, http()),
      // The producer, not this process, validates: its 400s map to the same classes.
      under('http, validated by the producer', httpPrefix, http({ validate: false })),
    ],
    async close() {
      await Promise.all(publishers.map((p) => p.close()));
      await producer.stop();
      await Promise.all([...queues.values()].map((q) => q.close()));
      await unlinkPrefix(admin, directPrefix);
      await unlinkPrefix(admin, httpPrefix);
      admin.disconnect();
    },
  };
}

/** What the proxy does with the n-th request (1-based). */
export type ProxyPlan =
  | { kind: 'pass' }
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body?: unknown }
  /** Forward it, let the producer act, then cut the connection instead of answering. */
  | { kind: 'drop-answer' }
  /** Forward it and hold the answer back this long. */
  | { kind: 'delay-answer'; ms: number };

export interface Proxy {
  url: string;
  /** Bodies received, in order. */
  bodies: unknown[];
  close(): Promise<void>;
}

/** A node:http proxy in front of `target` that follows `plan` per request. */
export async function startProxy(
  target: string,
  plan: (request: number) => ProxyPlan,
): Promise<Proxy> {
  const bodies: unknown[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    bodies.push(JSON.parse(text));
    const step = plan(bodies.length);
    if (step.kind === 'answer') {
      response.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      response.end(JSON.stringify(step.body ?? {}));
      return;
    }
    const forwarded = await fetch(new URL(request.url ?? '/', target), {
      method: request.method ?? 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: String(request.headers.authorization),
      },
      body: text,
    });
    const answer = await forwarded.text();
    const send = () => {
      if (response.destroyed) return;
      const retryAfter = forwarded.headers.get('retry-after');
      response.writeHead(forwarded.status, {
        'content-type': 'application/json',
        ...(retryAfter === null ? {} : { 'retry-after': retryAfter }),
      });
      response.end(answer);
    };
    if (step.kind === 'drop-answer') {
      request.socket.destroy();
    } else if (step.kind === 'delay-answer') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, step.ms);
      timers.add(timer);
    } else {
      send();
    }
  };
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
