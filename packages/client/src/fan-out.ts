/**
 * Puts one job per (event, subscriber queue) into Redis in one BullMQ
 * `FlowProducer.addBulk` call.
 *
 * What this guarantees (read from bullmq 6.7's flow-producer.js and
 * redis-queue-backend.js): `addBulk` collects every job of every childless
 * flow and `RedisQueueBackend.addFlow` writes them in ONE `MULTI`/`EXEC`.
 * So:
 * - no reader ever sees part of the fan-out: Redis runs the transaction's
 *   commands back to back;
 * - if the publisher dies or loses its connection before `EXEC` reaches
 *   Redis, Redis discards the whole transaction: no queue gets a job;
 * - if Redis rejects any command while queueing it (ACL denial, unknown
 *   command, wrong arity), `EXEC` answers EXECABORT and runs none of them.
 *
 * What it cannot guarantee: Redis never rolls a transaction back. A command
 * that fails while `EXEC` runs it (e.g. WRONGTYPE because something else
 * wrote a key of the wrong type at a queue's key) fails alone and the other
 * queues keep their jobs. `addBulk` drops these per-job errors, so the Redis
 * backend is wrapped (through FlowProducer's `backendFactory` parameter) to
 * throw them: the publish then fails, its idempotency record stays pending,
 * and a retry re-adds the missing jobs under the same ids (those already
 * added are ignored as duplicates). Until that retry the event is in some
 * queues only; this window needs a corrupted keyspace to open.
 *
 * One job in all (one event, one subscriber queue: the common case) skips
 * the transaction: `Queue.add` runs BullMQ's add script, which is atomic
 * on its own, so all-or-nothing holds trivially, and the MULTI/EXEC and
 * FlowProducer's per-call pipeline (ioredis copies every script BullMQ
 * defined on the connection into each pipeline) are saved. A job id that
 * already exists is a no-op there too.
 */
import {
  FlowProducer,
  Queue,
  createRedisBackend,
  type BackendFactory,
  type FlowJob,
  type RedisQueueBackend,
  type Telemetry,
} from 'bullmq';
import type { RedisConnection } from './redis-connection.js';
import { deliveryJobOptions, type StoredEnvelope } from '@switchyard/events';
import { PublisherClosedError, RedisUnavailableError } from './errors.js';

/** BullMQ job options a publish may set; everything else is deliveryJobOptions. */
export interface DeliveryOptions {
  /** ms before the jobs may be taken (BullMQ `delay`). */
  delay?: number;
  /** BullMQ `priority`: 1 is the highest; unset is plain FIFO ahead of no one. */
  priority?: number;
}

/** One event, the queues it goes to and how. */
export interface Delivery {
  envelope: StoredEnvelope;
  queues: readonly string[];
  options?: DeliveryOptions;
}

/** createRedisBackend, but `addFlow` throws when any job of the transaction failed. */
const strictRedisBackend: BackendFactory<RedisQueueBackend> = (name, opts, extra) => {
  const backend = createRedisBackend(name, opts, extra);
  const addFlow = backend.addFlow.bind(backend);
  backend.addFlow = async (entries) => {
    const results = await addFlow(entries);
    const failures = entries.flatMap((entry, index) => {
      const [error, idOrCode] = results[index] ?? [new Error('no reply'), -1];
      if (error === null && !(typeof idOrCode === 'number' && idOrCode < 0)) return [];
      return [
        {
          queue: entry.queueName,
          jobId: entry.jobId,
          reason: error?.message ?? `code ${idOrCode}`,
        },
      ];
    });
    if (failures.length > 0) {
      throw new RedisUnavailableError(
        `fan-out incomplete: ${failures.length} of ${entries.length} jobs were not added ` +
          `(${failures.map((f) => `${f.queue}: ${f.reason}`).join('; ')})`,
        { details: { failures } },
      );
    }
    return results;
  };
  return backend;
};

