/**
 * 2,000 seeded, fuzzed requests at the ingest API (POST /v1/events and
 * /v1/events/batch) over HTTP, on a redis-server of the suite's own: wrong
 * types, extra and missing fields, `__proto__` / `constructor` /
 * `prototype` keys at every level, 1 MB strings, deep nesting, odd content
 * types and charsets, garbage bytes, invalid UTF-8, huge numbers, empty
 * bodies, degenerate batches (support/fuzz-client.ts builds them).
 *
 * The server is built with buildServer in this process and listens on a
 * loopback port, so the test watches its event loop and its
 * Object.prototype; the client runs as its own process, so building 1 MB
 * bodies and reading answers is not counted against the server's loop. Real
 * sockets matter here: app.inject() runs a request's whole pipeline in one
 * macrotask, which would measure an event-loop delay no client can cause.
 *
 * The oracle:
 * - no answer is 5xx, and no request fails at the transport level but an
 *   over-limit body the server stopped reading (EPIPE/ECONNRESET);
 * - every 4xx is `{error: {code, message}}`, both non-empty;
 * - a 2xx answers only a valid event (or a batch, whose items are then each
 *   accepted exactly when valid and otherwise rejected with a code and a
 *   message), and every accepted event is in each of its queues in Redis;
 *   the queues hold exactly those jobs and nothing else;
 * - the event loop's blocking p99 stays under 50 ms for the whole run,
 *   measured as the part of each 10 ms timer tick's lateness that this
 *   process spent on the CPU (startBlockingSampler); perf_hooks'
 *   monitorEventLoopDelay p99 is printed beside it, but on this shared
 *   two-core machine (load average 10-20 while other suites run) it mostly
 *   measures waiting for a core: 40-140 ms with the server's own blocking
 *   at 4-8 ms. Without the nesting-depth guard the blocking p99 is ~80 ms,
 *   so the bound does bite;
 * - Object.prototype and Array.prototype gain no property.
 *
 * The seed is fixed (FUZZ_SEED overrides it, to explore); a failure prints
 * the case's index and label.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg, setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePublishRequest, queueNameOf, subscriberNames } from '@switchyard/events';
import { startRedis, type RedisHandle } from '@switchyard/testkit';
import type { FuzzResult } from './support/fuzz-client.js';
import { apiKey, openProducer, type ProducerFixture } from './support/producer-fixture.js';

const seed = Number(process.env.FUZZ_SEED ?? 20_261_125);
const requestCount = 2_000;
/** Requests in flight at once, so the server overlaps parsing, validation and publishing. */
const concurrency = 8;
const batchMax = 20;
const bodyLimit = 1_048_576;
const clientEntry = fileURLToPath(new URL('./support/fuzz-client.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../../../node_modules/tsx/dist/loader.mjs', import.meta.url));

/**
 * The event loop's blocking by this process's own work, robust to a busy
 * machine: a 10 ms interval timer notes, per tick, how late it fired (wall
 * clock) and how much CPU the process used since the last tick; a tick's
 * blocking is the smaller of the two. On a machine where other processes
 * take the cores, a late tick with little CPU used was waiting for a core,
 * not blocked by us; monitorEventLoopDelay alone cannot tell the two apart.
 */
function startBlockingSampler(intervalMs = 10) {
  const blocked: number[] = [];
  let lastAt = performance.now();
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const lateMs = now - lastAt - intervalMs;
    const cpuMs = (cpu.user + cpu.system) / 1_000;
    blocked.push(Math.max(0, Math.min(lateMs, cpuMs - intervalMs)));
    lastAt = now;
    lastCpu = process.cpuUsage();
  }, intervalMs);
  return {
    stop(): { p99Ms: number; maxMs: number; ticks: number } {
      clearInterval(timer);
      const sorted = [...blocked].sort((a, b) => a - b);
      const at = (q: number) =>
        sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      return { p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0, ticks: sorted.length };
    },
  };
}

/** Whether a request text is a valid publish request by the catalogue (for mutated cases only). */
function isValidRequest(text: string): boolean {
  try {
    parsePublishRequest(JSON.parse(text));
    return true;
  } catch {
    return false;
  }
}

