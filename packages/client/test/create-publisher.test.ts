/**
 * createPublisher over both transports on a real Redis: one scenario table,
 * run against the direct-to-Redis publisher and against the built producer
 * over HTTP (once validated here, once by the producer), must give the same
 * outcome everywhere. Then the HTTP transport's retry rules, through a proxy
 * that loses or fakes the producer's answers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import {
  BacklogFullError,
  createPublisher,
  IdempotencyConflictError,
  ProducerRequestError,
  ProducerUnavailableError,
  idempotencyRecordKey,
  type HttpPublisherOptions,
  type Publisher,
  type PublishBatchResult,
} from '../src/index.js';
import {
  backlogLimits,
  openTransports,
  startProxy,
  type Proxy,
  type TransportUnderTest,
  type Transports,
} from './support/transports.js';

let server: RedisHandle;
let transports: Transports;
let proxy: Proxy | undefined;

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
  transports = await openTransports(server);
});
afterAll(async () => {
  await transports?.close();
  await server?.stop();
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const payment = (invoiceId: string, amountCents = 1_999) => ({
  userId: 'u_1',
  invoiceId,
  amountCents,
  currency: 'EUR',
  reason: 'card declined',
});
const signedUpV1 = (userId: string) => ({
  userId,
  email: `${userId}@example.com`,
  plan: 'free' as const,
});

/** What a publish came to, comparable across transports. */
type Outcome =
  | { status: 'accepted' | 'duplicate'; queues: string[] }
  | { error: string; code: string; details?: unknown };

async function outcomeOf(work: () => Promise<{ status: string; queues: string[] }>) {
  try {
    const result = await work();
    return { status: result.status, queues: result.queues } as Outcome;
  } catch (error) {
    if (!(error instanceof Error) || !('code' in error)) throw error;
    return { error: error.name, code: String(error.code) } as Outcome;
  }
}

function batchOutcome(results: PublishBatchResult[]) {
  return results.map((r) =>
    r.status === 'rejected'
      ? { index: r.index, rejected: r.error.code }
      : { index: r.index, status: r.status, queues: r.queues },
  );
}

/** Fills a queue's backlog up to its limit with jobs added straight to it. */
async function fill(t: TransportUnderTest, queue: string, limit: number): Promise<void> {
  const q = t.queue(queue);
  const have = (await q.getWaitingCount()) + (await q.getPrioritizedCount());
  for (let i = have; i < limit; i += 1) await q.add('filler', {});
}

interface Scenario {
  name: string;
  run(t: TransportUnderTest): Promise<unknown>;
  expected: unknown;
}

