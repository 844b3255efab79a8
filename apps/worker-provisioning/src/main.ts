import { runWorkerApp } from '@switchyard/runtime';
import { handlers } from './handlers.js';

await runWorkerApp({
  name: 'worker-provisioning',
  subscriber: 'provisioning',
  handlers,
  env: process.env,
});
