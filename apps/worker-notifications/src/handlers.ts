/**
 * The notifications subscriber: a welcome e-mail for every new user, sent
 * through the sandbox's `POST /email`. The event's idempotency key goes with
 * the call, so a redelivered event is not mailed twice.
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
      await sandbox.post(
        '/email',
        { to: event.data.email, template: 'welcome', userId: event.data.userId },
        { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal },
      );
    },
  });
}

export function handlers({ sandbox }: Pick<WorkerAppDeps, 'sandbox'>): Handler[] {
  return [welcomeEmailHandler(sandbox)];
}
