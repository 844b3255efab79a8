/**
 * The provisioning handler against the real downstream: the built sandbox,
 * run as a process the way users run it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '@switchyard/events';
import { createLogger } from '@switchyard/observability';
import { createHttpClient, type HandlerContext } from '@switchyard/runtime';
import { handlerContext, signedUp, startSandbox, type Sandbox } from '@switchyard/testkit';
import { defaultWorkspaceHandler } from '../src/handlers.js';

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

describe('worker-provisioning', () => {
  describe('when a user signs up', () => {
    it("creates the default workspace with the event's idempotency key", async () => {
      const event = signedUp('u_ada');

      await handler().handle(event, contextFor(event));

      expect(await sandbox.ledger()).toEqual([
        expect.objectContaining({
          service: 'workspaces',
          idempotencyKey: event.idempotencyKey,
          repeats: 0,
          body: { ownerId: 'u_ada', name: 'Default workspace', plan: 'pro' },
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
});

const handler = () => defaultWorkspaceHandler(createHttpClient({ baseUrl: sandbox.url }));

function contextFor(event: Envelope): HandlerContext {
  return handlerContext(event, {
    subscriber: 'provisioning',
    logger: createLogger({ name: 'worker-provisioning-test', level: 'silent' }),
  });
}
