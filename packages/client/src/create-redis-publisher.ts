/**
 * The direct-to-Redis publish path, shared by the producer and the client.
 *
 * publish(input):
 * 1. Validate: events' `parsePublishRequest` then `createEnvelope`. Throws
 *    SchemaInvalidError, UnknownEventTypeError or UnknownEventVersionError;
 *    nothing touches Redis.
 * 1b. Backpressure (backlog-gate.ts): when any target queue's backlog has
 *    reached its limit, nothing is claimed or enqueued. The ledger is read
 *    (GET, no claim) so that a key already accepted with this payload is
 *    still answered 'duplicate' and a different payload still 409; anything
 *    else (no record, or a pending one) is refused with BacklogFullError.
 * 2. Claim the idempotency key: `SET <prefix>:idempotency:<key> <pending
 *    record> NX EX <window> GET` (see idempotency-record.ts), one round trip
 *    that either claims the key or returns the record already there.
 *    - Claimed: fan out (3), then mark the record accepted -> 'accepted'.
 *    - Found, different payload fingerprint -> IdempotencyConflictError;
 *      nothing is enqueued.
 *    - Found, same fingerprint, accepted -> 'duplicate' with the ORIGINAL
 *      eventId and queues; nothing is enqueued.
 *    - Found, same fingerprint, still pending (its publisher died, failed or
 *      is mid-flight): fan out again with the recorded eventId and envelope
 *      fields, then mark it accepted -> 'duplicate'. Job ids are the event
 *      id, so BullMQ ignores jobs that already exist and a retry completes an
 *      interrupted publish instead of losing it.
 * 3. Fan out: one job per subscriber queue (name = type, data = envelope,
 *    jobId = eventId, plus the request's `delayMs` / `priority` as BullMQ's
 *    `delay` / `priority`; these are delivery options, neither in the envelope
 *    nor in the payload fingerprint, so a retry with other values is still a
 *    duplicate), all in one MULTI/EXEC (fan-out.ts says what that does
 *    and does not guarantee). A type with no subscribers is accepted with
 *    `queues: []`.
 *
 * Remaining window: a pending record re-driven after its original jobs were
 * completed and removed (retention: the newest 10 000 per queue) adds them
 * again, so that subscriber sees the event twice; workers' effect
 * idempotency covers it. A failed publish leaves its record pending on
 * purpose (its EXEC may have run): the caller should retry it.
 *
 * publishBatch(inputs): every item is validated on its own (invalid ones are
 * reported by index, never thrown); the backlog of every target queue is
 * checked once, and items bound for a full queue are answered per item like
 * a single publish (duplicate, conflict, or rejected with the
 * SY_ERR_BACKLOG_FULL error) while the others go on; the rest are claimed in ONE
 * pipeline, fanned out in ONE addBulk and marked accepted in ONE pipeline.
 * Items are claimed in order, so a later item with an earlier item's key is
 * its duplicate (same payload) or a conflict (different payload); both are
 * answered per item, like a key holding something that is not a ledger
 * record. A Redis failure fails the whole call, leaving every claimed record
 * pending.
 *
 * Redis failures (connection not ready, command error, timeout, incomplete
 * fan-out) surface as RedisUnavailableError, and quickly only if the caller
 * built its connection to fail fast:
 *
 *   createRedisConnection({ url, profile: 'fail-fast', commandTimeoutMs: 2_000 })
 *
 * (or the same options on your own ioredis Redis or Cluster). On a cluster
 * the prefix must hold a hash tag (`{sy}`): a publish writes every key it
 * touches in one slot.
 *
 * Without that, ioredis queues commands while disconnected and a publish
 * waits until `timeoutMs` instead of failing at once.
 */
