/**
 * The circuit breaker around a downstream client, against the built
 * sandbox: which failures count, fail-fast with the rest of the reset
 * window, half-open probe, logs and metrics; then worker-notifications
 * processes through a sandbox outage: the breaker opens, the queue waits
 * instead of dead-lettering, and every job completes on its first attempt.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { deadLetterQueueNameOf, deliveryJobOptions, queueNameOf } from '@switchyard/events';
import { createMetricsRegistry } from '@switchyard/observability';
import { freePort, numberedEnvelope, startApp, waitFor } from '@switchyard/testkit';
import {
  CircuitOpenError,
  DownstreamRateLimitedError,
  DownstreamRejectedError,
  LockLostError,
  TimeoutError,
  WorkerClosingError,
  classifyFailure,
  createCircuitBreaker,
  createHttpClient,
} from '../src/index.js';
import { captureLogs } from './support/capture-logs.js';
import { useRedisHarness } from './support/redis-harness.js';

const builtApp = fileURLToPath(
  new URL('../../../apps/worker-notifications/dist/main.js', import.meta.url),
);
const harness = useRedisHarness({ sandbox: true });

interface ControlView {
  stats: { accepted: number; status429: number; status500: number; status503: number };
}

async function sandboxStats(): Promise<ControlView['stats']> {
  const response = await fetch(`${harness.sandbox.url}/control`);
  return ((await response.json()) as ControlView).stats;
}

function breaker(resetMs = 400) {
  const { logger, lines } = captureLogs();
  const registry = createMetricsRegistry({ service: 'test', processMetrics: false });
  const client = createCircuitBreaker({
    client: createHttpClient({ baseUrl: harness.sandbox.url, timeoutMs: 2_000 }),
    downstream: 'sandbox',
    logger,
    registry,
    volumeThreshold: 2,
    errorThresholdPercent: 50,
    windowMs: 10_000,
    resetMs,
  });
  harness.cleanups.push(async () => {
    client.close();
    await harness.sandbox.control({ status429Rate: 0, latencyMs: 0, errorRate: 0 });
    await harness.sandbox.reset();
  });
  const call = (key: string, path = '/email', signal?: AbortSignal) =>
    client.post(path, { to: 'x' }, { idempotencyKey: key, ...(signal ? { signal } : {}) });
  return { client, call, lines, registry };
}

describe('circuit breaker', () => {
  describe('when the downstream answers 4xx, 429, or the caller aborts', () => {
    it('stays closed: those are not outages', async () => {
      const { client, call } = breaker();
      for (let i = 0; i < 3; i += 1) {
        await expect(call(`rejected-${i}`, '/no-such-service')).rejects.toThrow(
          DownstreamRejectedError,
        );
      }
      await harness.sandbox.control({ status429Rate: 1, retryAfterSeconds: 1 });
      for (let i = 0; i < 3; i += 1) {
        await expect(call(`limited-${i}`)).rejects.toThrow(DownstreamRateLimitedError);
      }
      await harness.sandbox.control({ status429Rate: 0 });
      const aborted = AbortSignal.abort(new Error('caller gave up'));
      for (let i = 0; i < 3; i += 1) {
        await expect(call(`aborted-${i}`, '/email', aborted)).rejects.toThrow('caller gave up');
      }

      expect(client.state()).toBe('closed');
      await expect(call('fine')).resolves.toMatchObject({ service: 'email' });
    });
  });

  describe('when the caller times out before the client does', () => {
    /** A signal aborted like a handler's timeout (the worker's TimeoutError) after `ms`. */
    const handlerTimeout = (ms: number) => {
      const control = new AbortController();
      setTimeout(
        () => control.abort(new TimeoutError(`handler did not finish within ${ms} ms`)),
        ms,
      );
      return control.signal;
    };

    it('counts the timeout: a black-holed downstream opens it, and a timed-out probe reopens it', async () => {
      const { client, call } = breaker(500);
      // Answers after 5 s; the client would wait 2 s; the handler gives up at 150 ms.
      await harness.sandbox.control({ latencyMs: 5_000 });
      for (let i = 0; i < 2; i += 1) {
        await expect(call(`slow-${i}`, '/email', handlerTimeout(150))).rejects.toThrow(
          TimeoutError,
        );
      }
      expect(client.state()).toBe('open');
      await expect(call('while-open')).rejects.toThrow(CircuitOpenError);

      await waitFor(() => client.state() === 'half_open', {
        timeoutMs: 3_000,
        message: 'half-open after the reset window',
      });
      await expect(call('probe', '/email', handlerTimeout(150))).rejects.toThrow(TimeoutError);
      expect(client.state()).toBe('open');
    });

    it('does not count a shutdown or a lost lock', async () => {
      const { client, call } = breaker();
      await harness.sandbox.control({ latencyMs: 5_000 });
      for (const reason of [
        new WorkerClosingError('worker closing'),
        new LockLostError('lost the lock'),
        new WorkerClosingError('worker closing'),
      ]) {
        const control = new AbortController();
        setTimeout(() => control.abort(reason), 100);
        await expect(call(`neutral-${reason.code}`, '/email', control.signal)).rejects.toBe(reason);
      }
      expect(client.state()).toBe('closed');
    });
  });

  describe('when the downstream is down', () => {
    it('opens, fails fast with the rest of the reset window, then a probe closes it', async () => {
      const { client, call, lines, registry } = breaker(1_500);
      await harness.sandbox.control({ downForMs: 60_000 });
      for (let i = 0; i < 2; i += 1) await expect(call(`down-${i}`)).rejects.toThrow(/503/);
      expect(client.state()).toBe('open');
      const before = await sandboxStats();

      const error = await call('while-open').catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(CircuitOpenError);
      const retryAfterMs = (error as CircuitOpenError).retryAfterMs;
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(1_500);
      // The worker holds the queue for that long, without spending an attempt.
      expect(classifyFailure(error)).toEqual({
        kind: 'rate_limited',
        retryAfterMs,
        cause: 'breaker',
      });
      // Nothing reached the sandbox while open.
      expect(await sandboxStats()).toEqual(before);

      await harness.sandbox.control({ downForMs: 0 });
      await waitFor(() => client.state() === 'half_open', {
        timeoutMs: 3_000,
        message: 'half-open after the reset window',
      });
      await expect(call('probe')).resolves.toMatchObject({ service: 'email' });
      expect(client.state()).toBe('closed');

      const changes = lines
        .filter((line) => line.msg === 'circuit breaker state changed')
        .map((line) => [line.downstream, line.from, line.to]);
      expect(changes).toEqual([
        ['sandbox', 'closed', 'open'],
        ['sandbox', 'open', 'half_open'],
        ['sandbox', 'half_open', 'closed'],
      ]);
      const text = await registry.metrics();
      expect(text).toMatch(/^sy_breaker_state\{downstream="sandbox"[^}]*\} 0$/m);
      for (const to of ['open', 'half_open', 'closed']) {
        expect(text).toMatch(
          new RegExp(
            `^sy_breaker_transitions_total\\{downstream="sandbox",to="${to}"[^}]*\\} 1$`,
            'm',
          ),
        );
      }
    });
  });
});

