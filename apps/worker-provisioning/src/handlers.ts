/**
 * The provisioning subscriber: a default workspace for every new user,
 * created through the sandbox's `POST /workspaces` on the user's tier. The
 * event's idempotency key goes with the call, so a redelivered event creates
 * one workspace, not two.
 *
 * The call runs inside `ctx.once('create-default-workspace')`: a job delivered twice (its
 * worker killed after the call, before the ack) finds the effect done and
 * does not call again. The Idempotency-Key covers the window ctx.once leaves
 * (killed after the call, before its done marker was written).
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
      await ctx.once('create-default-workspace', () =>
        sandbox.post(
          '/workspaces',
          // The workspace API still calls it `plan`; since user.signed_up v2 the event says `tier`.
          { ownerId: event.data.userId, name: 'Default workspace', plan: event.data.tier },
          { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal },
        ),
      );
    },
  });
}

export function handlers({ sandbox }: Pick<WorkerAppDeps, 'sandbox'>): Handler[] {
  return [defaultWorkspaceHandler(sandbox)];
}
