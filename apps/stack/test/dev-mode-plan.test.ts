/**
 * Dev mode without processes: what planStack launches, the defaults that
 * differ from `pnpm start`, and the pretty-printing of child lines.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveCredentials } from '../src/credentials.js';
import { parseStackEnv } from '../src/env.js';
import { AppSourceMissingError } from '../src/errors.js';
import { createPrettyLogLine } from '../src/pretty-log-line.js';
import { planStack } from '../src/stack-plan.js';
import { TaggedOutput } from '../src/tagged-output.js';
import { CapturedStream } from './helpers/captured-stream.js';
import { FakeRepo } from './helpers/fake-repo.js';

const credentials = resolveCredentials({
  apiKeys: ['sy_test-key-one-0123456789'],
  dashboardUser: 'ops',
  dashboardPassword: 'a-dashboard-password',
});

describe('dev mode', () => {
  let repo: FakeRepo;

  /** apps/<app>/src/main.ts only: dev mode needs no dist/. */
  const sourceApp = (app: string): void => {
    mkdirSync(join(repo.path, 'apps', app, 'src'), { recursive: true });
    writeFileSync(join(repo.path, 'apps', app, 'package.json'), '{}');
    writeFileSync(join(repo.path, 'apps', app, 'src', 'main.ts'), 'export {};\n');
  };

  beforeEach(() => {
    repo = new FakeRepo();
    for (const app of [
      'sandbox',
      'producer',
      'worker-billing',
      'worker-notifications',
      'dashboard',
    ])
      sourceApp(app);
  });
  afterEach(() => repo.remove());

  const plan = (vars: Record<string, string> = {}) =>
    planStack({
      root: repo.path,
      env: parseStackEnv(vars, 'dev'),
      credentials,
      execPath: '/usr/bin/node',
      parentEnv: {},
      mode: 'dev',
      tsxCli: '/opt/tsx/cli.mjs',
    });

  describe('when planning the children', () => {
    it('runs each app from source under tsx watch, from its own folder', () => {
      const children = plan().children;
      expect(children.map((child) => child.name)).toEqual([
        'sandbox',
        'producer',
        'worker-billing-1',
        'worker-notifications-1',
        'dashboard',
      ]);
      for (const child of children) {
        expect(child.command).toBe('/usr/bin/node');
        expect(child.args).toEqual([
          '/opt/tsx/cli.mjs',
          'watch',
          '--clear-screen=false',
          '--conditions=@switchyard/source',
          join('src', 'main.ts'),
        ]);
        expect(child.cwd).toBe(join(repo.path, 'apps', child.app));
      }
    });

    it('runs one replica per worker app unless WORKER_REPLICAS says otherwise', () => {
      expect(parseStackEnv({}, 'dev').WORKER_REPLICAS).toBe(1);
      expect(parseStackEnv({}).WORKER_REPLICAS).toBe(2);
      expect(
        plan({ WORKER_REPLICAS: '2' })
          .children.filter((child) => child.kind === 'worker')
          .map((child) => child.name),
      ).toEqual([
        'worker-billing-1',
        'worker-billing-2',
        'worker-notifications-1',
        'worker-notifications-2',
      ]);
    });

    it('refuses to start, naming the app, when an app has no src/main.ts', () => {
      mkdirSync(join(repo.path, 'apps', 'worker-empty'));
      writeFileSync(join(repo.path, 'apps', 'worker-empty', 'package.json'), '{}');
      let error: unknown;
      try {
        plan();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(AppSourceMissingError);
      expect((error as AppSourceMissingError).code).toBe('SY_ERR_APP_SOURCE_MISSING');
      expect((error as Error).message).toContain('apps/worker-empty has no source entry');
    });

    it('resolves the tsx CLI this package depends on when none is given', () => {
      const child = planStack({
        root: repo.path,
        env: parseStackEnv({}, 'dev'),
        credentials,
        parentEnv: {},
        mode: 'dev',
      }).children[0];
      expect(child?.args[0]).toMatch(/[/\\]tsx[/\\]dist[/\\]cli\.mjs$/);
    });
  });

  describe('when a child prints log lines', () => {
    const record = {
      level: 30,
      time: '2026-11-25T19:20:00.123Z',
      pid: 4242,
      service: 'worker-billing',
      name: 'worker-billing',
      eventId: 'e_1',
      subscriber: 'billing',
      msg: 'job succeeded',
    };

    it('prints pino records pretty behind the tag, other lines as they are', async () => {
      const stdout = new CapturedStream();
      const output = new TaggedOutput({
        stdout,
        stderr: stdout,
        names: ['worker-billing-1'],
        formatChildLine: createPrettyLogLine({ colorize: false }),
      });
      const source = new PassThrough();
      output.pipe('worker-billing-1', source, 'stdout');
      source.end(
        `${JSON.stringify(record)}\n[tsx] change in ./src/main.ts Restarting...\n{not json`,
      );
      await stdout.waitFor(/\{not json\n/);
      const lines = stdout.lines();
      expect(lines[0]).toMatch(
        /^\[worker-billing-1\] \[\d{2}:\d{2}:\d{2}\.123\] INFO: job succeeded \{"eventId":"e_1","subscriber":"billing"\}$/,
      );
      expect(lines[0]).not.toContain('4242');
      expect(lines.slice(1)).toEqual([
        '[worker-billing-1] [tsx] change in ./src/main.ts Restarting...',
        '[worker-billing-1] {not json',
      ]);
    });

    it('colours only when asked to (a terminal)', () => {
      const line = JSON.stringify(record);
      expect(createPrettyLogLine({ colorize: false })(line)).not.toContain('\u001b[');
      expect(createPrettyLogLine({ colorize: true })(line)).toContain('\u001b[');
    });

    it('leaves JSON that is not a pino record alone', () => {
      const pretty = createPrettyLogLine({ colorize: false });
      for (const line of ['{"msg":"no level"}', '[1,2]', '{"level":"info","msg":"x"}'])
        expect(pretty(line)).toBe(line);
    });
  });
});
