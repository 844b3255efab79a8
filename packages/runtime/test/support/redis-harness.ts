/**
 * The per-file Redis setup most runtime suites share: one Redis server
 * (startRedis) and one client connection for the file, and cleanups that
 * tests push and that run, newest first, after each test. With
 * `downstream: true` a recording HTTP downstream is started too; it is
 * released and its calls cleared after each test, before the cleanups run.
 * With `sandbox: true` the built sandbox runs as a process (testkit's
 * startSandbox); it is stopped after the file, before Redis.
 *
 * Registers beforeAll/afterEach/afterAll hooks, so call it at the top level
 * of a test file. The fields are set once beforeAll has run.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startRedis, startSandbox, type RedisHandle, type Sandbox } from '@switchyard/testkit';
import { startDownstream, type Downstream } from './downstream.js';
import type { Harness } from './start-worker.js';

export interface DownstreamHarness extends Harness {
  downstream: Downstream;
}

export interface SandboxHarness extends Harness {
  sandbox: Sandbox;
}

export interface RedisHarnessOptions {
  /** Start a recording HTTP downstream (support/downstream.ts). Default false. */
  downstream?: boolean;
  /** Start the built sandbox as a process. Default false. */
  sandbox?: boolean;
}

export function useRedisHarness(): Harness;
export function useRedisHarness(options: { downstream: true }): DownstreamHarness;
export function useRedisHarness(options: { sandbox: true }): SandboxHarness;
export function useRedisHarness(options: RedisHarnessOptions = {}): Harness {
  const harness = { cleanups: [] } as unknown as DownstreamHarness & SandboxHarness;
  let redis: RedisHandle;

  beforeAll(async () => {
    redis = await startRedis();
    harness.redisUrl = redis.url;
    harness.client = new Redis(redis.url, { maxRetriesPerRequest: null });
    if (options.downstream) harness.downstream = await startDownstream();
    if (options.sandbox) harness.sandbox = await startSandbox();
  });

  afterEach(async () => {
    if (options.downstream) {
      harness.downstream.release();
      harness.downstream.calls.length = 0;
    }
    for (const cleanup of harness.cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    if (options.downstream) await harness.downstream.close();
    if (options.sandbox) await harness.sandbox.app.stop();
    await harness.client.quit();
    await redis.stop();
  });

  return harness;
}