import { integerOption, limitOption } from './number-option.js';
import type { Telemetry } from 'bullmq';
import type { RedisConnection } from './redis-connection.js';
import {
  EventError,
  createEnvelope,
  parsePublishRequest,
  payloadFingerprint,
  queueNameOf,
  subscribersOf,
  type StoredEnvelope,
  type EventType,
} from '@switchyard/events';
import type { BacklogFullError } from './errors.js';
import {
  IdempotencyConflictError,
  IdempotencyRecordInvalidError,
  PublishError,
  PublisherClosedError,
  RedisUnavailableError,
} from './errors.js';
import { BacklogGate } from './backlog-gate.js';
import { FanOut, type Delivery, type DeliveryOptions } from './fan-out.js';
import {
  decodeIdempotencyRecord,
  encodeIdempotencyRecord,
  idempotencyRecordKey,
  type IdempotencyRecord,
} from './idempotency-record.js';
import { withDeadline } from './with-deadline.js';
import { sendJobIndexWrites, type JobIndexEntry, type JobIndexRetention } from './job-index.js';

/** The slice of a pino logger the publisher uses. */
export interface PublisherLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RedisPublisherOptions {
  /**
   * The ioredis connection (Redis or Cluster) for the ledger and the
   * fan-out. Owned by the caller: `close()` leaves it open. Build it with
   * createRedisConnection's 'fail-fast' profile (see above).
   */
  connection: RedisConnection;
  /** BullMQ key prefix of the subscriber queues and of the ledger. Default 'sy'. */
  prefix?: string;
  /**
   * The idempotency window in seconds: how long a key's record lives. Keep it
   * at least the completed-job retention (24 h). Default 86 400.
   */
  idempotencyTtlSeconds?: number;
  /**
   * Upper bound on the Redis work of one publish or publishBatch call; past
   * it the call fails with RedisUnavailableError. Default 5 000 ms.
   */
  timeoutMs?: number;
  /** The subscriber queues of a type. Default: events' routing table (`subscribersOf` + `queueNameOf`). */
  queuesOf?: (type: EventType) => readonly string[];
  /** Clock for `occurredAt` and `acceptedAt`. Default: `new Date()`. */
  now?: () => Date;
  /** Event ids. Default: events' UUIDv7. */
  newId?: () => string;
  /** Where re-driven records and failed fan-outs are reported. Default: silent. */
  logger?: PublisherLogger;
  /**
   * Backpressure: the most jobs a subscriber queue's backlog (waiting +
   * prioritized + delayed jobs already due) may hold; once it is reached,
   * publishes to that queue fail with BacklogFullError. `Infinity` turns the
   * check off. Default 100 000.
   */
  backlogLimit?: number;
  /** Per-queue limits that win over `backlogLimit`, e.g. `{ billing: 100 }`. Default none. */
  backlogLimits?: Readonly<Record<string, number>>;
  /**
   * How long a queue's backlog figure is reused before it is read again, in
   * ms: the limit is approximate by what arrives within one interval. 0 reads
   * it on every publish. Default 250.
   */
  backlogCheckIntervalMs?: number;
  /** The `retryAfterSeconds` a BacklogFullError carries. Default 5. */
  backlogRetryAfterSeconds?: number;
  /**
   * The job search index (job-index.ts), written for every job a fan-out
   * adds, in the round trip that marks the events accepted; a failed index
   * write is logged, never fails the publish. `false` writes none.
   * Default: `ttlSeconds` = `idempotencyTtlSeconds`, `maxPerTenant` 10 000.
   */
  jobIndex?: JobIndexRetention | false;
  /**
   * BullMQ telemetry (e.g. `new BullMQOtel()` from bullmq-otel) for the
   * fan-out: its spans join the caller's active trace and each job carries
   * the trace context its worker continues. Pass it only when tracing is on.
   * Default: none (no spans, no context in jobs).
   */
  telemetry?: Telemetry;
}

export interface PublishOptions {
  /** The request's `Idempotency-Key` header; wins over a key in the body. */
  idempotencyKeyHeader?: string | undefined;
}

/** What any transport answers for one published event. */
export interface PublishResult {
  eventId: string;
  idempotencyKey: string;
  status: 'accepted' | 'duplicate';
  queues: string[];
}

/**
 * What this publisher answers: the result plus the fields a caller logs the
 * event with. For a duplicate they are the original publish's.
 */
