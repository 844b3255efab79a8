/**
 * What `pnpm gen subscriber <name> --on <types>` writes for the worker app
 * apps/worker-<name>, modelled on apps/worker-notifications and
 * apps/worker-billing: config in env.ts, handlers in handlers.ts, main.ts
 * only wires them into the runtime; a test of the handlers against the
 * sandbox and one end-to-end test (publish -> worker process -> sandbox
 * ledger). Every file is Prettier-formatted by the caller.
 */
import { camelCase, pascalCase } from './names.js';

export interface SubscriberTemplateInput {
  name: string;
  description: string;
  /** Event types, in the order given. */
  events: readonly string[];
  /** A valid payload of each event's newest version (what handlers receive). */
  samples: Readonly<Record<string, { version: number; data: Record<string, unknown> }>>;
}

const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
export const appName = (name: string) => `worker-${name}`;
export const appDir = (name: string) => `apps/${appName(name)}`;
const packageName = (name: string) => `@switchyard/${appName(name)}`;
const handlerOf = (type: string) => `${camelCase(type)}Handler`;
const envSchemaOf = (name: string) => `${camelCase(name)}EnvSchema`;

/** Default description: "Calls its downstream once per order.shipped and payment.failed." */
export function defaultSubscriberDescription(events: readonly string[]): string {
  const list =
    events.length === 1
      ? events[0]!
      : `${events.slice(0, -1).join(', ')} and ${events[events.length - 1]!}`;
  return `Calls its downstream once per ${list}.`;
}

/** The property added to `subscribers` in packages/events/src/routing.ts. */
export function routingEntry({ name, description, events }: SubscriberTemplateInput): string {
  const key = /^[a-z][a-z0-9]*$/.test(name) ? name : quote(name);
  return `  ${key}: {
    description: ${quote(description)},
    events: [${events.map(quote).join(', ')}],
  }`;
}

export function appFiles(input: SubscriberTemplateInput): Record<string, string> {
  const dir = appDir(input.name);
  return {
    [`${dir}/package.json`]: packageJson(input),
    [`${dir}/tsconfig.json`]: tsconfig,
    [`${dir}/tsconfig.build.json`]: tsconfigBuild,
    [`${dir}/vitest.config.ts`]: vitestConfig,
    [`${dir}/README.md`]: readme(input),
    [`${dir}/src/env.ts`]: envTs(input),
    [`${dir}/src/handlers.ts`]: handlersTs(input),
    [`${dir}/src/main.ts`]: mainTs(input),
    [`${dir}/test/handlers.test.ts`]: handlersTest(input),
    [`${dir}/test/end-to-end.test.ts`]: endToEndTest(input),
  };
}

function packageJson({ name }: SubscriberTemplateInput): string {
  return `${JSON.stringify(
    {
      name: packageName(name),
      version: '0.1.0',
      private: true,
      description: `Worker for the ${name} subscriber.`,
      type: 'module',
      scripts: {
        build: 'tsc -p tsconfig.build.json',
        typecheck: 'tsc -p tsconfig.json --noEmit',
        lint: 'eslint .',
        test: 'vitest run',
        dev: 'tsx watch --conditions=@switchyard/source src/main.ts',
        start: 'node dist/main.js',
        clean: 'rm -rf dist .turbo test-results.json',
      },
      dependencies: {
        '@switchyard/events': 'workspace:*',
        '@switchyard/observability': 'workspace:*',
        '@switchyard/runtime': 'workspace:*',
        zod: '^4.6.7',
      },
      devDependencies: {
        '@switchyard/client': 'workspace:*',
        '@switchyard/sandbox': 'workspace:*',
        '@switchyard/testkit': 'workspace:*',
      },
    },
    null,
    2,
  )}\n`;
}

const tsconfig = `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": {
    "noEmit": true,
    "allowImportingTsExtensions": true
  },
  "include": ["src", "test", "*.ts"]
}
`;

const tsconfigBuild = `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": {
    "rootDir": "src",
    "outDir": "dist",
    "customConditions": []
  },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts"]
}
`;

const vitestConfig = `import { defineProject } from '../../vitest.shared.ts';

export default defineProject();
`;

