/**
 * runLoad: a seeded load generator that records every event the system
 * ACCEPTED, the record the checker holds the sandbox ledger against.
 *
 * Contract:
 * - The same `seed` and `count` give the same events (types, payloads,
 *   idempotency keys) in the same order; the business ids (userId,
 *   invoiceId) are unique per run and per index, so a ledger entry names the
 *   event it came from.
 * - An event is recorded as accepted once the publish path answered
 *   'accepted' or 'duplicate' (a duplicate answer to our own retry means the
 *   first, indeterminate attempt was accepted).
 * - An indeterminate answer (RedisUnavailableError, ProducerUnavailableError,
 *   a timeout or connection error, any 5xx) may or may not have been applied:
 *   the same publish is retried with the SAME idempotency key, at most
 *   `maxAttempts` times with a bounded backoff. An event still unanswered
 *   after that is recorded in `unknown` (neither accepted nor refused); the
 *   checker does not expect its effect but does not call it a duplicate
 *   either when it shows up.
 * - A shed answer (BacklogFullError: 429, backlog full) means nothing was
 *   enqueued and the key was not claimed. With `onShed: 'retry'` (default)
 *   the event is retried after the answer's Retry-After (capped by
 *   `maxShedWaitMs`) within the same attempt budget; with 'count' it is
 *   recorded in `shed` and dropped. Either way the shed answers are counted.
 * - Any other refusal (schema invalid, conflict, 4xx) is recorded in
 *   `refused`; a correct run has none.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ChaosUsageError } from './errors.js';

/** The answer of a publish path (the client's PublishResult, structurally). */
export interface PublishAnswer {
  eventId: string;
  idempotencyKey: string;
  status: 'accepted' | 'duplicate';
  /** The subscriber queues the event was fanned out to. */
  queues: string[];
}

/**
 * One publish through a path users have: `createPublisher({ redis })` or
 * `createPublisher({ baseUrl, apiKey })` from @switchyard/client (pass
 * `(type, data, o) => publisher.publish(type, data, o)`).
 */
export type PublishFn = (
  type: string,
  data: Record<string, unknown>,
  options: { idempotencyKey: string; signal?: AbortSignal },
) => Promise<PublishAnswer>;

/** One generated event, before it is published. */
export interface GeneratedEvent {
  index: number;
  type: string;
  data: Record<string, unknown>;
  idempotencyKey: string;
  /** The id the event's side effects carry in their body (userId / ownerId / invoiceId). */
  businessId: string;
}

/** An event the system accepted. */
export interface AcceptedEvent extends GeneratedEvent {
  eventId: string;
  /** Subscribers (queue names) it was fanned out to, from the publish answer. */
  subscribers: string[];
  /** Publish calls it took (1 = first try). */
  attempts: number;
  /** The accepting call answered 'duplicate' (an earlier, indeterminate attempt had been applied). */
  answeredDuplicate: boolean;
  /** Date.now() when the accepting answer arrived. */
  acceptedAt: number;
}

export interface LoadRecord {
  seed: number;
  /** Events generated. */
  requested: number;
  accepted: AcceptedEvent[];
  /** Events given up on after indeterminate answers: outcome unknown. */
  unknown: (GeneratedEvent & { lastError: string })[];
  /** Events refused for good (validation, conflict): none in a correct run. */
  refused: (GeneratedEvent & { code: string; message: string })[];
  /** Events dropped on a shed answer (`onShed: 'count'`), or still shed when the attempts ran out. */
  shed: GeneratedEvent[];
  /** Shed answers (429 backlog full) received, retried or not. */
  shedAnswers: number;
  /** Indeterminate answers received (each was retried or ended in `unknown`). */
  indeterminateAnswers: number;
  startedAt: number;
  finishedAt: number;
}

