/**
 * The Done-when of `pnpm gen`: both generators run in a temporary copy of
 * this repository, and then lint, typecheck and the generated tests pass
 * there, with no hand edit: the new subscriber receives the new event end to
 * end (publish -> its worker process -> sandbox ledger). Re-running either
 * generator with the same answers changes nothing; a bad name changes
 * nothing and exits non-zero with a message.
 *
 * One copy for the whole file, the steps in order (each builds on the one
 * before). Takes 1-3 minutes, most of it tsc and eslint in the copy.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepoCopy, type RunResult } from './support/repo-copy.js';

const type = 'parcel.dispatched';
const subscriber = 'dispatch-audit';
const app = `worker-${subscriber}`;
const pkg = `@switchyard/${app}`;

/** Bound on one generator run (a subscriber links the workspace: pnpm install). */
const generatorTimeoutMs = 180_000;
/** Bound on tsc, eslint and the generated tests, on a loaded two-core machine. */
const checkTimeoutMs = 600_000;

let repo: RepoCopy;
/** Fingerprint of the copy right after installing, before any generator ran. */
let pristine: string;

const describeRun = (result: RunResult) =>
  `exit ${result.code} after ${result.durationMs} ms\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;

function expectOk(result: RunResult): void {
  expect(result.code, describeRun(result)).toBe(0);
}

beforeAll(async () => {
  repo = await RepoCopy.create();
  // From the local store, without the network; the lockfile is the copied one.
  const install = await repo.run(
    'pnpm',
    ['install', '--offline', '--frozen-lockfile=false', '--reporter=append-only'],
    180_000,
  );
  expectOk(install);
  console.info(`pnpm install --offline in the copy: ${install.durationMs} ms`);
  pristine = await repo.fingerprint();
}, 240_000);

afterAll(async () => {
  await repo?.remove();
});

describe('pnpm gen', () => {
  describe('with a bad name', () => {
    it.each([
      [['event', 'Parcel.Dispatched'], 'SY_ERR_GEN_NAME_INVALID', /dotted lower-case/],
      [['event', 'parcel'], 'SY_ERR_GEN_NAME_INVALID', /dotted lower-case/],
      [['event', 'user.signed_up'], 'SY_ERR_GEN_NAME_TAKEN', /already declares "user.signed_up"/],
      [['event', 'dlq.moved'], 'SY_ERR_GEN_NAME_RESERVED', /reserved/],
      [
        ['subscriber', 'Dispatch_Audit', '--on', 'user.signed_up'],
        'SY_ERR_GEN_NAME_INVALID',
        /kebab-case/,
      ],
      [['subscriber', 'dlq', '--on', 'user.signed_up'], 'SY_ERR_GEN_NAME_RESERVED', /reserved/],
      [
        ['subscriber', 'schedules', '--on', 'user.signed_up'],
        'SY_ERR_GEN_NAME_RESERVED',
        /reserved/,
      ],
      [
        ['subscriber', 'billing', '--on', 'payment.failed'],
        'SY_ERR_GEN_NAME_TAKEN',
        /already routes/,
      ],
      [['subscriber', 'audit', '--on', 'parcel.lost'], 'SY_ERR_GEN_UNKNOWN_EVENT', /parcel\.lost/],
      [['subscriber', 'audit'], 'SY_ERR_GEN_USAGE', /--on/],
    ])(
      'refuses %j with %s, a message, and no change',
      async (args, code, message) => {
        const result = await repo.gen(...args);

        expect(result.code, describeRun(result)).not.toBe(0);
        expect(result.stderr).toContain(`error ${code}:`);
        expect(result.stderr).toMatch(message);
        expect(await repo.fingerprint()).toBe(pristine);
      },
      generatorTimeoutMs,
    );
  });

  describe('event', () => {
    it(
      'adds the type with its schema snapshot, fixtures and unit test',
      async () => {
        const result = await repo.gen('event', type);

        expectOk(result);
        for (const file of [
          'packages/events/src/catalogue.ts',
          `packages/events/schemas/${type}.v1.json`,
          `packages/events/test/fixtures/${type}.v1.json`,
          `packages/events/test/${type}.v1.test.ts`,
        ]) {
          expect(result.stdout).toContain(`wrote ${file}\n`);
        }
        expect(await repo.read('packages/events/src/catalogue.ts')).toContain(`'${type}': {`);
        const snapshot = JSON.parse(await repo.read(`packages/events/schemas/${type}.v1.json`)) as {
          required: string[];
        };
        expect(snapshot.required).toEqual(['parcelId', 'summary']);
      },
      generatorTimeoutMs,
    );
  });

  describe('subscriber, when linking the new app into the workspace fails', () => {
    it(
      'puts every file back, exits 1 and says why',
      async () => {
        const before = await repo.fingerprint();

        // No pnpm on PATH: the files are written, then `pnpm install` cannot run.
        const result = await repo.run(
          process.execPath,
          [
            '--conditions=@switchyard/source',
            '--import',
            'tsx',
            'packages/generators/src/main.ts',
            'subscriber',
            subscriber,
            '--on',
            type,
          ],
          generatorTimeoutMs,
          '',
          // (pnpm is often installed beside node, so not node's folder either.)
          { PATH: join(repo.root, 'no-such-folder') },
        );

        expect(result.code, describeRun(result)).toBe(1);
        expect(result.stderr).toContain('error SY_ERR_GEN_STEP_FAILED: could not link');
        expect(await repo.fingerprint()).toBe(before);
      },
      generatorTimeoutMs,
    );
  });

  describe('subscriber', () => {
    it(
      'adds the routing entry, the worker app and its deployment entries, and links it',
      async () => {
        const result = await repo.gen('subscriber', subscriber, '--on', type);

        expectOk(result);
        expect(result.stdout).toMatch(
          /linked worker-dispatch-audit into the workspace: pnpm install --offline/,
        );
        expect(await repo.read('packages/events/src/routing.ts')).toContain(`events: ['${type}']`);
        expect(await repo.read('pnpm-lock.yaml')).toContain(`apps/${app}:`);
        expect(await repo.read('docker-compose.yml')).toContain(`APP: ${app},`);
        expect(await repo.read('infra/k8s/base/kustomization.yaml')).toContain(`- ${app}.yaml`);
        expect(await repo.read(`infra/k8s/base/${app}.yaml`)).toContain(
          `query: max(sy_queue_backlog{queue="${subscriber}"})`,
        );
        expect(await repo.read('README.md')).toContain(`| [${app}](apps/${app}/README.md)`);
      },
      generatorTimeoutMs,
    );
  });

  describe('run again with the same answers', () => {
    it(
      'changes nothing',
      async () => {
        const before = await repo.fingerprint();

        const event = await repo.gen('event', type);
        const sub = await repo.gen('subscriber', subscriber, '--on', type);

        expectOk(event);
        expectOk(sub);
        expect(event.stdout).toContain('nothing changed');
        expect(sub.stdout).toContain('nothing changed');
        expect(await repo.fingerprint()).toBe(before);
      },
      2 * generatorTimeoutMs,
    );

    it(
      'refuses other answers for a generated name, changing nothing',
      async () => {
        const before = await repo.fingerprint();

        const result = await repo.gen('subscriber', subscriber, '--on', `${type},user.signed_up`);

        expect(result.code).toBe(1);
        expect(result.stderr).toContain('SY_ERR_GEN_NAME_TAKEN');
        expect(await repo.fingerprint()).toBe(before);
      },
      generatorTimeoutMs,
    );
  });

  describe('what it generated', () => {
    it(
      'builds, typechecks, lints and is formatted',
      async () => {
        expectOk(
          await repo.run(
            'pnpm',
            ['turbo', 'run', 'build', `--filter=${pkg}...`, '--output-logs=errors-only'],
            420_000,
          ),
        );
        expectOk(
          await repo.run(
            'pnpm',
            [
              'turbo',
              'run',
              'typecheck',
              'lint',
              `--filter=${pkg}`,
              '--filter=@switchyard/events',
              '--output-logs=errors-only',
            ],
            420_000,
          ),
        );
        expectOk(
          await repo.run(
            'pnpm',
            [
              'exec',
              'prettier',
              '--check',
              'README.md',
              'docker-compose.yml',
              'infra/k8s',
              'infra/monitoring',
              'packages/events',
              `apps/${app}`,
            ],
            120_000,
          ),
        );
      },
      checkTimeoutMs,
    );

    it(
      "passes its tests: the events package's whole suite with the new event's unit test, and the subscriber's handler and end-to-end tests",
      async () => {
        // The whole events suite, not only the new file: a test there that
        // hard-codes the catalogue would break on every generated event.
        const eventTests = await repo.run(
          'pnpm',
          ['exec', 'vitest', 'run'],
          180_000,
          'packages/events',
        );
        expectOk(eventTests);
        const results = JSON.parse(
          await repo.read('packages/events/test-results.json'),
        ) as VitestJson;
        expect(results.numFailedTests).toBe(0);
        expect(results.numPassedTests).toBeGreaterThanOrEqual(10);
        expect(results.testResults.map((file) => file.name)).toContainEqual(
          expect.stringContaining(`${type}.v1.test.ts`),
        );

        const workerTests = await repo.run(
          'pnpm',
          ['exec', 'vitest', 'run'],
          240_000,
          `apps/${app}`,
        );
        expectOk(workerTests);
        const worker = JSON.parse(await repo.read(`apps/${app}/test-results.json`)) as VitestJson;
        expect(worker.numFailedTests).toBe(0);
        const passed = worker.testResults.flatMap((file) =>
          file.assertionResults
            .filter((test) => test.status === 'passed')
            .map((test) => test.fullName),
        );
        expect(passed).toContainEqual(
          expect.stringContaining(`when ${type} is published reaches the worker`),
        );
        expect(passed).toContainEqual(
          expect.stringContaining('is applied once downstream when handled twice'),
        );
      },
      checkTimeoutMs,
    );

    it(
      'is in every deployment file the deployment checks read (compose, kustomize)',
      async () => {
        expectOk(
          await repo.run(
            'pnpm',
            ['exec', 'vitest', 'run', 'test/deploy-config.test.ts'],
            180_000,
            'apps/stack',
          ),
        );
      },
      generatorTimeoutMs,
    );

    it(
      "is run by pnpm start and its queue and DLQ are on the dashboard's board",
      async () => {
        const probe = `
        const { discoverWorkerApps } = await import('./apps/stack/src/stack-plan.ts');
        const { dashboardQueues } = await import('./apps/dashboard/src/dashboard-queues.ts');
        console.log(JSON.stringify({
          workers: discoverWorkerApps(process.cwd()),
          queues: dashboardQueues().map((queue) => queue.name),
        }));`;
        const result = await repo.run(
          process.execPath,
          [
            '--conditions=@switchyard/source',
            '--import',
            'tsx',
            '--input-type=module',
            '-e',
            probe,
          ],
          60_000,
        );
        expectOk(result);
        const seen = JSON.parse(result.stdout) as { workers: string[]; queues: string[] };
        expect(seen.workers).toContain(app);
        expect(seen.queues).toEqual(expect.arrayContaining([subscriber, `${subscriber}.dlq`]));
      },
      generatorTimeoutMs,
    );
  });
});

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
}
