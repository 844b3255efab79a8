import { loadEnvOrExit } from '@switchyard/observability';
import { runWorkerApp } from '@switchyard/runtime';
import { dunningSweepSchedule } from './dunning-sweep.js';
import { billingEnvSchema } from './env.js';
import { handlers } from './handlers.js';

const billingEnv = loadEnvOrExit(billingEnvSchema, process.env);

await runWorkerApp({
  name: 'worker-billing',
  subscriber: 'billing',
  handlers,
  schedules: () => [
    dunningSweepSchedule({
      everyMs: billingEnv.DUNNING_SWEEP_EVERY_MS,
      invoices: billingEnv.DUNNING_SWEEP_INVOICES,
    }),
  ],
  env: process.env,
});