export interface RunLoadOptions {
  publish: PublishFn;
  /** Events to publish (1..10_000_000). */
  count: number;
  /** Target publish rate; 0 = as fast as `concurrency` allows. Default 0. */
  ratePerSecond?: number;
  /** PRNG seed. */
  seed: number;
  /** Publishes in flight at once (1..1000). Default 32. */
  concurrency?: number;
  /** Publish calls per event, retries included (1..1000). Default 30. */
  maxAttempts?: number;
  /** What a shed (429) answer does: retry after Retry-After, or drop and count. Default 'retry'. */
  onShed?: 'retry' | 'count';
  /** Cap on one wait after a shed answer. Default 2_000 ms. */
  maxShedWaitMs?: number;
  /** Bound on one publish call; past it the call is aborted and counted indeterminate. Default 10_000 ms. */
  publishTimeoutMs?: number;
  /** Share of `payment.failed` events (the rest are `user.signed_up`), 0..1. Default 0. */
  paymentFailedShare?: number;
  /** Distinguishes runs sharing a seed in one Redis (prefix of business ids). Default `s<seed>`. */
  runId?: string;
  /** Aborts the run: events not yet started are not published. */
  signal?: AbortSignal;
  /** Called after each event settles (progress, fault triggers). */
  onSettled?: (settled: number, record: LoadRecord) => void;
}

/** mulberry32: small, fast, good enough for choosing event types and payloads. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const tiers = ['free', 'pro', 'enterprise'] as const;
const locales = ['en', 'de-CH', 'fr', 'pt-BR'] as const;

/** The events runLoad publishes for `seed`, in order. Exposed so a test can build the same events. */
export function generateEvents(opts: {
  seed: number;
  count: number;
  paymentFailedShare?: number;
  runId?: string;
}): GeneratedEvent[] {
  const random = seededRandom(opts.seed);
  const share = opts.paymentFailedShare ?? 0;
  const runId = opts.runId ?? `s${opts.seed}`;
  const events: GeneratedEvent[] = [];
  for (let index = 0; index < opts.count; index++) {
    const pick = random();
    const variant = Math.floor(random() * 1_000_000);
    if (pick < share) {
      const invoiceId = `inv_${runId}_${index}`;
      events.push({
        index,
        type: 'payment.failed',
        data: {
          userId: `usr_${runId}_${variant}`,
          invoiceId,
          amountCents: 100 + (variant % 100_000),
          currency: 'EUR',
          reason: 'card_declined',
        },
        idempotencyKey: `chaos-${runId}-${index}`,
        businessId: invoiceId,
      });
    } else {
      const userId = `usr_${runId}_${index}`;
      events.push({
        index,
        type: 'user.signed_up',
        data: {
          userId,
          email: `u${index}.${runId}@example.test`,
          tier: tiers[variant % tiers.length]!,
          locale: locales[variant % locales.length]!,
        },
        idempotencyKey: `chaos-${runId}-${index}`,
        businessId: userId,
      });
    }
  }
  return events;
}

type Outcome =
  | { kind: 'accepted'; answer: PublishAnswer }
  | { kind: 'shed'; retryAfterMs: number }
  | { kind: 'indeterminate'; error: string }
  | { kind: 'refused'; code: string; message: string };

/** Sorts an error of either transport by what it means for the event (see the module contract). */
export function classifyPublishError(error: unknown): Exclude<Outcome, { kind: 'accepted' }> {
  const e = error as {
    code?: unknown;
    status?: unknown;
    retryAfterSeconds?: unknown;
    name?: unknown;
    message?: unknown;
  };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (code === 'SY_ERR_BACKLOG_FULL') {
    const seconds = typeof e.retryAfterSeconds === 'number' ? e.retryAfterSeconds : 1;
    return { kind: 'shed', retryAfterMs: seconds * 1000 };
  }
  if (
    code === 'SY_ERR_REDIS_UNAVAILABLE' ||
    code === 'SY_ERR_PRODUCER_UNAVAILABLE' ||
    e?.name === 'AbortError' ||
    e?.name === 'TimeoutError' ||
    (typeof e?.status === 'number' && e.status >= 500) ||
    // Node's own network errors (ECONNRESET, ECONNREFUSED, ...), fetch's TypeError.
    /^E[A-Z]+$/.test(code) ||
    e?.name === 'TypeError'
  ) {
    return { kind: 'indeterminate', error: `${code || String(e?.name)}: ${message}` };
  }
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  return { kind: 'refused', code: code || name, message };
}

