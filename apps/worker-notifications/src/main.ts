import { runWorkerApp } from '@switchyard/runtime';
import { handlers } from './handlers.js';

await runWorkerApp({
  name: 'worker-notifications',
  subscriber: 'notifications',
  handlers,
  env: process.env,
});
