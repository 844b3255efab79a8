/**
 * The third-party APIs the sandbox stands in for, each at `POST /<service>`:
 * e-mail delivery (notifications), workspace creation (provisioning) and
 * billing alerts (billing). Idempotency keys are scoped per service.
 */
export const services = ['email', 'workspaces', 'billing-alerts'] as const;

export type Service = (typeof services)[number];
