/**
 * REDIS_URL forms in the CLI: cluster and Sentinel URLs are read like the
 * apps read them, a cluster needs a hash-tagged prefix (usage error, exit 2,
 * naming the setting and the fix), and an unreachable cluster is the same
 * bounded exit 3 as an unreachable Redis, with the password hidden.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, freePort } from '@switchyard/testkit';
import { UsageError, readConfig, redactUrl } from '../src/index.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const entry = join(appDir, 'dist', 'main.js');

beforeAll(() => {
  assertBuilt(entry, join(appDir, 'src'), 'pnpm --filter @switchyard/cli build');
});

const cluster = 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001';

describe('readConfig', () => {
  it('takes a cluster URL with a hash-tagged prefix, from the environment or flags', () => {
    expect(
      readConfig({
        env: { REDIS_URL: cluster, QUEUE_PREFIX: '{sy}' },
        redisFlag: undefined,
        prefixFlag: undefined,
      }),
    ).toEqual({ redisUrl: cluster, redisUrlSource: 'REDIS_URL', prefix: '{sy}' });
    expect(
      readConfig({ env: {}, redisFlag: 'redis+sentinel://s:26379/main', prefixFlag: undefined })
        .redisUrl,
    ).toBe('redis+sentinel://s:26379/main');
  });

  it('refuses a cluster URL with an un-tagged prefix, naming both settings and the fix', () => {
    expect(() =>
      readConfig({ env: { REDIS_URL: cluster }, redisFlag: undefined, prefixFlag: undefined }),
    ).toThrow(
      new UsageError(
        'QUEUE_PREFIX "sy" has no hash tag, but REDIS_URL is a Redis Cluster URL: every key of one QUEUE_PREFIX must hash to one slot. Put the prefix in braces, e.g. QUEUE_PREFIX={sy}',
      ),
    );
    expect(() => readConfig({ env: {}, redisFlag: cluster, prefixFlag: 'prod' })).toThrow(
      /--prefix "prod" has no hash tag, but --redis is a Redis Cluster URL.*--prefix=\{prod\}/,
    );
  });

  it('refuses a malformed cluster or Sentinel URL without echoing its password', () => {
    expect(() =>
      readConfig({
        env: { REDIS_URL: 'redis+cluster://u:hunter2@h:notaport' },
        redisFlag: undefined,
        prefixFlag: '{sy}',
      }),
    ).toThrow(/^REDIS_URL "redis\+cluster:\/\/u:\*\*\*@h:notaport" is not usable/);
    expect(() =>
      readConfig({ env: {}, redisFlag: 'redis+sentinel://s:26379', prefixFlag: undefined }),
    ).toThrow(/--redis .* is not usable: a Sentinel URL is/);
  });

  it('hides passwords of every URL form', () => {
    expect(redactUrl('redis+cluster://app:hunter2@a:1,b:2')).toBe(
      'redis+cluster://app:***@a:1,b:2',
    );
    expect(redactUrl('redis://:hunter2@h:6379/')).toBe('redis://:***@h:6379');
  });
});

describe('the sy bin on an unreachable cluster', () => {
  it('exits 3 within 5 s naming REDIS_URL, with the password hidden', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const started = performance.now();
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [entry, 'queues'],
        {
          env: {
            PATH: process.env.PATH ?? '',
            REDIS_URL: `redis+cluster://:hunter2@127.0.0.1:${a},127.0.0.1:${b}`,
            QUEUE_PREFIX: '{sy}',
          },
          timeout: 15_000,
        },
        (error, _stdout, stderr) => {
          const exit = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ code: exit, stderr });
        },
      );
    });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(code).toBe(3);
    expect(stderr).toMatch(
      /^sy: cannot reach Redis at redis\+cluster:\/\/:\*\*\*@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+ \(REDIS_URL\): /,
    );
    expect(stderr).not.toContain('hunter2');
  });
});
