/**
 * The provisioning subscriber: a default workspace for every new user,
 * created through the sandbox's `POST /workspaces` on the user's plan. The
 * event's idempotency key goes with the call, so a redelivered event creates
 * one workspace, not two.
 */
import {
  defineHandler,
  type Handler,
  type HttpClient,
  type WorkerAppDeps,
} from '@switchyard/runtime';

/** The handler alone, typed for its event, so a test calls `handle` without a worker. */
export function defaultWorkspaceHandler(sandbox: HttpClient) {
  return defineHandler({
    subscriber: 'provisioning',
    event: 'user.signed_up',
    handle: async (event, ctx) => {
      await sandbox.post(
        '/workspaces',
        { ownerId: event.data.userId, name: 'Default workspace', plan: event.data.plan },
        { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal },
      );
    },
  });
}

export function handlers({ sandbox }: Pick<WorkerAppDeps, 'sandbox'>): Handler[] {
  return [defaultWorkspaceHandler(sandbox)];
}
