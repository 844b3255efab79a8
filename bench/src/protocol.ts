/**
 * Messages between the orchestrator and a role child (over the IPC channel).
 * Times are epoch milliseconds with sub-ms precision
 * (`performance.timeOrigin + performance.now()`), comparable across the
 * processes of one machine. CPU is process.cpuUsage() user+system in µs.
 */

export type RoleName = 'limit' | 'bullmq' | 'bee' | 'switchyard' | 'http' | 'client';

/** What every child is started with (JSON in argv[3]). */
export interface RoleConfig {
  redisUrl: string;
  /** Queue name (and key prefix where the role has one). */
  queue: string;
  /** Bytes of the payload's padding field, so the job's data is ~200 bytes of JSON. */
  payloadBytes: number;
  /** http role: the producer's base URL and API key. */
  producerUrl?: string;
  apiKey?: string;
  /** switchyard and client roles: the BullMQ prefix of the subscriber queues. */
  prefix?: string;
}

/** Which Switchyard features a consumer runs with (the C variants). */
export interface ConsumerVariant {
  logs: boolean;
  metrics: boolean;
  once: boolean;
}

export type Command =
  | { cmd: 'add'; n: number; inFlight: number }
  | { cmd: 'bulk'; n: number; batch: number; inFlight: number }
  | { cmd: 'paced'; rate: number; durationMs: number; maxInFlight: number }
  | { cmd: 'startConsumer'; concurrency: number; variant?: ConsumerVariant }
  | { cmd: 'awaitConsumed'; expect: number; timeoutMs: number }
  | { cmd: 'stopConsumer' }
  | { cmd: 'close' };

export interface ProduceResult {
  /** Jobs the queue accepted. */
  sent: number;
  /** Publishes refused or failed (HTTP non-2xx, Redis errors, over maxInFlight). */
  errors: number;
  tStart: number;
  tEnd: number;
  cpuMicros: number;
}

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

export interface ConsumeResult {
  /** Jobs whose handler finished. */
  done: number;
  /** First handler start and the finish of the `expect`-th job. */
  tFirst: number;
  tEnd: number;
  /** CPU from startConsumer (worker ready) to tEnd. */
  cpuMicros: number;
  /** publish -> handler start, for jobs that carried a publish time. */
  latency: LatencySummary;
  /** Peak RSS while consuming, sampled every 50 ms, in bytes. */
  rssPeak: number;
}

export type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
