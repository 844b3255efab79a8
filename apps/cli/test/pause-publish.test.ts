import { describe, expect, it } from 'vitest';
import { parseJson, useCliHarness } from './support/cli-harness.js';

const cli = useCliHarness();

const signedUp = JSON.stringify({ userId: 'u_1', email: 'ada@example.com', plan: 'pro' });

describe('sy pause / resume', () => {
  it("flips the subscriber queue's paused state", async () => {
    const billing = cli.queue('billing');
    const paused = await cli.run(['pause', 'billing']);
    expect(paused).toMatchObject({ code: 0, stdout: 'billing paused\n' });
    expect(await billing.isPaused()).toBe(true);
    const resumed = await cli.run(['resume', 'billing', '--json']);
    expect(resumed.code).toBe(0);
    expect(parseJson(resumed.stdout)).toEqual({ queue: 'billing', paused: false, changed: true });
    expect(await billing.isPaused()).toBe(false);
  });

  it('refuses to resume a dead-letter queue with exit 2 and leaves it paused', async () => {
    const dlq = cli.queue('billing.dlq');
    await dlq.pause();
    const { code, stderr } = await cli.run(['resume', 'billing.dlq']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sy: refusing to resume billing\.dlq: dead-letter queues stay paused/);
    expect(await dlq.isPaused()).toBe(true);
  });

  it('refuses an unknown subscriber with exit 2, listing the known ones', async () => {
    const { code, stderr } = await cli.run(['pause', 'shipping']);
    expect(code).toBe(2);
    expect(stderr).toBe(
      'sy: unknown subscriber "shipping" (known: notifications, provisioning, billing)\n',
    );
  });
});

describe('sy publish', () => {
  it('accepts a valid event and enqueues it for every subscriber, then answers duplicate', async () => {
    const first = await cli.run([
      'publish',
      'user.signed_up',
      '--version',
      '1',
      '--data',
      signedUp,
      '--json',
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const accepted = parseJson<{ status: string; eventId: string; queues: string[] }>(first.stdout);
    expect(accepted).toMatchObject({
      status: 'accepted',
      queues: ['notifications', 'provisioning'],
    });
    expect((await cli.queue('notifications').getJob(accepted.eventId))?.name).toBe(
      'user.signed_up',
    );

    const again = await cli.run([
      'publish',
      'user.signed_up',
      '--version',
      '1',
      '--data',
      signedUp,
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^duplicate: event ${accepted.eventId} `));
    expect(await cli.queue('provisioning').count()).toBe(1);
  });

  it('exits 1 with the zod issue path for invalid data, enqueuing nothing', async () => {
    const bad = JSON.stringify({ userId: 'u_1', email: 'not-an-email', plan: 'pro' });
    const { code, stdout, stderr } = await cli.run(['publish', 'user.signed_up', '--data', bad]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^sy: SY_ERR_SCHEMA_INVALID: .*\(.*email.*\)\n$/);
    expect(await cli.queue('notifications').count()).toBe(0);
  });

  it('exits 2 for --data that is not JSON, or an unknown flag', async () => {
    const notJson = await cli.run(['publish', 'user.signed_up', '--data', '{nope']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/^sy: --data is not valid JSON/);
    const unknownFlag = await cli.run(['publish', 'user.signed_up', '--data', signedUp, '--bogus']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/^sy: publish: Unknown option '--bogus'/);
  });
});

describe('sy itself', () => {
  it('answers an unknown command with exit 2 and the usage', async () => {
    const { code, stderr } = await cli.run(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sy: unknown command "frobnicate"\n\nUsage: sy <command>/);
  });

  it('prints help for sy --help and sy <command> --help with exit 0', async () => {
    const main = await cli.run(['--help']);
    expect(main.code).toBe(0);
    for (const name of [
      'queues',
      'dlq ls',
      'dlq show',
      'dlq replay',
      'dlq purge',
      'pause',
      'resume',
      'publish',
    ]) {
      expect(main.stdout).toContain(`  ${name} `);
    }
    const replay = await cli.run(['dlq', 'replay', '--help']);
    expect(replay).toMatchObject({ code: 0 });
    expect(replay.stdout).toMatch(/^Usage: sy dlq replay <subscriber>/);
  });

  it('refuses a bad REDIS_URL or --prefix with exit 2 naming it', async () => {
    const badEnv = await cli.run(['queues'], { env: { REDIS_URL: 'http://x' } });
    expect(badEnv).toMatchObject({ code: 2 });
    expect(badEnv.stderr).toMatch(
      /^sy: REDIS_URL "http:\/\/x" must be a redis:\/\/, rediss:\/\/, redis\+cluster:\/\/ or redis\+sentinel:\/\/ URL\n$/,
    );
    const badFlag = await cli.run(['queues', '--prefix', 'a b']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/^sy: --prefix "a b" must be/);
  });
});