const scenarios: Scenario[] = [
  {
    name: 'a new event is accepted into every subscriber queue',
    run: async (t) => {
      const outcome = await outcomeOf(() =>
        t.publisher.publish('user.signed_up', signedUpV1('u_new'), { version: 1 }),
      );
      const jobs = [
        (await t.jobsIn('notifications')).length,
        (await t.jobsIn('provisioning')).length,
      ];
      return { outcome, jobs };
    },
    expected: {
      outcome: { status: 'accepted', queues: ['notifications', 'provisioning'] },
      jobs: [1, 1],
    },
  },
  {
    name: 'the same event again is a duplicate with the first eventId',
    run: async (t) => {
      const first = await t.publisher.publish('user.signed_up', signedUpV1('u_dup'), {
        version: 1,
      });
      const again = await t.publisher.publish('user.signed_up', signedUpV1('u_dup'), {
        version: 1,
      });
      return { status: again.status, sameEvent: again.eventId === first.eventId };
    },
    expected: { status: 'duplicate', sameEvent: true },
  },
  {
    name: 'the same key with another payload is a 409 conflict',
    run: (t) =>
      (async () => {
        await t.publisher.publish('payment.failed', payment('in_409'), {
          idempotencyKey: 'key-409',
        });
        await t.queue('billing').drain();
        return outcomeOf(() =>
          t.publisher.publish('payment.failed', payment('in_409', 5), {
            idempotencyKey: 'key-409',
          }),
        );
      })(),
    expected: {
      error: IdempotencyConflictError.name,
      code: 'SY_ERR_IDEMPOTENCY_CONFLICT',
    },
  },
  {
    name: 'a full subscriber backlog is a 429, with nothing enqueued and no key claimed',
    run: async (t) => {
      await fill(t, 'billing', backlogLimits.billing);
      let error: unknown;
      try {
        await t.publisher.publish('payment.failed', payment('in_429'));
      } catch (caught) {
        error = caught;
      }
      const ledger = await transports.admin.keys(`${t.prefix}:idempotency:*`);
      const refused = error as BacklogFullError;
      const billing = (await t.jobsIn('billing')).length;
      await t.queue('billing').drain();
      return {
        error: refused.name,
        code: refused.code,
        details: refused.details,
        retryAfterSeconds: refused.retryAfterSeconds,
        billing,
        ledger,
      };
    },
    expected: {
      error: BacklogFullError.name,
      code: 'SY_ERR_BACKLOG_FULL',
      details: { queue: 'billing', backlog: 2, limit: 2, retryAfterSeconds: 5 },
      retryAfterSeconds: 5,
      billing: 2,
      ledger: [],
    },
  },
  {
    name: 'an already-accepted event is still a duplicate while the backlog is full',
    run: async (t) => {
      await t.publisher.publish('payment.failed', payment('in_dup_full'));
      await fill(t, 'billing', backlogLimits.billing);
      const again = await outcomeOf(() =>
        t.publisher.publish('payment.failed', payment('in_dup_full')),
      );
      const conflict = await outcomeOf(() =>
        t.publisher.publish('payment.failed', payment('in_dup_full', 7)),
      );
      await t.queue('billing').drain();
      return { again, conflict };
    },
    expected: {
      again: { status: 'duplicate', queues: ['billing'] },
      conflict: { error: IdempotencyConflictError.name, code: 'SY_ERR_IDEMPOTENCY_CONFLICT' },
    },
  },
  {
    name: 'an invalid payload is a 400 schema error, with the zod issue paths',
    run: async (t) => {
      try {
        // @ts-expect-error amountCents must be a number: a compile error too
        await t.publisher.publish('payment.failed', { ...payment('in_400'), amountCents: 'x' });
        return 'published';
      } catch (error) {
        const e = error as Error & { code: string; details: { path: unknown[] }[] };
        return { error: e.name, code: e.code, paths: e.details.map((issue) => issue.path) };
      }
    },
    expected: {
      error: 'SchemaInvalidError',
      code: 'SY_ERR_SCHEMA_INVALID',
      paths: [['data', 'amountCents']],
    },
  },
  {
    name: 'a batch is answered per item: accepted, rejected, duplicate, backlog full',
    run: async (t) => {
      await fill(t, 'billing', backlogLimits.billing);
      const results = await t.publisher.publishBatch([
        { type: 'user.signed_up', version: 1, data: signedUpV1('u_batch') },
        { type: 'payment.failed', data: { ...payment('in_b1'), currency: 'euro' } },
        { type: 'user.signed_up', version: 1, data: signedUpV1('u_batch') },
        { type: 'payment.failed', data: payment('in_b2') },
      ]);
      await t.queue('billing').drain();
      return batchOutcome(results);
    },
    expected: [
      { index: 0, status: 'accepted', queues: ['notifications', 'provisioning'] },
      { index: 1, rejected: 'SY_ERR_SCHEMA_INVALID' },
      { index: 2, status: 'duplicate', queues: ['notifications', 'provisioning'] },
      { index: 3, rejected: 'SY_ERR_BACKLOG_FULL' },
    ],
  },
  {
    name: 'delay and priority reach the jobs’ BullMQ options, and stay out of the envelope',
    run: async (t) => {
      const result = await t.publisher.publish('user.signed_up', signedUpV1('u_later'), {
        version: 1,
        delayMs: 60_000,
        priority: 7,
      });
      const job = await t.queue('notifications').getJob(result.eventId);
      return {
        delay: job?.opts.delay,
        priority: job?.opts.priority,
        state: await job?.getState(),
        envelopeKeys: Object.keys(job?.data as object).sort(),
      };
    },
    expected: {
      delay: 60_000,
      priority: 7,
      state: 'delayed',
      envelopeKeys: [
        'correlationId',
        'data',
        'id',
        'idempotencyKey',
        'occurredAt',
        'type',
        'version',
      ],
    },
  },
];

