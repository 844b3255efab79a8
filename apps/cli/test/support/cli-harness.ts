/**
 * One Redis server per test file (testkit's startRedis), a key prefix per
 * test, and `sy` run in-process against both with captured output. DLQ
 * entries are written the way the runtime writes them: a paused
 * `<subscriber>.dlq` queue, one job per createDeadLetterRecord, jobId = the
 * original job id.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { deadLetterQueueNameOf, queueNameOf, type SubscriberName } from '@switchyard/events';
import {
  createDeadLetterRecord,
  deadLetterJobId,
  deadLetterJobOptions,
  type DeadLetterReason,
  type DeadLetterRecord,
} from '@switchyard/runtime';
import {
  numberedEnvelope as envelopeOf,
  randomPrefix,
  startRedis,
  unlinkPrefix,
  type RedisHandle,
} from '@switchyard/testkit';
import { runCli, type CliDeps } from '../../src/index.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DeadLetterSpec {
  reason?: DeadLetterReason;
  type?: 'user.signed_up' | 'payment.failed';
  tenantId?: string;
  failedAt?: string;
}

export { envelopeOf };

export const day = (d: number) => `2030-01-${String(d).padStart(2, '0')}T12:00:00.000Z`;

export function useCliHarness() {
  let server: RedisHandle;
  const state = {
    url: '',
    prefix: '',
    admin: undefined as unknown as Redis,
    queues: [] as Queue[],
  };
  let n = 0;

  beforeAll(async () => {
    server = await startRedis();
    state.url = server.url;
    state.admin = new Redis(server.url, { maxRetriesPerRequest: null });
  });

  afterEach(async () => {
    for (const queue of state.queues.splice(0)) await queue.close();
    await unlinkPrefix(state.admin, state.prefix);
    state.prefix = '';
  });

  afterAll(async () => {
    await state.admin.quit();
    await server.stop();
  });

  /** A queue under this test's prefix (opened on first use, closed after the test). */
  function queue(name: string): Queue {
    if (state.prefix === '') state.prefix = randomPrefix();
    const opened = new Queue(name, { connection: state.admin, prefix: state.prefix });
    state.queues.push(opened);
    return opened;
  }

  function prefix(): string {
    if (state.prefix === '') state.prefix = randomPrefix();
    return state.prefix;
  }

  /** Runs `sy argv` in-process against this test's Redis and prefix. */
  async function run(argv: string[], deps: Partial<CliDeps> = {}): Promise<CliRun> {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      env: { REDIS_URL: state.url, QUEUE_PREFIX: prefix() },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      ...deps,
    });
    return { code, stdout, stderr };
  }

  /** Writes DLQ entries of `subscriber` (the DLQ paused, as the runtime keeps it). */
  async function deadLetters(
    subscriber: SubscriberName,
    specs: DeadLetterSpec[],
  ): Promise<DeadLetterRecord[]> {
    const dlq = queue(deadLetterQueueNameOf(subscriber));
    await dlq.pause();
    const records = specs.map((spec) => {
      n += 1;
      const event = envelopeOf(spec.type ?? 'user.signed_up', n, spec.tenantId);
      const failedAt = new Date(spec.failedAt ?? day(10));
      return createDeadLetterRecord({
        subscriber,
        queue: queueNameOf(subscriber),
        jobId: event.id,
        jobName: event.type,
        event,
        reason: spec.reason ?? 'attempts_exhausted',
        errors: [
          { attempt: 1, code: 'SY_ERR_TEST', name: 'Error', message: `boom ${n}`, at: day(1) },
        ],
        attempts: 1,
        enqueuedAt: failedAt.getTime() - 1_000,
        failedAt,
        workerId: 'worker-test-1',
      });
    });
    for (let start = 0; start < records.length; start += 500) {
      await dlq.addBulk(
        records.slice(start, start + 500).map((record) => ({
          name: record.jobName,
          data: record,
          opts: { ...deadLetterJobOptions, jobId: deadLetterJobId(record.jobId) },
        })),
      );
    }
    return records;
  }

  return {
    run,
    queue,
    prefix,
    deadLetters,
    get url() {
      return state.url;
    },
    get admin() {
      return state.admin;
    },
  };
}

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
