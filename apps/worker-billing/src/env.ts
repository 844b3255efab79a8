/**
 * worker-billing's own configuration (the dunning sweep), read once from the
 * environment by main.ts (`loadEnvOrExit`) and passed down frozen. The
 * variables every worker reads are runtime's `workerEnvSchema`.
 */
import { z } from 'zod';
import { catalogue } from '@switchyard/events';

/**
 * An invoice the demo sweep reminds about: the `payment.failed` v1 data
 * without `reason`, taken from the catalogue so a value the event would
 * refuse is refused at start, not at every tick.
 */
export const dunningInvoiceSchema = catalogue['payment.failed'][1].schema.omit({ reason: true });

export type DunningInvoice = z.infer<typeof dunningInvoiceSchema>;

export const billingEnvSchema = z.object({
  /** How often the dunning sweep runs, in ms (1 s .. 30 days). Default: 86400000 (24 h). */
  DUNNING_SWEEP_EVERY_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(30 * 86_400_000)
    .default(86_400_000),
  /**
   * The invoices the sweep reminds about: a JSON array of
   * {userId, invoiceId, amountCents, currency}. There is no invoice store in
   * this project; this list stands in for one. Default: [] (the sweep
   * publishes nothing).
   */
  DUNNING_SWEEP_INVOICES: z
    .string()
    .default('[]')
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array' });
        return z.NEVER;
      }
    })
    .pipe(z.array(dunningInvoiceSchema).max(10_000)),
});

export type BillingEnv = Readonly<z.infer<typeof billingEnvSchema>>;