/**
 * Two worker-notifications processes (w-a, w-b) on a fresh prefix, with a
 * breaker that opens on one failure and resets after 4 s; the queue, its DLQ
 * and the sandbox are cleaned up after the test.
 */
async function startWorkerPair(env: Record<string, string> = {}) {
  const prefix = `sy-test-${randomUUID()}`;
  const queue = new Queue(queueNameOf('notifications'), { connection: harness.client, prefix });
  const dlq = new Queue(deadLetterQueueNameOf('notifications'), {
    connection: harness.client,
    prefix,
  });
  harness.cleanups.push(async () => {
    await queue.obliterate({ force: true });
    await dlq.obliterate({ force: true });
    await queue.close();
    await dlq.close();
    await harness.sandbox.control({ errorRate: 0 });
    await harness.sandbox.reset();
  });
  await harness.sandbox.reset();
  const ports: number[] = [];
  for (const id of ['a', 'b']) {
    const port = await freePort();
    ports.push(port);
    const app = await startApp({
      entry: builtApp,
      name: `worker-${id}`,
      env: {
        REDIS_URL: harness.redisUrl,
        HEALTH_PORT: String(port),
        SANDBOX_URL: harness.sandbox.url,
        QUEUE_PREFIX: prefix,
        WORKER_ID: `w-${id}`,
        LOG_LEVEL: 'warn',
        BREAKER_VOLUME_THRESHOLD: '1',
        BREAKER_RESET_MS: '4000',
        ...env,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 20_000,
    });
    harness.cleanups.push(() => app.kill());
  }
  return { prefix, queue, dlq, ports };
}

describe('a sandbox outage under worker processes', () => {
  it('opens the breaker, dead-letters nothing, and completes every job on its first attempt', async () => {
    const { queue, dlq, ports } = await startWorkerPair();

    const outageMs = 2_500;
    await harness.sandbox.control({ downForMs: outageMs });
    const outageEnd = Date.now() + outageMs;
    const envelopes = Array.from({ length: 30 }, (_, i) => numberedEnvelope('user.signed_up', i));
    await queue.addBulk(
      envelopes.map((envelope) => ({
        name: envelope.type,
        data: envelope,
        opts: { ...deliveryJobOptions, jobId: envelope.id },
      })),
    );
    await waitFor(async () => (await queue.getCompletedCount()) === envelopes.length, {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: 'every job completed after the outage',
    });

    const jobs = await Promise.all(envelopes.map((envelope) => queue.getJob(envelope.id)));
    const metrics = await Promise.all(
      ports.map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()),
    );
    const sum = (pattern: RegExp) =>
      metrics.reduce((total, text) => total + Number(pattern.exec(text)?.[1] ?? 0), 0);
    const ledger = await harness.sandbox.ledger();
    const stats = await sandboxStats();
    const bounced = jobs.filter((job) => (job?.attemptsStarted ?? 0) > 1).length;
    console.log('outage figures:', {
      outageMs,
      status503: stats.status503,
      accepted: stats.accepted,
      bouncedJobs: bounced,
      breakerOpened: sum(
        /sy_breaker_transitions_total\{downstream="sandbox",to="open"[^}]*\} (\d+)/m,
      ),
      breakerWaits: sum(
        /sy_rate_limit_waits_total\{queue="notifications",cause="breaker"[^}]*\} (\d+)/m,
      ),
      retryAfterWaits: sum(
        /sy_rate_limit_waits_total\{queue="notifications",cause="retry_after"[^}]*\} (\d+)/m,
      ),
    });

    // The breaker opened (in at least one replica) and held the queue at least once.
    expect(
      sum(/sy_breaker_transitions_total\{downstream="sandbox",to="open"[^}]*\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sum(/sy_rate_limit_waits_total\{queue="notifications",cause="breaker"[^}]*\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    // Nothing was dead-lettered because of the outage or the open breaker.
    expect(await dlq.count()).toBe(0);
    expect(await queue.getFailedCount()).toBe(0);
    // Every job completed on its first attempt: the waits spent none.
    expect(jobs.map((job) => job?.attemptsMade)).toEqual(envelopes.map(() => 1));
    expect(bounced).toBeGreaterThanOrEqual(1);
    // Each effect applied once, all after the outage.
    expect(ledger).toHaveLength(envelopes.length);
    expect(ledger.every((call) => call.repeats === 0)).toBe(true);
    expect(Math.min(...ledger.map((call) => Date.parse(call.firstAt)))).toBeGreaterThanOrEqual(
      outageEnd - 50,
    );
    expect(stats.status503).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('opens on plain 500s (no Retry-After), dead-letters nothing, and jobs that waited on it use one attempt', async () => {
    const { queue, dlq, ports } = await startWorkerPair({ WORKER_CONCURRENCY: '2' });

    // Every call fails with a 500 (no Retry-After) for outageMs, then all succeed.
    const outageMs = 2_500;
    const before = await sandboxStats();
    await harness.sandbox.control({ errorRate: 1 });
    const outageEnd = Date.now() + outageMs;
    const outage = sleep(outageMs).then(() => harness.sandbox.control({ errorRate: 0 }));
    const envelopes = Array.from({ length: 30 }, (_, i) => numberedEnvelope('user.signed_up', i));
    await queue.addBulk(
      envelopes.map((envelope) => ({
        name: envelope.type,
        data: envelope,
        opts: { ...deliveryJobOptions, jobId: envelope.id },
      })),
    );
    await outage;
    await waitFor(async () => (await queue.getCompletedCount()) === envelopes.length, {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: 'every job completed after the outage',
    });

    const jobs = await Promise.all(envelopes.map((envelope) => queue.getJob(envelope.id)));
    const metrics = await Promise.all(
      ports.map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()),
    );
    const sum = (pattern: RegExp) =>
      metrics.reduce((total, text) => total + Number(pattern.exec(text)?.[1] ?? 0), 0);
    const after = await sandboxStats();
    const status500 = after.status500 - before.status500;
    const extraAttempts = jobs.reduce((total, job) => total + (job?.attemptsMade ?? 0) - 1, 0);
    const waitedOnBreaker = jobs.filter(
      (job) => (job?.attemptsStarted ?? 0) > (job?.attemptsMade ?? 0),
    );
    const ledger = await harness.sandbox.ledger();
    const figures = {
      outageMs,
      status500,
      extraAttempts,
      jobsWithOneAttempt: jobs.filter((job) => job?.attemptsMade === 1).length,
      waitedOnBreaker: waitedOnBreaker.length,
      breakerOpened: sum(
        /sy_breaker_transitions_total\{downstream="sandbox",to="open"[^}]*\} (\d+)/m,
      ),
      breakerWaits: sum(
        /sy_rate_limit_waits_total\{queue="notifications",cause="breaker"[^}]*\} (\d+)/m,
      ),
    };
    console.log('500 outage figures:', figures);

    expect(figures.breakerOpened).toBeGreaterThanOrEqual(1);
    expect(figures.breakerWaits).toBeGreaterThanOrEqual(1);
    expect(await dlq.count()).toBe(0);
    expect(await queue.getFailedCount()).toBe(0);
    // The breaker stopped the calls: a handful of 500s (the calls in flight
    // when each replica's breaker opened), not one or more per job.
    expect(status500).toBeGreaterThanOrEqual(1);
    expect(status500).toBeLessThanOrEqual(8);
    // Each 500 cost at most one attempt; every other attempt was the one that succeeded.
    expect(extraAttempts).toBeLessThanOrEqual(status500);
    expect(figures.jobsWithOneAttempt).toBeGreaterThanOrEqual(envelopes.length - status500);
    expect(waitedOnBreaker.length).toBeGreaterThanOrEqual(1);
    // Each effect applied once, all after the outage.
    expect(ledger).toHaveLength(envelopes.length);
    expect(ledger.every((call) => call.repeats === 0)).toBe(true);
    expect(Math.min(...ledger.map((call) => Date.parse(call.firstAt)))).toBeGreaterThanOrEqual(
      outageEnd - 50,
    );
  }, 60_000);
});
