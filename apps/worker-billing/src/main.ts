import { runWorkerApp } from '@switchyard/runtime';
import { handlers } from './handlers.js';

await runWorkerApp({
  name: 'worker-billing',
  subscriber: 'billing',
  handlers,
  env: process.env,
});
