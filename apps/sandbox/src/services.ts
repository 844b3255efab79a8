/**
 * The third-party APIs the sandbox stands in for, each at `POST /<service>`:
 * e-mail delivery (notifications), workspace creation (provisioning),
 * billing alerts (billing), and a generic webhook receiver that the worker
 * apps `pnpm gen subscriber` writes call until they get a real downstream.
 * Idempotency keys are scoped per service.
 */
export const services = ['email', 'workspaces', 'billing-alerts', 'webhooks'] as const;

export type Service = (typeof services)[number];