describe('createPublisher: the same outcomes over both transports', () => {
  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const outcomes: Record<string, unknown> = {};
      for (const t of transports.all) {
        // The two HTTP publishers share the producer's prefix: clean between them.
        await Promise.all(
          ['notifications', 'provisioning', 'billing'].map((q) =>
            t.queue(q).obliterate({ force: true }),
          ),
        );
        const keys = await transports.admin.keys(`${t.prefix}:idempotency:*`);
        if (keys.length > 0) await transports.admin.unlink(...keys);
        outcomes[t.name] = await scenario.run(t);
      }
      for (const t of transports.all) {
        expect({ transport: t.name, outcome: outcomes[t.name] }).toEqual({
          transport: t.name,
          outcome: scenario.expected,
        });
      }
    });
  }
});

describe('the HTTP transport', () => {
  const httpQueue = () => transports.all[1]!.queue('billing');
  const through = (options: Partial<HttpPublisherOptions>): Publisher =>
    transports.http({ retryDelayMs: 10, ...options }, proxy!.url);

  afterEach(async () => {
    await httpQueue().obliterate({ force: true });
  });

  describe('when the first attempt answers 503', () => {
    it('retries with the same idempotency key and publishes ONE accepted event', async () => {
      proxy = await startProxy(transports.producer.url, (n) =>
        n === 1
          ? {
              kind: 'answer',
              status: 503,
              headers: { 'retry-after': '0' },
              body: { error: { code: 'SY_ERR_DRAINING', message: 'draining' } },
            }
          : { kind: 'pass' },
      );
      const result = await through({ retries: 2 }).publish('payment.failed', payment('in_503'));

      expect(result.status).toBe('accepted');
      expect(proxy.bodies).toHaveLength(2);
      expect((proxy.bodies[0] as { idempotencyKey: string }).idempotencyKey).toMatch(
        /^payment\.failed:v1:/,
      );
      expect(proxy.bodies[1]).toEqual(proxy.bodies[0]);
      expect((await httpQueue().getJobs()).map((job) => job.id)).toEqual([result.eventId]);
    });
  });

  describe('when the answer of an applied attempt is lost', () => {
    it('recognises the retry as the same publish: one event, answered duplicate with its id', async () => {
      proxy = await startProxy(transports.producer.url, (n) =>
        n === 1 ? { kind: 'drop-answer' } : { kind: 'pass' },
      );
      const result = await through({ retries: 2 }).publish('payment.failed', payment('in_lost'));

      expect(result.status).toBe('duplicate');
      expect(proxy.bodies).toHaveLength(2);
      expect((await httpQueue().getJobs()).map((job) => job.id)).toEqual([result.eventId]);
    });
  });

  describe('when an attempt times out', () => {
    it('retries after timeoutMs and still publishes one event', async () => {
      proxy = await startProxy(transports.producer.url, (n) =>
        n === 1 ? { kind: 'delay-answer', ms: 1_500 } : { kind: 'pass' },
      );
      const started = performance.now();
      const result = await through({ retries: 1, timeoutMs: 300 }).publish(
        'payment.failed',
        payment('in_slow'),
      );

      expect(performance.now() - started).toBeLessThan(1_400);
      expect(result.status).toBe('duplicate');
      expect(await httpQueue().getJobs()).toHaveLength(1);
    });

    it('gives up with ProducerUnavailableError when every attempt times out', async () => {
      proxy = await startProxy(transports.producer.url, () => ({
        kind: 'delay-answer',
        ms: 1_000,
      }));
      const error = await through({ retries: 1, timeoutMs: 200 })
        .publish('payment.failed', payment('in_never'))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ProducerUnavailableError);
      expect(proxy.bodies).toHaveLength(2);
    });
  });

  describe('when the producer answers 429 with Retry-After', () => {
    const full = {
      kind: 'answer' as const,
      status: 429,
      headers: { 'retry-after': '1' },
      body: {
        error: {
          code: 'SY_ERR_BACKLOG_FULL',
          message: 'full',
          details: { queue: 'billing', backlog: 9, limit: 2, retryAfterSeconds: 1 },
        },
      },
    };

    it('waits that long, then retries', async () => {
      proxy = await startProxy(transports.producer.url, (n) => (n === 1 ? full : { kind: 'pass' }));
      const started = performance.now();
      const result = await through({ retries: 2 }).publish('payment.failed', payment('in_wait'));

      expect(result.status).toBe('accepted');
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    });

    it('gives up with BacklogFullError once the retries are spent', async () => {
      proxy = await startProxy(transports.producer.url, () => full);
      const error = await through({ retries: 1 })
        .publish('payment.failed', payment('in_full'))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(BacklogFullError);
      expect(error).toMatchObject({
        code: 'SY_ERR_BACKLOG_FULL',
        retryAfterSeconds: 1,
        details: { queue: 'billing', backlog: 9, limit: 2 },
      });
      expect(proxy.bodies).toHaveLength(2);
    });

    it('gives up at once when Retry-After is longer than maxRetryAfterMs', async () => {
      proxy = await startProxy(transports.producer.url, () => ({
        ...full,
        headers: { 'retry-after': '120' },
      }));
      const started = performance.now();
      const error = await through({ retries: 3, maxRetryAfterMs: 5_000 })
        .publish('payment.failed', payment('in_long'))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(BacklogFullError);
      expect(proxy.bodies).toHaveLength(1);
      expect(performance.now() - started).toBeLessThan(1_000);
    });
  });

  describe('when the producer answers another 4xx', () => {
    it('never retries it: 409 and 401 are final', async () => {
      proxy = await startProxy(transports.producer.url, () => ({ kind: 'pass' }));
      const publisher = through({ retries: 3 });
      await publisher.publish('payment.failed', payment('in_4xx'), { idempotencyKey: 'k4xx' });
      const conflict = await publisher
        .publish('payment.failed', payment('in_4xx', 3), { idempotencyKey: 'k4xx' })
        .catch((e: unknown) => e);
      const unauthorized = await transports
        .http({ apiKey: 'not-a-configured-key-at-all', retries: 3 }, proxy.url)
        .publish('payment.failed', payment('in_401'))
        .catch((e: unknown) => e);

      expect(conflict).toBeInstanceOf(IdempotencyConflictError);
      expect(unauthorized).toBeInstanceOf(ProducerRequestError);
      expect(unauthorized).toMatchObject({ code: 'SY_ERR_UNAUTHORIZED', status: 401 });
      expect(proxy.bodies).toHaveLength(3);
    });
  });

  describe('when the producer cannot be reached at all', () => {
    it('retries with backoff, then throws ProducerUnavailableError', async () => {
      proxy = await startProxy(transports.producer.url, () => ({ kind: 'pass' }));
      const deadUrl = proxy.url;
      await proxy.close();
      proxy = undefined;
      const error = await transports
        .http({ retries: 2, retryDelayMs: 10 }, deadUrl)
        .publish('payment.failed', payment('in_dead'))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ProducerUnavailableError);
      expect(error).toMatchObject({ code: 'SY_ERR_PRODUCER_UNAVAILABLE' });
    });
  });
});