/** Runs the fuzz client against `origin`; resolves with its results. Bounded: 5 minutes. */
async function runClient(origin: string): Promise<FuzzResult[]> {
  const child = spawn(
    process.execPath,
    ['--conditions=@switchyard/source', '--import', tsx, clientEntry],
    {
      env: {
        PATH: process.env.PATH ?? '',
        FUZZ_URL: origin,
        FUZZ_API_KEY: apiKey,
        FUZZ_SEED: String(seed),
        FUZZ_COUNT: String(requestCount),
        FUZZ_CONCURRENCY: String(concurrency),
        FUZZ_BATCH_MAX: String(batchMax),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    },
  );
  // The client yields the CPU to this process (the server): on a shared
  // two-core machine it would otherwise take the time the test measures.
  if (child.pid !== undefined) setPriority(child.pid, 19);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    throw new Error(
      `the fuzz client exited ${code}: ${Buffer.concat(err).toString().slice(0, 4_000)}`,
    );
  }
  return Buffer.concat(out)
    .toString()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FuzzResult);
}

let server: RedisHandle;
let producer: ProducerFixture;
let origin = '';

beforeAll(async () => {
  server = await startRedis({ forceProcess: true });
  producer = await openProducer(server, {
    BODY_LIMIT_BYTES: String(bodyLimit),
    BATCH_MAX_EVENTS: String(batchMax),
    // The oracle expects every valid event to be accepted: no per-key limit in the way.
    API_KEY_RATE_LIMIT_PER_MINUTE: '0',
  });
  origin = await producer.app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await producer?.close();
  await server?.stop();
});