export class FanOut {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #telemetry: Telemetry | undefined;
  #producer: FlowProducer<RedisQueueBackend> | undefined;
  /** One Queue per subscriber queue a single-job fan-out went to: bounded by the routing table. */
  readonly #queues = new Map<string, Queue>();
  #closed = false;

  /** `telemetry`: BullMQ's, put on the FlowProducer (spans + trace context in each job); default none. */
  constructor(options: { connection: RedisConnection; prefix: string; telemetry?: Telemetry }) {
    this.#connection = options.connection;
    this.#prefix = options.prefix;
    this.#telemetry = options.telemetry;
  }

  /** Adds every delivery's jobs in one transaction (see the header for what that guarantees). */
  async add(deliveries: readonly Delivery[]): Promise<void> {
    const flows: FlowJob[] = deliveries.flatMap(({ envelope, queues, options }) =>
      queues.map((queueName) => ({
        name: envelope.type,
        queueName,
        data: envelope,
        // The event id as job id: a repeated fan-out of the same event is a
        // no-op in every queue that already has it.
        opts: { ...deliveryJobOptions, ...options, jobId: envelope.id },
      })),
    );
    if (flows.length === 0) return;
    const [only] = flows;
    if (flows.length === 1 && only !== undefined) {
      await this.#addOne(only);
      return;
    }
    const producer = this.#currentProducer();
    try {
      await producer.waitUntilReady();
    } catch (error) {
      // BullMQ keeps a failed initialisation (its version check) for good:
      // drop this producer so the next call builds a fresh one.
      if (this.#producer === producer) this.#producer = undefined;
      void producer.close().catch(() => undefined);
      throw error;
    }
    const nodes = await producer.addBulk(flows);
    // addBulk returns undefined, having added nothing, once the producer is closing.
    if (nodes?.length !== flows.length) {
      throw new PublisherClosedError('the fan-out was closed before its jobs were added');
    }
  }

  /** Releases BullMQ's listeners; the connection stays open (the caller owns it). */
  async close(): Promise<void> {
    this.#closed = true;
    const producer = this.#producer;
    this.#producer = undefined;
    const queues = [...this.#queues.values()];
    this.#queues.clear();
    await Promise.all([producer?.close(), ...queues.map((queue) => queue.close())]);
  }

  /** One job: BullMQ's add script alone (atomic by itself; see the header). */
  async #addOne(flow: FlowJob): Promise<void> {
    if (this.#closed) throw new PublisherClosedError('the publisher is closed');
    let queue = this.#queues.get(flow.queueName);
    if (queue === undefined) {
      queue = new Queue(flow.queueName, {
        connection: this.#connection,
        prefix: this.#prefix,
        ...(this.#telemetry === undefined ? {} : { telemetry: this.#telemetry }),
      });
      // Errors reach the caller through add(); the event only must not crash the process.
      queue.on('error', () => undefined);
      this.#queues.set(flow.queueName, queue);
    }
    try {
      await queue.waitUntilReady();
    } catch (error) {
      // As for the FlowProducer: a failed initialisation is kept by BullMQ for good.
      if (this.#queues.get(flow.queueName) === queue) this.#queues.delete(flow.queueName);
      void queue.close().catch(() => undefined);
      throw error;
    }
    if (this.#closed)
      throw new PublisherClosedError('the fan-out was closed before its job was added');
    await queue.add(flow.name, flow.data as unknown, flow.opts);
  }

  #currentProducer(): FlowProducer<RedisQueueBackend> {
    if (this.#closed) throw new PublisherClosedError('the publisher is closed');
    this.#producer ??= new FlowProducer(
      {
        connection: this.#connection,
        prefix: this.#prefix,
        ...(this.#telemetry === undefined ? {} : { telemetry: this.#telemetry }),
      },
      strictRedisBackend,
    );
    return this.#producer;
  }
}