function envTs({ name }: SubscriberTemplateInput): string {
  return `/**
 * ${appName(name)}'s own configuration, read once from the environment by
 * main.ts (\`loadEnvOrExit\`) and passed down frozen. The variables every
 * worker reads (REDIS_URL, SANDBOX_URL, HEALTH_PORT, ...) are the runtime's
 * \`workerEnvSchema\`; add this worker's own here.
 */
import { z } from 'zod';

export const ${envSchemaOf(name)} = z.object({
  /**
   * Path of the downstream call, on SANDBOX_URL. Default: \`/webhooks\`, the
   * sandbox's generic service (recorded in its ledger as \`webhooks\`).
   */
  DOWNSTREAM_PATH: z
    .string()
    .max(200)
    .regex(/^\\/[A-Za-z0-9._~/-]*$/, 'must be a URL path such as /webhooks')
    .default('/webhooks'),
});

export type ${pascalCase(name)}Env = Readonly<z.infer<typeof ${envSchemaOf(name)}>>;
`;
}

function handlersTs({ name, events }: SubscriberTemplateInput): string {
  const one = (type: string) => `
/** The ${type} handler alone, typed for its event, so a test calls \`handle\` without a worker. */
export function ${handlerOf(type)}(downstream: HttpClient, options: DownstreamOptions) {
  return defineHandler({
    subscriber,
    event: ${quote(type)},
    handle: async (event, ctx) => {
      // Replace with what ${name} does on ${type}; keep side effects
      // inside ctx.once and send downstreamKey(ctx.idempotencyKey) along.
      await ctx.once('deliver', () =>
        downstream.post(
          options.path,
          { subscriber, type: event.type, eventId: event.id, data: event.data },
          { idempotencyKey: downstreamKey(ctx.idempotencyKey), signal: ctx.signal },
        ),
      );
    },
  });
}
`;
  return `/**
 * The ${name} subscriber (generated by \`pnpm gen subscriber\`): for every
 * ${events.join(', ')} it calls its downstream once, \`POST <DOWNSTREAM_PATH>\`
 * on SANDBOX_URL with the event. Two guards make a redelivered job harmless;
 * keep both when you replace the call with this subscriber's real work:
 *
 * - \`ctx.once('deliver')\`: a job delivered twice (its worker killed after
 *   the call, before the ack) finds the effect done and does not call again;
 * - \`Idempotency-Key: <subscriber>:<event's key>\` covers the window ctx.once
 *   leaves (killed after the call, before its done marker was written). It
 *   names the subscriber because the downstream dedupes per key: two
 *   subscribers of one event calling one service are two calls, not a repeat.
 *
 * Retries, timeouts, the DLQ and rate limits are the runtime's defaults;
 * \`defineHandler\` takes options to change them (see packages/runtime).
 */
import {
  defineHandler,
  type Handler,
  type HttpClient,
  type WorkerAppDeps,
} from '@switchyard/runtime';

export const subscriber = ${quote(name)};

export interface DownstreamOptions {
  /** Path of the call on the downstream's base URL (env DOWNSTREAM_PATH). */
  path: string;
}

/** The idempotency key of this subscriber's call for an event: one per (subscriber, event). */
export function downstreamKey(idempotencyKey: string): string {
  return \`\${subscriber}:\${idempotencyKey}\`;
}
${events.map(one).join('')}
export function handlers(
  { sandbox }: Pick<WorkerAppDeps, 'sandbox'>,
  options: DownstreamOptions,
): Handler[] {
  return [${events.map((type) => `${handlerOf(type)}(sandbox, options)`).join(', ')}];
}
`;
}

function mainTs({ name }: SubscriberTemplateInput): string {
  return `import { loadEnvOrExit } from '@switchyard/observability';
import { runWorkerApp } from '@switchyard/runtime';
import { ${envSchemaOf(name)} } from './env.js';
import { handlers, subscriber } from './handlers.js';

const env = loadEnvOrExit(${envSchemaOf(name)}, process.env);

await runWorkerApp({
  name: ${quote(appName(name))},
  subscriber,
  handlers: (deps) => handlers(deps, { path: env.DOWNSTREAM_PATH }),
  env: process.env,
});
`;
}

const literal = (value: unknown) => JSON.stringify(value);