describe('the Redis transport', () => {
  it('keys the ledger per tenant, like the producer', async () => {
    const t = transports.all[0]!;
    const result = await t.publisher.publish('payment.failed', payment('in_tenant'), {
      tenantId: 'acme',
      idempotencyKey: 'tenant-key',
    });
    await t.queue('billing').drain();

    expect(result.status).toBe('accepted');
    expect(
      await transports.admin.exists(idempotencyRecordKey(t.prefix, 'tenant-key', 'acme')),
    ).toBe(1);
  });

  it('lets 50 publishes wait for a connection still connecting on one listener, and all succeed', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const prefix = `sy-connecting-${Date.now()}`;
    const publisher = createPublisher({ redis: server.url, prefix, backlogCheckIntervalMs: 0 });
    try {
      // Issued at once, while the publisher's own connection is still connecting.
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          publisher.publish('payment.failed', payment(`in_connecting_${i}`)),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(50).fill('accepted'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await publisher.close();
      await transports.admin.eval(
        "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
        0,
        `${prefix}*`,
      );
    }
  });

  it('gives up waiting for the connection when the caller aborts', async () => {
    const publisher = createPublisher({
      redis: server.url,
      prefix: `sy-abort-${Date.now()}`,
      backlogCheckIntervalMs: 0,
    });
    try {
      const controller = new AbortController();
      const pending = publisher.publish('payment.failed', payment('in_aborted'), {
        signal: controller.signal,
      });
      controller.abort(new Error('caller gave up'));
      await expect(pending).rejects.toThrow('caller gave up');
    } finally {
      await publisher.close();
    }
  });
});
