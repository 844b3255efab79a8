/**
 * Body size and slow-client limits, against the listening server over raw
 * TCP (the transport is the point: app.inject() has no sockets, timeouts or
 * connection limits).
 *
 * - An over-limit body is answered 413 from its Content-Length alone, and a
 *   chunked one is cut off soon after the limit: neither is buffered whole.
 * - A client dribbling its headers or its body is answered 408 / cut off
 *   after HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS, and other clients are
 *   served meanwhile.
 * - Connections are bounded by MAX_CONNECTIONS; idle ones are closed by the
 *   headers timeout (never sent a request) or KEEP_ALIVE_TIMEOUT_MS (after
 *   one), so they free their slots.
 *
 * Timeouts are short here (1-2 s) so the suite stays quick; assertions
 * allow for Node's once-a-second sweep and a slow machine.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import {
  apiKey,
  openProducer,
  signedUp,
  type ProducerFixture,
} from './support/producer-fixture.js';

const bodyLimit = 65_536;
const headersTimeoutMs = 1_000;
const requestTimeoutMs = 2_000;
const keepAliveTimeoutMs = 1_000;
const nothing = { notifications: 0, provisioning: 0, billing: 0 };

let server: RedisHandle;
let fx: ProducerFixture | undefined;
let port = 0;
const sockets: Socket[] = [];

async function open(env: Record<string, string> = {}): Promise<ProducerFixture> {
  fx = await openProducer(server, {
    BODY_LIMIT_BYTES: String(bodyLimit),
    HEADERS_TIMEOUT_MS: String(headersTimeoutMs),
    REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
    KEEP_ALIVE_TIMEOUT_MS: String(keepAliveTimeoutMs),
    ...env,
  });
  const address = await fx.app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(address).port);
  return fx;
}

/** A raw connection that records what the server sends and when it closes. */
interface RawClient {
  socket: Socket;
  received(): string;
  /** Resolves with ms from `since` (default: connect) once the server closed the connection. */
  closed: Promise<number>;
  write(data: string | Buffer): boolean;
}

function rawClient(): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // EPIPE/ECONNRESET while writing after the server closed: expected here.
    socket.on('error', () => undefined);
    const closed = new Promise<number>((done) =>
      socket.once('close', () => done(Date.now() - started)),
    );
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => Buffer.concat(chunks).toString('latin1'),
        closed,
        write: (data) => !socket.destroyed && socket.write(data),
      }),
    );
    socket.once('error', reject);
  });
}

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
/** The head of an authenticated JSON `POST /v1/events`, framed by `framing` (a Content-Length or Transfer-Encoding line). */
const postHead = (framing: string) =>
  head([
    'POST /v1/events HTTP/1.1',
    'Host: x',
    `Authorization: Bearer ${apiKey}`,
    'Content-Type: application/json',
    framing,
  ]);
const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

/** Resolves true when `promise` settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One normal request over fetch: the server still serves others. */
async function publishOne(userId: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(signedUp(userId)),
    signal: AbortSignal.timeout(5_000),
  });
  await response.body?.cancel();
  return response.status;
}

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await fx?.close();
  fx = undefined;
});
afterAll(async () => {
  await server?.stop();
});

describe('body size', () => {
  it('answers 413 from the Content-Length alone, before any of the body is sent', async () => {
    await open();
    const client = await rawClient();
    client.write(postHead(`Content-Length: ${50 * 1_048_576}`));

    expect(await within(client.closed, 5_000)).toBe(true);
    expect(statusOf(client.received())).toBe(413);
    expect(client.received()).toContain('SY_ERR_BODY_TOO_LARGE');
    expect(await fx!.enqueued()).toEqual(nothing);
  });

  it('cuts a chunked body off soon after the limit instead of reading it all', async () => {
    await open();
    const client = await rawClient();
    client.write(postHead('Transfer-Encoding: chunked'));
    // Offer 256 MiB, 64 KiB at a time, as fast as the socket takes it.
    const chunk = Buffer.from(`10000\r\n${'["x",'.repeat(13_107)}x\r\n`);
    let offered = 0;
    while (offered < 256 * 1_048_576 && !client.socket.destroyed) {
      if (!client.write(chunk)) {
        const drained = await within(
          new Promise((resolve) => client.socket.once('drain', resolve)),
          2_000,
        );
        if (!drained) break;
      }
      offered += chunk.length;
    }

    expect(await within(client.closed, 5_000)).toBe(true);
    expect(statusOf(client.received())).toBe(413);
    // Whatever the kernel's socket buffers took, far less than offered was read.
    expect(offered).toBeLessThan(64 * 1_048_576);
    expect(await fx!.enqueued()).toEqual(nothing);
  });
});

describe('slow clients', () => {
  it('cuts off a client dribbling its headers, and serves others meanwhile', async () => {
    await open();
    const client = await rawClient();
    client.write('POST /v1/events HTTP/1.1\r\nHost: x\r\n');
    const dribble = (async () => {
      for (let i = 0; i < 100 && !client.socket.destroyed; i++) {
        client.write(`X-Slow-${i}: a\r\n`);
        await sleep(100);
      }
    })();
    const statuses = await Promise.all([publishOne('u_h1'), publishOne('u_h2')]);

    expect(await within(client.closed, headersTimeoutMs + 4_000)).toBe(true);
    await dribble;
    expect(await client.closed).toBeLessThan(headersTimeoutMs + 4_000);
    expect(statuses).toEqual([202, 202]);
    // Node answers a headers timeout with 408 before it closes.
    expect([0, 408]).toContain(statusOf(client.received()));
  });

  it('answers 408 to a client dribbling its body and enqueues nothing of it, serving others meanwhile', async () => {
    await open();
    const client = await rawClient();
    const body = JSON.stringify(signedUp('u_slow_body'));
    client.write(postHead(`Content-Length: ${body.length}`));
    const dribble = (async () => {
      for (let i = 0; i < body.length - 1 && !client.socket.destroyed; i++) {
        client.write(body[i]!);
        await sleep(100);
      }
    })();
    const status = await publishOne('u_b1');

    expect(await within(client.closed, requestTimeoutMs + 4_000)).toBe(true);
    await dribble;
    expect(status).toBe(202);
    expect(statusOf(client.received())).toBe(408);
    // Only the one normal request reached the queues.
    expect(await fx!.enqueued()).toEqual({ notifications: 1, provisioning: 1, billing: 0 });
  });
});

describe('idle connections', () => {
  it('bounds open connections by MAX_CONNECTIONS, and the headers timeout frees the idle ones', async () => {
    await open({ MAX_CONNECTIONS: '10' });
    const idle = await Promise.all(Array.from({ length: 10 }, () => rawClient()));
    // Give the server a moment to have accepted all ten.
    await sleep(200);
    const extra = await rawClient();

    // The eleventh is closed at once, without an answer.
    expect(await within(extra.closed, 2_000)).toBe(true);
    expect(extra.received()).toBe('');
    // The idle ten never sent a byte: the headers timeout closes them.
    for (const client of idle)
      expect(await within(client.closed, headersTimeoutMs + 4_000)).toBe(true);
    expect(await publishOne('u_after_idle')).toBe(202);
  });

  it('closes a kept-alive connection that stays idle for KEEP_ALIVE_TIMEOUT_MS after an answer', async () => {
    await open();
    const client = await rawClient();
    const body = JSON.stringify(signedUp('u_keep_alive'));
    client.write(postHead(`Content-Length: ${body.length}`) + body);

    expect(await within(client.closed, keepAliveTimeoutMs + 4_000)).toBe(true);
    expect(statusOf(client.received())).toBe(202);
  });
});
