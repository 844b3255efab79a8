/**
 * The billing handler against the real downstream: the built sandbox,
 * run as a process the way users run it.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEnvelope, parsePublishRequest, type Envelope } from '@switchyard/events';
import { createLogger } from '@switchyard/observability';
import { createHttpClient, type HandlerContext } from '@switchyard/runtime';
import { freePort, startApp, type AppProcess } from '@switchyard/testkit';
import { billingAlertHandler } from '../src/handlers.js';

const sandboxDir = fileURLToPath(new URL('../../sandbox/', import.meta.url));
const sandboxEntry = join(sandboxDir, 'dist', 'main.js');

let sandbox: AppProcess;

beforeAll(async () => {
  assertBuilt(sandboxEntry, join(sandboxDir, 'src'));
  const port = await freePort();
  sandbox = await startApp({
    entry: sandboxEntry,
    env: { SANDBOX_PORT: String(port), LOG_LEVEL: 'warn' },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
});

afterEach(async () => {
  await sandboxCall('DELETE', '/ledger');
});

afterAll(async () => {
  await sandbox?.stop();
});

describe('worker-billing', () => {
  describe('when a payment fails', () => {
    it("raises the billing alert with the event's idempotency key", async () => {
      const event = paymentFailed('inv_1');

      await handler().handle(event, contextFor(event));

      expect(await ledger()).toEqual([
        expect.objectContaining({
          service: 'billing-alerts',
          idempotencyKey: event.idempotencyKey,
          repeats: 0,
          body: {
            userId: 'u_ada',
            invoiceId: 'inv_1',
            amountCents: 4_999,
            currency: 'EUR',
            reason: 'card_declined',
          },
        }),
      ]);
    });
  });

  describe('when the same event is handled twice', () => {
    it('is applied once downstream', async () => {
      const event = paymentFailed('inv_2');

      await handler().handle(event, contextFor(event));
      await handler().handle(event, { ...contextFor(event), attempt: 2 });

      expect(await ledger()).toEqual([
        expect.objectContaining({ idempotencyKey: event.idempotencyKey, repeats: 1 }),
      ]);
    });
  });
});

const handler = () => billingAlertHandler(createHttpClient({ baseUrl: sandbox.url }));

function paymentFailed(invoiceId: string): Envelope<'payment.failed'> {
  return createEnvelope(
    parsePublishRequest({
      type: 'payment.failed',
      version: 1,
      data: {
        userId: 'u_ada',
        invoiceId,
        amountCents: 4_999,
        currency: 'EUR',
        reason: 'card_declined',
      },
    }),
  ) as Envelope<'payment.failed'>;
}

function contextFor(event: Envelope): HandlerContext {
  return {
    logger: createLogger({ name: 'worker-billing-test', level: 'silent' }),
    signal: new AbortController().signal,
    idempotencyKey: event.idempotencyKey,
    attempt: 1,
    eventId: event.id,
    subscriber: 'billing',
    workerId: 'worker-billing-test',
    // Pass-through: these tests exercise the downstream call; ctx.once is the runtime's, tested there.
    once: (_name, fn) => fn(),
  };
}

interface LedgerCall {
  service: string;
  idempotencyKey: string;
  repeats: number;
  body: unknown;
}

async function ledger(): Promise<LedgerCall[]> {
  return ((await (await sandboxCall('GET', '/ledger')).json()) as { calls: LedgerCall[] }).calls;
}

function sandboxCall(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sandbox.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

/** This suite runs what users run; a missing or stale build would test old code. */
function assertBuilt(entry: string, srcDir: string): void {
  const newest = (dir: string): number =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((item) =>
        item.isDirectory() ? newest(join(dir, item.name)) : statSync(join(dir, item.name)).mtimeMs,
      ),
    );
  const built = statSync(entry, { throwIfNoEntry: false });
  if (built === undefined || built.mtimeMs < newest(srcDir)) {
    throw new Error(
      `${entry} is missing or older than ${srcDir}: run \`pnpm --filter @switchyard/sandbox build\` first`,
    );
  }
}
