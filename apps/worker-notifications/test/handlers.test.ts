/**
 * The notifications handler against the real downstream: the built sandbox,
 * run as a process the way users run it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '@switchyard/events';
import { createLogger } from '@switchyard/observability';
import {
  DownstreamRateLimitedError,
  createHttpClient,
  type HandlerContext,
} from '@switchyard/runtime';
import { handlerContext, signedUp, startSandbox, type Sandbox } from '@switchyard/testkit';
import { welcomeEmailHandler } from '../src/handlers.js';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterEach(async () => {
  await sandbox.reset();
});

afterAll(async () => {
  await sandbox?.stop();
});

describe('worker-notifications', () => {
  describe('when a user signs up', () => {
    it("posts the welcome e-mail with the event's idempotency key", async () => {
      const event = signedUp('u_ada');

      await handler().handle(event, contextFor(event));

      expect(await sandbox.ledger()).toEqual([
        expect.objectContaining({
          service: 'email',
          idempotencyKey: event.idempotencyKey,
          repeats: 0,
          body: { to: 'u_ada@example.com', template: 'welcome', userId: 'u_ada' },
        }),
      ]);
    });
  });

  describe('when the same event is handled twice', () => {
    it('is applied once downstream', async () => {
      const event = signedUp('u_bob');

      await handler().handle(event, contextFor(event));
      await handler().handle(event, { ...contextFor(event), attempt: 2 });

      expect(await sandbox.ledger()).toEqual([
        expect.objectContaining({ idempotencyKey: event.idempotencyKey, repeats: 1 }),
      ]);
    });
  });

  describe('when the sandbox is down', () => {
    it('fails with a transient, typed error and sends nothing', async () => {
      await sandbox.control({ downForMs: 60_000 });
      const event = signedUp('u_cy');

      await expect(handler().handle(event, contextFor(event))).rejects.toBeInstanceOf(
        DownstreamRateLimitedError,
      );
      expect(await sandbox.ledger()).toEqual([]);
    });
  });
});

const handler = () => welcomeEmailHandler(createHttpClient({ baseUrl: sandbox.url }));

function contextFor(event: Envelope): HandlerContext {
  return handlerContext(event, {
    subscriber: 'notifications',
    logger: createLogger({ name: 'worker-notifications-test', level: 'silent' }),
  });
}
