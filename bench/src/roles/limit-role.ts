/**
 * Tier A, the physical limit: BullMQ-shaped work written straight against
 * Redis with two small Lua scripts of our own, so the cost left is Redis's
 * and one client's.
 *
 * Keys under `<queue>:`: `id` (counter), `wait` and `active` (lists of ids),
 * `events` (a stream capped at ~10 000), `marker` (a one-member sorted set
 * idle workers block on), `job:<id>` (hash: name, data, timestamp, ...) and
 * `job:<id>:lock` (the holder's token, with a TTL).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { padding, type ConsumerStats, type Role } from '../role-kit.js';
import type { RoleConfig } from '../protocol.js';

/**
 * add: KEYS[1] id counter, KEYS[2] wait, KEYS[3] events, KEYS[4] marker;
 * ARGV[1] job key prefix, ARGV[2] name, ARGV[3] data, ARGV[4] timestamp.
 * Returns the new id.
 */
const addScript = `
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', ARGV[1] .. id, 'name', ARGV[2], 'data', ARGV[3], 'timestamp', ARGV[4], 'attemptsMade', 0)
redis.call('LPUSH', KEYS[2], id)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', 'waiting', 'jobId', id)
redis.call('ZADD', KEYS[4], 0, '0')
return id`;

/**
 * finish-and-fetch-next: KEYS[1] wait, KEYS[2] active, KEYS[3] events;
 * ARGV[1] job key prefix, ARGV[2] id of the job just finished ('' for
 * none), ARGV[3] lock token, ARGV[4] lock ms, ARGV[5] now.
 * Completes (and removes) the finished job, then moves the next waiting job
 * to active, locks it and returns {id, data}; nil when none waits.
 */
const finishFetchScript = `
if ARGV[2] ~= '' then
  local jobKey = ARGV[1] .. ARGV[2]
  if redis.call('GET', jobKey .. ':lock') == ARGV[3] then redis.call('DEL', jobKey .. ':lock') end
  redis.call('LREM', KEYS[2], -1, ARGV[2])
  redis.call('DEL', jobKey)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', 'completed', 'jobId', ARGV[2])
end
local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
if not id then return nil end
local jobKey = ARGV[1] .. id
redis.call('SET', jobKey .. ':lock', ARGV[3], 'PX', ARGV[4])
redis.call('HSET', jobKey, 'processedOn', ARGV[5])
redis.call('HINCRBY', jobKey, 'attemptsStarted', 1)
return {id, redis.call('HGET', jobKey, 'data')}`;

type LimitRedis = Redis & {
  syAdd(
    k1: string,
    k2: string,
    k3: string,
    k4: string,
    prefix: string,
    name: string,
    data: string,
    ts: number,
  ): Promise<number>;
  syFinishFetch(
    k1: string,
    k2: string,
    k3: string,
    prefix: string,
    done: string,
    token: string,
    lockMs: number,
    now: number,
  ): Promise<[string, string] | null>;
};

function connect(url: string, blocking = false): LimitRedis {
  const redis = new Redis(url, { maxRetriesPerRequest: blocking ? null : 20 }) as LimitRedis;
  redis.defineCommand('syAdd', { numberOfKeys: 4, lua: addScript });
  redis.defineCommand('syFinishFetch', { numberOfKeys: 3, lua: finishFetchScript });
  return redis;
}

export function createLimitRole(config: RoleConfig): Role {
  const q = config.queue;
  const keys = {
    id: `${q}:id`,
    wait: `${q}:wait`,
    active: `${q}:active`,
    events: `${q}:events`,
    marker: `${q}:marker`,
    job: `${q}:job:`,
  };
  const pad = padding(config.payloadBytes);
  const redis = connect(config.redisUrl);
  const data = (seq: number, ts: number) => JSON.stringify({ seq, ts, pad });
  let consumer: { stop: () => Promise<void> } | undefined;

  return {
    async addOne(seq, ts) {
      await redis.syAdd(
        keys.id,
        keys.wait,
        keys.events,
        keys.marker,
        keys.job,
        'job',
        data(seq, ts),
        Date.now(),
      );
    },
    async addBatch(seq, count, ts) {
      const pipeline = redis.pipeline() as unknown as LimitRedis & { exec(): Promise<unknown> };
      for (let i = 0; i < count; i++) {
        void pipeline.syAdd(
          keys.id,
          keys.wait,
          keys.events,
          keys.marker,
          keys.job,
          'job',
          data(seq + i, ts),
          Date.now(),
        );
      }
      await pipeline.exec();
    },
    async startConsumer(concurrency: number, _variant, stats: ConsumerStats) {
      const worker = connect(config.redisUrl);
      const blocker = connect(config.redisUrl, true);
      await Promise.all([worker.ping(), blocker.ping()]);
      let running = true;
      // Idle slots queue here; each marker the blocker pops wakes ONE of them
      // (waking all would cost 50 empty fetches per job). A pop with no idle
      // slot is remembered, so a slot about to go idle fetches once more.
      const idlers: (() => void)[] = [];
      let missedWake = false;
      const wakeOne = () => {
        const next = idlers.shift();
        if (next) next();
        else missedWake = true;
      };
      const blockLoop = (async () => {
        while (running) {
          try {
            const popped = await blocker.bzpopmin(keys.marker, 0.5);
            if (popped) wakeOne();
          } catch {
            if (!running) break;
          }
        }
      })();
      const slot = async () => {
        const token = randomUUID();
        let finished = '';
        while (running) {
          const next = await worker.syFinishFetch(
            keys.wait,
            keys.active,
            keys.events,
            keys.job,
            finished,
            token,
            30_000,
            Date.now(),
          );
          if (finished !== '') stats.finished();
          finished = '';
          if (next === null) {
            if (missedWake) {
              missedWake = false;
              continue;
            }
            await new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                const index = idlers.indexOf(wake);
                if (index >= 0) idlers.splice(index, 1);
                resolve();
              }, 200);
              const wake = () => {
                clearTimeout(timer);
                resolve();
              };
              idlers.push(wake);
            });
            continue;
          }
          // More may be waiting: hand the next one to an idle slot.
          if (idlers.length > 0) idlers.shift()!();
          const [id, json] = next;
          stats.started((JSON.parse(json) as { ts: number }).ts);
          // The no-op handler.
          await Promise.resolve();
          finished = id;
        }
        if (finished !== '') {
          await worker.syFinishFetch(
            keys.wait,
            keys.active,
            keys.events,
            keys.job,
            finished,
            token,
            30_000,
            Date.now(),
          );
          stats.finished();
        }
      };
      const slots = Array.from({ length: concurrency }, slot);
      consumer = {
        stop: async () => {
          running = false;
          for (const wake of idlers.splice(0)) wake();
          await Promise.all(slots);
          blocker.disconnect();
          await blockLoop;
          await worker.quit();
        },
      };
    },
    async stopConsumer() {
      await consumer?.stop();
      consumer = undefined;
    },
    async close() {
      await consumer?.stop();
      await redis.quit();
    },
  };
}
