/**
 * The notifications subscriber: a welcome e-mail for every new user, sent
 * through the sandbox's `POST /email`. The event's idempotency key goes with
 * the call, so a redelivered event is not mailed twice.
 *
 * The call runs inside `ctx.once('send-welcome-email')`: a job delivered twice (its
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
export function welcomeEmailHandler(sandbox: HttpClient) {
  return defineHandler({
    subscriber: 'notifications',
    event: 'user.signed_up',
    handle: async (event, ctx) => {
      await ctx.once('send-welcome-email', () =>
        sandbox.post(
          '/email',
          { to: event.data.email, template: 'welcome', userId: event.data.userId },
          { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal },
        ),
      );
    },
  });
}

export function handlers({ sandbox }: Pick<WorkerAppDeps, 'sandbox'>): Handler[] {
  return [welcomeEmailHandler(sandbox)];
}