function handlersTest({ name, events, samples }: SubscriberTemplateInput): string {
  const first = events[0]!;
  const one = (type: string) => `
  describe('when ${type} arrives', () => {
    const event = () => envelope(${quote(type)}) as Envelope<${quote(type)}>;

    it('calls the downstream with the event and its subscriber-scoped key', async () => {
      const received = event();

      await ${handlerOf(type)}(client(), options).handle(received, contextFor(received));

      expect(await sandbox.ledger()).toEqual([
        expect.objectContaining({
          service: 'webhooks',
          idempotencyKey: \`${name}:\${received.idempotencyKey}\`,
          repeats: 0,
          body: { subscriber, type: ${quote(type)}, eventId: received.id, data: received.data },
        }),
      ]);
    });

    it('is applied once downstream when handled twice', async () => {
      const received = event();

      await ${handlerOf(type)}(client(), options).handle(received, contextFor(received));
      await ${handlerOf(type)}(client(), options).handle(received, {
        ...contextFor(received),
        attempt: 2,
      });

      expect(await sandbox.ledger()).toEqual([
        expect.objectContaining({ idempotencyKey: downstreamKey(received.idempotencyKey), repeats: 1 }),
      ]);
    });
  });
`;
  return `/**
 * The ${name} handlers against the real downstream: the built sandbox, run
 * as a process the way users run it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEnvelope, parsePublishRequest, type Envelope } from '@switchyard/events';
import { createLogger } from '@switchyard/observability';
import {
  DownstreamRateLimitedError,
  createHttpClient,
  type HandlerContext,
} from '@switchyard/runtime';
import { handlerContext, startSandbox, type Sandbox } from '@switchyard/testkit';
import { ${[...events.map(handlerOf), 'downstreamKey', 'subscriber'].join(', ')} } from '../src/handlers.js';

/** A valid payload of each event's newest version, as \`pnpm gen subscriber\` found it. */
const samples: Record<string, { version: number; data: Record<string, unknown> }> = ${literal(
    Object.fromEntries(events.map((type) => [type, samples[type]])),
  )};

const options = { path: '/webhooks' };
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterEach(async () => {
  await sandbox.reset();
});

afterAll(async () => {
  await sandbox?.stop();
});

describe(${quote(appName(name))}, () => {${events.map(one).join('')}
  describe('when the downstream is down', () => {
    it('fails with a transient, typed error and sends nothing', async () => {
      await sandbox.control({ downForMs: 60_000 });
      const received = envelope(${quote(first)}) as Envelope<${quote(first)}>;

      await expect(
        ${handlerOf(first)}(client(), options).handle(received, contextFor(received)),
      ).rejects.toBeInstanceOf(DownstreamRateLimitedError);
      expect(await sandbox.ledger()).toEqual([]);
    });
  });
});

function envelope(type: string): Envelope {
  const sample = samples[type]!;
  return createEnvelope(
    parsePublishRequest({ type, version: sample.version, data: sample.data }),
  ) as Envelope;
}

const client = () => createHttpClient({ baseUrl: sandbox.url });

function contextFor(event: Envelope): HandlerContext {
  return handlerContext(event, {
    subscriber,
    logger: createLogger({ name: '${appName(name)}-test', level: 'silent' }),
  });
}
`;
}