export interface PublishReceipt extends PublishResult {
  type: EventType;
  correlationId: string;
  tenantId?: string | undefined;
}

export interface RejectedItem {
  index: number;
  status: 'rejected';
  /** The error the item would have raised alone, as JSON. */
  error: { code: string; message: string; details?: unknown };
}

export type BatchItemResult = (PublishReceipt & { index: number }) | RejectedItem;

export interface RedisPublisher {
  publish(input: unknown, options?: PublishOptions): Promise<PublishReceipt>;
  /** One result per input, in input order. */
  publishBatch(inputs: readonly unknown[]): Promise<BatchItemResult[]>;
  /** Stops accepting publishes; leaves the connection open. Idempotent. */
  close(): Promise<void>;
}

/** A validated input, ready to be claimed and fanned out. */
interface PreparedEvent {
  envelope: StoredEnvelope;
  fingerprint: string;
  queues: string[];
  /** The ledger key of `envelope.idempotencyKey`. */
  recordKey: string;
  /** BullMQ delay / priority of its jobs. */
  delivery: DeliveryOptions;
}

const silent: PublisherLogger = { info: () => undefined, warn: () => undefined };

export function createRedisPublisher(options: RedisPublisherOptions): RedisPublisher {
  const connection = options.connection;
  const prefix = options.prefix ?? 'sy';
  const ttlSeconds = integerOption(
    'idempotencyTtlSeconds',
    options.idempotencyTtlSeconds,
    86_400,
    1,
  );
  const timeoutMs = integerOption('timeoutMs', options.timeoutMs, 5_000, 1);
  const jobIndex =
    options.jobIndex === false
      ? undefined
      : {
          ttlSeconds: integerOption(
            'jobIndex.ttlSeconds',
            options.jobIndex?.ttlSeconds,
            ttlSeconds,
            1,
          ),
          maxPerTenant: integerOption(
            'jobIndex.maxPerTenant',
            options.jobIndex?.maxPerTenant,
            10_000,
            1,
          ),
        };
  const queuesOf = options.queuesOf ?? ((type: EventType) => subscribersOf(type).map(queueNameOf));
  const now = options.now ?? (() => new Date());
  const newId = options.newId;
  const logger = options.logger ?? silent;
  const fanOut = new FanOut({
    connection,
    prefix,
    ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
  });
  const backlogGate = new BacklogGate({
    connection,
    prefix,
    limit: limitOption('backlogLimit', options.backlogLimit ?? 100_000),
    limits: Object.fromEntries(
      Object.entries(options.backlogLimits ?? {}).map(([queue, limit]) => [
        queue,
        limitOption(`backlogLimits.${queue}`, limit),
      ]),
    ),
    intervalMs: integerOption('backlogCheckIntervalMs', options.backlogCheckIntervalMs, 250, 0),
    retryAfterSeconds: Math.max(1, Math.ceil(options.backlogRetryAfterSeconds ?? 5)),
    now: () => now().getTime(),
  });
  let closed = false;

  function prepare(input: unknown, idempotencyKeyHeader?: string): PreparedEvent {
    const request = parsePublishRequest(input, { idempotencyKeyHeader });
    const envelope = createEnvelope(request, newId === undefined ? { now } : { now, newId });
    return {
      envelope,
      fingerprint: payloadFingerprint(envelope),
      queues: [...queuesOf(envelope.type)],
      recordKey: idempotencyRecordKey(prefix, envelope.idempotencyKey, envelope.tenantId),
      delivery: {
        ...(request.delayMs === undefined ? {} : { delay: request.delayMs }),
        ...(request.priority === undefined ? {} : { priority: request.priority }),
      },
    };
  }

  function pendingRecord(event: PreparedEvent): IdempotencyRecord {
    return {
      eventId: event.envelope.id,
      fingerprint: event.fingerprint,
      queues: event.queues,
      state: 'pending',
      acceptedAt: null,
      occurredAt: event.envelope.occurredAt,
      correlationId: event.envelope.correlationId,
    };
  }

  function acceptedRecord(record: IdempotencyRecord): string {
    return encodeIdempotencyRecord({
      ...record,
      state: 'accepted',
      acceptedAt: now().toISOString(),
    });
  }

  /** The envelope the first attempt built, rebuilt from its record (same fingerprint, so same data). */
  function redrive(event: PreparedEvent, record: IdempotencyRecord): Delivery {
    logger.info(
      {
        eventId: record.eventId,
        idempotencyKey: event.envelope.idempotencyKey,
        queues: record.queues,
      },
      'completing the fan-out of a pending idempotency record',
    );
    return {
      envelope: {
        ...event.envelope,
        id: record.eventId,
        occurredAt: record.occurredAt,
        correlationId: record.correlationId,
      },
      queues: record.queues,
      options: event.delivery,
    };
  }

  function receipt(
    event: PreparedEvent,
    record: IdempotencyRecord,
    status: PublishResult['status'],
  ): PublishReceipt {
    return {
      eventId: record.eventId,
      idempotencyKey: event.envelope.idempotencyKey,
      status,
      queues: [...record.queues],
      type: event.envelope.type,
      correlationId: record.correlationId,
      ...(event.envelope.tenantId === undefined ? {} : { tenantId: event.envelope.tenantId }),
    };
  }

  function conflict(event: PreparedEvent): IdempotencyConflictError {
    return new IdempotencyConflictError(
      `idempotency key "${event.envelope.idempotencyKey}" was already used for a different payload`,
      { details: { idempotencyKey: event.envelope.idempotencyKey } },
    );
  }

  /** A refusal for each of `queues` whose backlog is full (usually none). */
  async function backlogRefusals(
    queues: Iterable<string>,
    deadline: number,
  ): Promise<Map<string, BacklogFullError>> {
    return step('reading the subscriber backlogs', deadline, () => backlogGate.refusals(queues));
  }

  /**
   * What a publish refused for backpressure answers: the ledger still decides
   * duplicates and conflicts (read, never claimed); otherwise the refusal.
   */
  function answerRefused(
    event: PreparedEvent,
    stored: unknown,
    refusal: BacklogFullError,
  ): PublishReceipt | PublishError {
    if (typeof stored !== 'string') return refusal;
    const record = decodeIdempotencyRecord(event.recordKey, stored);
    if (record.fingerprint !== event.fingerprint) return conflict(event);
    if (record.state === 'accepted') return receipt(event, record, 'duplicate');
    return refusal;
  }

  function assertOpen(): void {
    if (closed) throw new PublisherClosedError('the publisher is closed');
  }

  /** Runs one Redis step within what is left of the call's deadline. */
  async function step<T>(what: string, deadline: number, work: () => Promise<T>): Promise<T> {
    // enableOfflineQueue: false already rejects commands on a connection that
    // is not ready; checking first also keeps BullMQ from waiting for one.
    if (connection.status !== 'ready') {
      throw new RedisUnavailableError(`${what}: the Redis connection is ${connection.status}`);
    }
    try {
      return await withDeadline(
        work(),
        deadline - Date.now(),
        () => new RedisUnavailableError(`${what}: the call did not finish within ${timeoutMs} ms`),
      );
    } catch (error) {
      if (error instanceof PublishError) throw error;
      throw new RedisUnavailableError(
        `${what} failed: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  async function fanOutOrReport(deliveries: Delivery[], deadline: number): Promise<void> {
    try {
      await step('fanning out', deadline, () => fanOut.add(deliveries));
    } catch (error) {
      logger.warn(
        { err: error, eventIds: deliveries.map((d) => d.envelope.id) },
        'fan-out failed; idempotency records stay pending until a retry completes them',
      );
      throw error;
    }
  }

  /** Replies of a pipeline, with any failed command turned into RedisUnavailableError. */
  async function runPipeline(
    what: string,
    deadline: number,
    commands: (pipeline: ReturnType<RedisConnection['pipeline']>) => void,
  ): Promise<unknown[]> {
    return step(what, deadline, async () => {
      const pipeline = connection.pipeline();
      commands(pipeline);
      const replies = await pipeline.exec();
      if (replies === null) throw new RedisUnavailableError(`${what}: the pipeline was discarded`);
      return replies.map(([error, value]) => {
        if (error) throw error;
        return value;
      });
    });
  }

  /**
   * Marks the records accepted and writes the search index of the delivered
   * jobs, in one round trip: the commands are issued together, straight on
   * the connection (no pipeline object: see sendJobIndexWrites). A failed
   * SET fails the call (as before); a failed index command is only logged.
   */
  async function markAccepted(
    what: string,
    deadline: number,
    records: ReadonlyMap<string, IdempotencyRecord>,
    deliveries: readonly Delivery[],
  ): Promise<void> {
    const replies = await step(what, deadline, async () => {
      const sent: Promise<unknown>[] = [];
      for (const [key, record] of records)
        sent.push(connection.set(key, acceptedRecord(record), 'KEEPTTL', 'XX'));
      if (jobIndex !== undefined) {
        const entries: JobIndexEntry[] = deliveries.flatMap(({ envelope, queues }) =>
          queues.map((queue) => ({
            queue,
            jobId: envelope.id,
            eventId: envelope.id,
            correlationId: envelope.correlationId,
            idempotencyKey: envelope.idempotencyKey,
            tenantId: envelope.tenantId,
          })),
        );
        sent.push(
          ...sendJobIndexWrites(connection, {
            prefix,
            entries,
            now: Date.now(),
            retention: jobIndex,
          }),
        );
      }
      const settled = await Promise.allSettled(sent);
      return settled.map((outcome): [Error | null, unknown] =>
        outcome.status === 'fulfilled'
          ? [null, outcome.value]
          : [
              outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason)),
              undefined,
            ],
      );
    });
    replies.slice(0, records.size).forEach(([error]) => {
      if (error)
        throw new RedisUnavailableError(`${what} failed: ${error.message}`, { cause: error });
    });
    const indexError = replies.slice(records.size).find(([error]) => error !== null)?.[0];
    if (indexError) {
      logger.warn(
        { err: indexError, eventIds: deliveries.map((d) => d.envelope.id) },
        'job search index not written; the jobs are enqueued but findJobs will not find them',
      );
    }
  }

  async function publish(
    input: unknown,
    publishOptions: PublishOptions = {},
  ): Promise<PublishReceipt> {
    assertOpen();
    const event = prepare(input, publishOptions.idempotencyKeyHeader);
    const deadline = Date.now() + timeoutMs;
    const refusal = (await backlogRefusals(event.queues, deadline)).values().next().value;
    if (refusal !== undefined) {
      const found = await step('reading the idempotency record', deadline, () =>
        connection.get(event.recordKey),
      );
      const answer = answerRefused(event, found, refusal);
      if (answer instanceof PublishError) throw answer;
      return answer;
    }
    const stored = await step('claiming the idempotency key', deadline, () =>
      connection.set(
        event.recordKey,
        encodeIdempotencyRecord(pendingRecord(event)),
        'EX',
        ttlSeconds,
        'NX',
        'GET',
      ),
    );
    let record: IdempotencyRecord;
    let status: PublishResult['status'];
    let delivery: Delivery[];
    if (stored === null) {
      record = pendingRecord(event);
      status = 'accepted';
      delivery = [{ envelope: event.envelope, queues: event.queues, options: event.delivery }];
    } else {
      record = decodeIdempotencyRecord(event.recordKey, stored);
      status = 'duplicate';
      if (record.fingerprint !== event.fingerprint) throw conflict(event);
      if (record.state === 'accepted') return receipt(event, record, status);
      delivery = [redrive(event, record)];
    }
    await fanOutOrReport(delivery, deadline);
    await markAccepted(
      'marking the event accepted',
      deadline,
      new Map([[event.recordKey, record]]),
      delivery,
    );
    return receipt(event, record, status);
  }

  async function publishBatch(inputs: readonly unknown[]): Promise<BatchItemResult[]> {
    assertOpen();
    const results: (BatchItemResult | undefined)[] = new Array<BatchItemResult | undefined>(
      inputs.length,
    );
    const valid: { index: number; event: PreparedEvent }[] = [];
    inputs.forEach((input, index) => {
      try {
        valid.push({ index, event: prepare(input) });
      } catch (error) {
        if (!(error instanceof EventError)) throw error;
        results[index] = rejected(index, error);
      }
    });
    const deadline = Date.now() + timeoutMs;
    const refusals =
      valid.length === 0
        ? new Map<string, BacklogFullError>()
        : await backlogRefusals(
            valid.flatMap(({ event }) => event.queues),
            deadline,
          );
    if (refusals.size > 0) {
      const refused = valid.filter(({ event }) => event.queues.some((q) => refusals.has(q)));
      const found = await runPipeline('reading the idempotency records', deadline, (pipeline) => {
        for (const { event } of refused) pipeline.get(event.recordKey);
      });
      refused.forEach(({ index, event }, position) => {
        const refusal = refusals.get(event.queues.find((q) => refusals.has(q))!)!;
        let answer: PublishReceipt | PublishError;
        try {
          answer = answerRefused(event, found[position], refusal);
        } catch (error) {
          if (!(error instanceof IdempotencyRecordInvalidError)) throw error;
          answer = error;
        }
        results[index] =
          answer instanceof PublishError ? rejected(index, answer) : { index, ...answer };
      });
      valid.splice(0, valid.length, ...valid.filter(({ index }) => results[index] === undefined));
    }
    if (valid.length > 0) {
      const claims = await runPipeline('claiming the idempotency keys', deadline, (pipeline) => {
        for (const { event } of valid) {
          pipeline.set(
            event.recordKey,
            encodeIdempotencyRecord(pendingRecord(event)),
            'EX',
            ttlSeconds,
            'NX',
            'GET',
          );
        }
      });
      const deliveries: Delivery[] = [];
      const delivered = new Set<string>();
      // Ledger key -> record to mark accepted; one entry per key.
      const toAccept = new Map<string, IdempotencyRecord>();
      valid.forEach(({ index, event }, position) => {
        const stored = claims[position];
        if (stored === null) {
          const record = pendingRecord(event);
          deliveries.push({
            envelope: event.envelope,
            queues: event.queues,
            options: event.delivery,
          });
          delivered.add(record.eventId);
          toAccept.set(event.recordKey, record);
          results[index] = { index, ...receipt(event, record, 'accepted') };
          return;
        }
        if (typeof stored !== 'string') {
          throw new RedisUnavailableError(
            `claiming ${event.recordKey}: unexpected reply ${typeof stored}`,
          );
        }
        let record: IdempotencyRecord;
        try {
          record = decodeIdempotencyRecord(event.recordKey, stored);
        } catch (error) {
          // Someone else's value under this key: this item fails, not the batch.
          if (!(error instanceof IdempotencyRecordInvalidError)) throw error;
          results[index] = rejected(index, error);
          return;
        }
        if (record.fingerprint !== event.fingerprint) {
          results[index] = rejected(index, conflict(event));
          return;
        }
        // A pending record is either an earlier item of this batch (already
        // being delivered) or an interrupted publish to complete.
        if (record.state === 'pending' && !delivered.has(record.eventId)) {
          deliveries.push(redrive(event, record));
          delivered.add(record.eventId);
          toAccept.set(event.recordKey, record);
        }
        results[index] = { index, ...receipt(event, record, 'duplicate') };
      });
      await fanOutOrReport(deliveries, deadline);
      if (toAccept.size > 0) {
        await markAccepted('marking the events accepted', deadline, toAccept, deliveries);
      }
    }
    return results.map((result, index) => {
      if (result === undefined) throw new Error(`publishBatch: item ${index} got no result`);
      return result;
    });
  }

  return {
    publish,
    publishBatch,
    async close() {
      closed = true;
      await fanOut.close();
    },
  };
}

function rejected(index: number, error: EventError | PublishError): RejectedItem {
  return {
    index,
    status: 'rejected',
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}
