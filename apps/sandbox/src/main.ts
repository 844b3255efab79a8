/**
 * Starts the sandbox: reads the environment, listens, and on SIGTERM/SIGINT
 * closes the server (in-flight calls finish; calls waiting out injected
 * latency are cut short) and exits 0. A second signal exits 1 at once.
 */
import { buildSandbox } from './build-sandbox.js';
import { loadSandboxEnv } from './env.js';

const env = loadSandboxEnv();
const app = buildSandbox({ logger: env.LOG_LEVEL });

let closing = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (closing) {
    app.log.warn({ signal }, 'second signal while closing; exiting now');
    process.exit(1);
  }
  closing = true;
  app.log.info({ signal }, 'closing');
  app.close().then(
    () => process.exit(0),
    (error: unknown) => {
      app.log.error({ err: error }, 'close failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

try {
  await app.listen({ port: env.SANDBOX_PORT, host: env.HOST });
} catch (error) {
  app.log.fatal({ err: error }, `cannot listen on ${env.HOST}:${env.SANDBOX_PORT}`);
  process.exit(1);
}