function endToEndTest({ name, events, samples }: SubscriberTemplateInput): string {
  const one = (type: string) => `
  describe('when ${type} is published', () => {
    it('reaches the worker, which calls the downstream once', async () => {
      const data = ${literal(samples[type]!.data)} satisfies EventData<${quote(type)}>;
      const receipt = await publisher.publish(${quote(type)}, data);
      expect(receipt).toMatchObject({ status: 'accepted', queues: expect.arrayContaining([subscriber]) as unknown });

      const call = await waitFor(
        async () =>
          (await sandbox.ledger()).find(
            (entry) => entry.idempotencyKey === downstreamKey(receipt.idempotencyKey),
          ),
        { timeoutMs: 20_000, message: 'the ${type} call in the sandbox ledger' },
      );
      expect(call).toMatchObject({
        service: 'webhooks',
        repeats: 0,
        body: { subscriber, type: ${quote(type)}, eventId: receipt.eventId, data },
      });

      // The same fact again is a duplicate: no second job, no second call.
      const again = await publisher.publish(${quote(type)}, data);
      expect(again).toMatchObject({ status: 'duplicate', eventId: receipt.eventId });
      const calls = (await sandbox.ledger()).filter((entry) => entry.idempotencyKey === call.idempotencyKey);
      expect(calls).toEqual([expect.objectContaining({ repeats: 0 })]);
    });
  });
`;
  return `/**
 * End to end, the way \`pnpm start\` runs it: an event published to Redis
 * (through @switchyard/client, the producer's own publish path) reaches this
 * worker, built and running as its own process, which calls the sandbox; the
 * sandbox's ledger is the independent record of the side effect. Redis and
 * the sandbox are this suite's own.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, type Publisher } from '@switchyard/client';
import type { EventData } from '@switchyard/events';
import {
  assertBuilt,
  freePort,
  startApp,
  startRedis,
  startSandbox,
  waitFor,
  type AppProcess,
  type RedisHandle,
  type Sandbox,
} from '@switchyard/testkit';
import { downstreamKey, subscriber } from '../src/handlers.js';

const entry = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const prefix = \`e2e\${randomBytes(4).toString('hex')}\`;

let redis: RedisHandle;
let sandbox: Sandbox;
let worker: AppProcess;
let publisher: Publisher;

beforeAll(async () => {
  assertBuilt(
    entry,
    fileURLToPath(new URL('../src/', import.meta.url)),
    'pnpm --filter ${packageName(name)} build',
  );
  redis = await startRedis();
  sandbox = await startSandbox();
  const healthPort = await freePort();
  worker = await startApp({
    entry,
    env: {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      SANDBOX_URL: sandbox.url,
      HEALTH_PORT: String(healthPort),
      WORKER_ID: '${appName(name)}-e2e',
      LOG_LEVEL: 'warn',
    },
    readyUrl: \`http://127.0.0.1:\${healthPort}/readyz\`,
  });
  publisher = createPublisher({ redis: redis.url, prefix });
}, 120_000);

afterAll(async () => {
  await publisher?.close();
  const code = worker === undefined ? undefined : await worker.stop('SIGTERM', 15_000);
  await sandbox?.stop();
  await redis?.stop();
  // SIGTERM drains and exits 0: a graceful stop, not a crash.
  if (worker !== undefined) expect(code).toBe(0);
}, 60_000);

describe('${appName(name)} end to end', () => {${events.map(one).join('')}});
`;
}

function readme({ name, description, events }: SubscriberTemplateInput): string {
  const on = events.map((type) => `\`${type}\``).join(', ');
  return `# ${packageName(name)}

${description} Generated by \`pnpm gen subscriber\` ([docs/extending.md](../../docs/extending.md)).

Consumes the \`${name}\` queue (BullMQ prefix \`QUEUE_PREFIX\`, job name = event
type, job data = the envelope); its dead letters go to \`${name}.dlq\`. On
${on} it calls its downstream: \`POST \${SANDBOX_URL}\${DOWNSTREAM_PATH}\` with
\`{subscriber, type, eventId, data}\`. The call runs inside
\`ctx.once('deliver')\` (a Redis marker per subscriber, event and effect), so a
job delivered twice does not call again, and carries
\`Idempotency-Key: ${name}:<event.idempotencyKey>\`, which covers the window
\`ctx.once\` leaves, and the job's abort signal (timeout, shutdown).

The handlers live in \`src/handlers.ts\` and this app's own config in
\`src/env.ts\`; \`src/main.ts\` only parses that config and calls
\`runWorkerApp\` from \`@switchyard/runtime\`, which does the wiring (health
server, metrics, retries with backoff, DLQ, graceful shutdown) described in
[apps/worker-notifications](../worker-notifications/README.md#process).

\`\`\`sh
pnpm --filter ${packageName(name)} build
REDIS_URL=redis://127.0.0.1:6379 HEALTH_PORT=3100 node apps/${appName(name)}/dist/main.js
pnpm --filter ${packageName(name)} test   # handlers against the sandbox, and end to end
\`\`\`

## Environment

Every variable of [worker-notifications](../worker-notifications/README.md#environment)
(the runtime's \`workerEnvSchema\`), with \`WORKER_ID\` defaulting to
\`${appName(name)}-<pid>\`, and:

| variable | default | meaning |
| --- | --- | --- |
| \`DOWNSTREAM_PATH\` | \`/webhooks\` | path of the downstream call on \`SANDBOX_URL\` |

A bad value stops the process (exit 1) with a message naming the variable.

Under \`pnpm start\` its replicas serve health on the ports the root README's
"What runs" table lists (apps/worker-* in name order get 3100, 3200, …).
Deployment: \`docker-compose.yml\` service \`${appName(name)}\`,
\`infra/k8s/base/${appName(name)}.yaml\` (Deployment, PodDisruptionBudget and KEDA
ScaledObject on the \`${name}\` queue's backlog).
`;
}