export async function runLoad(opts: RunLoadOptions): Promise<LoadRecord> {
  const concurrency = opts.concurrency ?? 32;
  const maxAttempts = opts.maxAttempts ?? 30;
  const rate = opts.ratePerSecond ?? 0;
  const timeoutMs = opts.publishTimeoutMs ?? 10_000;
  const maxShedWaitMs = opts.maxShedWaitMs ?? 2_000;
  const onShed = opts.onShed ?? 'retry';
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 10_000_000) {
    throw new ChaosUsageError(`count must be an integer in 1..10000000, got ${opts.count}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new ChaosUsageError(`concurrency must be an integer in 1..1000, got ${concurrency}`);
  }
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 1000) {
    throw new ChaosUsageError(`maxAttempts must be an integer in 1..1000, got ${maxAttempts}`);
  }
  if (!(rate >= 0)) throw new ChaosUsageError(`ratePerSecond must be >= 0, got ${rate}`);

  const events = generateEvents({
    seed: opts.seed,
    count: opts.count,
    ...(opts.paymentFailedShare === undefined
      ? {}
      : { paymentFailedShare: opts.paymentFailedShare }),
    ...(opts.runId === undefined ? {} : { runId: opts.runId }),
  });
  const record: LoadRecord = {
    seed: opts.seed,
    requested: opts.count,
    accepted: [],
    unknown: [],
    refused: [],
    shed: [],
    shedAnswers: 0,
    indeterminateAnswers: 0,
    startedAt: Date.now(),
    finishedAt: 0,
  };
  let settled = 0;

  const attemptOnce = async (event: GeneratedEvent): Promise<Outcome> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const answer = await opts.publish(event.type, event.data, {
        idempotencyKey: event.idempotencyKey,
        signal: timeout,
      });
      return { kind: 'accepted', answer };
    } catch (error) {
      if (timeout.aborted) return { kind: 'indeterminate', error: `timeout after ${timeoutMs} ms` };
      return classifyPublishError(error);
    }
  };

  const publishOne = async (event: GeneratedEvent): Promise<void> => {
    let lastError = '';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const outcome = await attemptOnce(event);
      switch (outcome.kind) {
        case 'accepted':
          record.accepted.push({
            ...event,
            eventId: outcome.answer.eventId,
            subscribers: [...outcome.answer.queues],
            attempts: attempt,
            answeredDuplicate: outcome.answer.status === 'duplicate',
            acceptedAt: Date.now(),
          });
          return;
        case 'refused':
          record.refused.push({ ...event, code: outcome.code, message: outcome.message });
          return;
        case 'shed':
          record.shedAnswers++;
          if (onShed === 'count' || attempt === maxAttempts) {
            record.shed.push(event);
            return;
          }
          await sleep(Math.min(outcome.retryAfterMs, maxShedWaitMs));
          break;
        case 'indeterminate':
          record.indeterminateAnswers++;
          lastError = outcome.error;
          // Bounded exponential backoff: 50 ms doubling to 2 s.
          if (attempt < maxAttempts) await sleep(Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)));
          break;
      }
    }
    record.unknown.push({ ...event, lastError });
  };

  // A fixed pool of `concurrency` loops; each takes the next event when its
  // start time (rate pacing) has come.
  let next = 0;
  const started = Date.now();
  const loop = async (): Promise<void> => {
    for (;;) {
      if (opts.signal?.aborted === true) return;
      const index = next++;
      if (index >= events.length) return;
      if (rate > 0) {
        const due = started + (index * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
      await publishOne(events[index]!);
      settled++;
      opts.onSettled?.(settled, record);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, events.length) }, loop));
  record.finishedAt = Date.now();
  return record;
}