describe('fuzzed ingest', () => {
  it(
    `answers ${requestCount} hostile requests with no 5xx, a reason for every 4xx, and enqueues only the valid events`,
    { timeout: 600_000 },
    async () => {
      const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
      const arrayPrototypeBefore = Object.getOwnPropertyNames(Array.prototype).sort();
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      const sampler = startBlockingSampler();
      const results = await runClient(origin);
      const blocking = sampler.stop();
      delay.disable();
      const p99Ms = delay.percentile(99) / 1e6;
      const maxMs = delay.max / 1e6;

      const statuses = new Map<number, number>();
      const failures: string[] = [];
      /** eventId -> queues, for every event the server says it accepted. */
      const accepted = new Map<string, string[]>();
      let validSingles = 0;
      let validItems = 0;
      let mutatedStillValid = 0;
      let cutOffOverLimit = 0;

      for (const result of results) {
        statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
        const where = `#${result.index} ${result.label} -> ${result.status} ${result.transportError ?? result.body.slice(0, 300)}`;
        if (result.transportError !== undefined) {
          // Over the limit, the server answers 413 and closes the connection
          // without reading the rest: a client still writing sees EPIPE or
          // ECONNRESET before it reads the answer. Anything else is a failure.
          if (result.bodyBytes > bodyLimit && /EPIPE|ECONNRESET/.test(result.transportError)) {
            cutOffOverLimit += 1;
          } else {
            failures.push(`${where}: no answer`);
          }
          continue;
        }
        let answer: Record<string, unknown>;
        try {
          answer = JSON.parse(result.body) as Record<string, unknown>;
        } catch {
          failures.push(`${where}: the answer is not JSON`);
          continue;
        }
        if (result.status >= 500) {
          failures.push(`${where}: 5xx`);
          continue;
        }
        if (result.status >= 400) {
          const error = answer.error as { code?: unknown; message?: unknown } | undefined;
          if (
            typeof error?.code !== 'string' ||
            error.code === '' ||
            typeof error.message !== 'string' ||
            error.message === ''
          ) {
            failures.push(`${where}: a 4xx without {error: {code, message}}`);
          }
          if (result.valid) failures.push(`${where}: a valid event was refused`);
          if (result.items?.every(Boolean) === true)
            failures.push(`${where}: a valid batch was refused`);
          continue;
        }
        if (result.url === '/v1/events') {
          if (!result.valid) {
            if (result.requestText === undefined || !isValidRequest(result.requestText)) {
              failures.push(`${where}: an invalid event was accepted`);
              continue;
            }
            // A mutation that happened to leave a legal value (e.g. an integer in range).
            mutatedStillValid += 1;
          } else {
            validSingles += 1;
            if (answer.status !== 'accepted')
              failures.push(`${where}: a new event was not 'accepted'`);
          }
          if (answer.status === 'accepted')
            accepted.set(String(answer.eventId), answer.queues as string[]);
          continue;
        }
        const items = answer.results as Record<string, unknown>[] | undefined;
        if (result.items === undefined || items?.length !== result.items.length) {
          failures.push(
            `${where}: a batch answered 2xx with ${items?.length} results for ${result.items?.length} items`,
          );
          continue;
        }
        items.forEach((item, i) => {
          const valid = result.items![i]!;
          if (item.index !== i)
            failures.push(`${where}: result ${i} has index ${String(item.index)}`);
          if (valid) {
            validItems += 1;
            if (item.status === 'accepted')
              accepted.set(String(item.eventId), item.queues as string[]);
            else failures.push(`${where}: valid item ${i} was ${String(item.status)}`);
            return;
          }
          const error = item.error as { code?: unknown; message?: unknown } | undefined;
          if (
            item.status !== 'rejected' ||
            typeof error?.code !== 'string' ||
            typeof error.message !== 'string'
          ) {
            failures.push(`${where}: invalid item ${i} was not rejected with a code and a message`);
          }
        });
      }

      // What reached Redis: every accepted event in each of its queues, and no other job.
      const expectedJobs = [...accepted.values()].reduce((sum, queues) => sum + queues.length, 0);
      let jobsInRedis = 0;
      for (const subscriber of subscriberNames) {
        const key = `${producer.prefix}:${queueNameOf(subscriber)}`;
        const [wait, prioritized, delayed, paused] = await Promise.all([
          producer.admin.llen(`${key}:wait`),
          producer.admin.zcard(`${key}:prioritized`),
          producer.admin.zcard(`${key}:delayed`),
          producer.admin.llen(`${key}:paused`),
        ]);
        jobsInRedis += wait + prioritized + delayed + paused;
      }
      const missing: string[] = [];
      for (const [eventId, queues] of accepted) {
        for (const queue of queues) {
          if ((await producer.admin.exists(`${producer.prefix}:${queue}:${eventId}`)) !== 1) {
            missing.push(`${queue}/${eventId}`);
          }
        }
      }

      const histogram = Object.fromEntries([...statuses].sort(([a], [b]) => a - b));
      // The run's figures, for the record (visible in the test output).
      console.info(
        `fuzz seed=${seed} requests=${results.length} statuses=${JSON.stringify(histogram)} ` +
          `overLimitCutOff=${cutOffOverLimit} validSingles=${validSingles} validBatchItems=${validItems} mutatedButStillValid=${mutatedStillValid} ` +
          `jobs=${jobsInRedis} eventLoopDelay p99=${p99Ms.toFixed(1)}ms max=${maxMs.toFixed(1)}ms ` +
          `blockedByOwnWork p99=${blocking.p99Ms.toFixed(1)}ms max=${blocking.maxMs.toFixed(1)}ms ` +
          `(${blocking.ticks} ticks) loadavg=${loadavg()[0]!.toFixed(1)}`,
      );

      expect(failures.slice(0, 20), `${failures.length} failures`).toEqual([]);
      expect(results).toHaveLength(requestCount);
      expect([...statuses.keys()].filter((status) => status >= 500)).toEqual([]);
      // The generator must have produced both kinds, or the oracle proved little.
      expect(validSingles).toBeGreaterThan(50);
      expect(validItems).toBeGreaterThan(50);
      expect(statuses.get(413) ?? 0).toBeGreaterThan(20);
      expect(statuses.get(415) ?? 0).toBeGreaterThan(20);
      expect(missing).toEqual([]);
      expect(jobsInRedis).toBe(expectedJobs);
      // The budget is on the loop's blocking by the server's own work (see
      // startBlockingSampler); monitorEventLoopDelay's figure, printed above,
      // also holds the time the process waited for a core on a busy machine.
      expect(blocking.ticks).toBeGreaterThan(100);
      expect(blocking.p99Ms).toBeLessThan(50);
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
      expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(arrayPrototypeBefore);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );
});
