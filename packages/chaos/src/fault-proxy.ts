/**
 * startFaultProxy: an in-process TCP proxy between Redis clients and one
 * Redis server, that injects network faults per connection.
 *
 * Point the clients at `proxy.url` instead of the server. Every accepted
 * connection gets its own upstream connection to `target`; bytes flow
 * through unchanged while its mode is 'pass'.
 *
 * Modes (`setMode(mode, filter?)`):
 * - pass: forward both ways.
 * - latency(ms): forward both ways, each chunk `ms` later, order kept.
 * - reset: destroy both sockets with a TCP RST (the client sees ECONNRESET).
 *   It stays in force: a matching connection opened later is reset as soon
 *   as it matches, so a reconnect loop keeps failing until the mode changes.
 * - blackhole: accept and read, forward nothing, either way. The bytes read
 *   are held (up to `blackholeHoldBytes` per direction, then the connection
 *   is reset, as a TCP connection whose retransmissions give up) and handed
 *   on, in order, once the connection leaves blackhole, as TCP retransmits
 *   once a path heals. Dropping them instead would desynchronise the RESP
 *   stream (replies matched to the wrong commands), which no real network
 *   does to a live connection. `{ kind: 'blackhole', onHeal: 'reset' }`
 *   instead resets the connection when it leaves blackhole, as a middlebox
 *   that forgot the flow during the partition does: what was held is lost
 *   and the client must reconnect.
 * - close: end both sockets gracefully (FIN); later matching connections are
 *   closed as soon as they match (for an unfiltered rule: at accept).
 *
 * Rules: `setMode(mode)` without a filter sets the mode of every connection
 * and clears all filtered rules. `setMode(mode, filter)` adds a rule on top;
 * a connection's mode is that of the last rule whose filter matches it, else
 * the unfiltered one. Filters are re-evaluated when a connection names
 * itself, so a rule can target connections that do not exist yet.
 *
 * Identifying connections: each has an arrival number `id` (1, 2, ...), the
 * client's source port, and the `name` it gives itself with
 * `CLIENT SETNAME` (ioredis sends it at connect for `connectionName`). The
 * proxy parses the first `sniffBytes` of each client's commands for it.
 * BullMQ 6.7 names a worker's dedicated blocking connection (BZPOPMIN)
 * `<prefix>:<base64(queue)>:w:<workerName>`; Switchyard's runtime sets the
 * worker name to WORKER_ID, so `blockingConnectionOf(workerId)` picks the one
 * blocking connection of one replica. The worker's main connection (jobs,
 * locks, scripts) carries no name.
 *
 * close() stops listening, destroys every connection both ways and cancels
 * every timer: nothing of the proxy keeps the process alive.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { ChaosError } from './errors.js';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'latency'; ms: number }
  | { kind: 'reset' }
  | { kind: 'blackhole'; onHeal?: 'deliver' | 'reset' }
  | { kind: 'close' };

/** What a filter sees of one connection. */
export interface ProxyConnectionInfo {
  /** Arrival order, from 1. */
  id: number;
  /** The client's source port on 127.0.0.1. */
  clientPort: number;
  /** The last `CLIENT SETNAME` seen in the sniffed bytes, if any. */
  name: string | undefined;
  openedAt: number;
  /** Bytes read from the client / from the server. */
  bytesFromClient: number;
  bytesFromServer: number;
  /** Bytes read (either way) while blackholed: the evidence a wedge hit live traffic. */
  blackholedBytes: number;
  /** The mode in force now. */
  mode: FaultMode['kind'];
  /** False once both sockets are gone. */
  open: boolean;
}

export type ConnectionFilter = (connection: ProxyConnectionInfo) => boolean;

export interface StartFaultProxyOptions {
  target: { host: string; port: number };
  /** Listen port on 127.0.0.1. Default 0 (a free port). */
  port?: number;
  /** Bytes held per direction of one blackholed connection before it is reset. Default 8 MiB. */
  blackholeHoldBytes?: number;
  /** Bytes of each client's stream parsed for `CLIENT SETNAME`. Default 64 KiB. */
  sniffBytes?: number;
}

export interface FaultProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`: give this to the clients. */
  readonly url: string;
  /** See the module comment for how rules combine. */
  setMode(
    mode: FaultMode | 'pass' | 'reset' | 'blackhole' | 'close',
    filter?: ConnectionFilter,
  ): void;
  /** Every connection accepted so far (closed ones too, with `open: false`), oldest first. */
  connections(): ProxyConnectionInfo[];
  /** Stops listening and destroys every connection; idempotent. */
  close(): Promise<void>;
}

/** A fault rule was given a mode the proxy cannot apply. */
export class FaultProxyUsageError extends ChaosError {
  override readonly code = 'SY_ERR_CHAOS_FAULT_PROXY_USAGE';
}

/** Filter: the connections named exactly `name`, or matching `name` when a RegExp. */
export function connectionNamed(name: string | RegExp): ConnectionFilter {
  return (c) =>
    c.name !== undefined && (typeof name === 'string' ? c.name === name : name.test(c.name));
}

/**
 * Filter: the BullMQ blocking connection (BZPOPMIN) of the worker named
 * `workerId` (WORKER_ID), whatever its queue and prefix.
 */
export function blockingConnectionOf(workerId: string): ConnectionFilter {
  return (c) => c.name !== undefined && c.name.endsWith(`:w:${workerId}`);
}

/** Filter: connections with these arrival numbers. */
export function connectionIds(...ids: number[]): ConnectionFilter {
  const wanted = new Set(ids);
  return (c) => wanted.has(c.id);
}

interface Rule {
  mode: FaultMode;
  filter: ConnectionFilter;
}

interface Direction {
  /** Chunks held while blackholed, in order. */
  held: Buffer[];
  heldBytes: number;
  /** Chunks waiting out their latency: [due time, chunk]. */
  delayed: [number, Buffer][];
  timer: NodeJS.Timeout | undefined;
}

interface Connection {
  info: ProxyConnectionInfo;
  client: Socket;
  server: Socket;
  toServer: Direction;
  toClient: Direction;
  sniff: CommandSniffer;
  /** What leaving the blackhole in force does (from its mode). */
  onHeal: 'deliver' | 'reset';
}

const maxLatencyMs = 60_000;

function normalise(mode: Parameters<FaultProxy['setMode']>[0]): FaultMode {
  const full = typeof mode === 'string' ? ({ kind: mode } as FaultMode) : mode;
  if (full.kind === 'latency') {
    if (!Number.isFinite(full.ms) || full.ms < 0 || full.ms > maxLatencyMs) {
      throw new FaultProxyUsageError(`latency must be 0..${maxLatencyMs} ms, got ${full.ms}`);
    }
  } else if (!['pass', 'reset', 'blackhole', 'close'].includes(full.kind)) {
    throw new FaultProxyUsageError(`unknown fault mode ${JSON.stringify(full)}`);
  }
  return full;
}

export async function startFaultProxy(opts: StartFaultProxyOptions): Promise<FaultProxy> {
  const holdLimit = opts.blackholeHoldBytes ?? 8 * 1024 * 1024;
  const sniffLimit = opts.sniffBytes ?? 64 * 1024;
  let base: FaultMode = { kind: 'pass' };
  let rules: Rule[] = [];
  const all: Connection[] = [];
  let nextId = 1;
  let closing: Promise<void> | undefined;

  const modeOf = (info: ProxyConnectionInfo): FaultMode => {
    for (let i = rules.length - 1; i >= 0; i -= 1) {
      if (rules[i]!.filter(info)) return rules[i]!.mode;
    }
    return base;
  };

  const newDirection = (): Direction => ({ held: [], heldBytes: 0, delayed: [], timer: undefined });

  const clearDirection = (d: Direction): void => {
    if (d.timer !== undefined) clearTimeout(d.timer);
    d.timer = undefined;
    d.held = [];
    d.heldBytes = 0;
    d.delayed = [];
  };

  const finish = (c: Connection, how: 'reset' | 'end' | 'destroy'): void => {
    c.info.open = false;
    clearDirection(c.toServer);
    clearDirection(c.toClient);
    for (const socket of [c.client, c.server]) {
      if (socket.destroyed) continue;
      if (how === 'reset' && socket.readyState === 'open') socket.resetAndDestroy();
      else if (how === 'end') {
        socket.end();
        // A peer that never closes its half must not keep the socket forever.
        socket.setTimeout(2_000, () => socket.destroy());
      } else socket.destroy();
    }
  };

  /** Writes `chunk` to `to` now, or after the latency in force. */
  const deliver = (c: Connection, d: Direction, to: Socket, chunk: Buffer): void => {
    const mode = modeOf(c.info);
    const delay = mode.kind === 'latency' ? mode.ms : 0;
    if (delay === 0 && d.delayed.length === 0) {
      if (!to.destroyed) to.write(chunk);
      return;
    }
    // Never overtake a chunk already waiting: order is the stream's meaning.
    const last = d.delayed.length > 0 ? d.delayed[d.delayed.length - 1]![0] : 0;
    d.delayed.push([Math.max(Date.now() + delay, last), chunk]);
    if (d.timer === undefined) pump(d, to);
  };

  const pump = (d: Direction, to: Socket): void => {
    d.timer = undefined;
    const now = Date.now();
    while (d.delayed.length > 0 && d.delayed[0]![0] <= now) {
      const [, chunk] = d.delayed.shift()!;
      if (!to.destroyed) to.write(chunk);
    }
    if (d.delayed.length > 0) {
      d.timer = setTimeout(() => pump(d, to), Math.max(1, d.delayed[0]![0] - now));
    }
  };

  /** Applies the mode now in force to `c`: ends it, or releases held bytes. */
  const apply = (c: Connection): void => {
    if (!c.info.open) return;
    const mode = modeOf(c.info);
    const healing = c.info.mode === 'blackhole' && mode.kind !== 'blackhole';
    c.info.mode = mode.kind;
    if (mode.kind === 'blackhole') c.onHeal = mode.onHeal ?? 'deliver';
    if (mode.kind === 'reset' || (healing && c.onHeal === 'reset')) finish(c, 'reset');
    else if (mode.kind === 'close') finish(c, 'end');
    else if (mode.kind !== 'blackhole') {
      for (const [d, to] of [
        [c.toServer, c.server],
        [c.toClient, c.client],
      ] as const) {
        const held = d.held;
        d.held = [];
        d.heldBytes = 0;
        for (const chunk of held) deliver(c, d, to, chunk);
      }
    }
  };

  const onChunk = (c: Connection, d: Direction, to: Socket, chunk: Buffer): void => {
    if (!c.info.open) return;
    if (c.info.mode === 'blackhole') {
      c.info.blackholedBytes += chunk.length;
      d.held.push(chunk);
      d.heldBytes += chunk.length;
      if (d.heldBytes > holdLimit) finish(c, 'reset');
      return;
    }
    deliver(c, d, to, chunk);
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    const upstream = connect({ host: opts.target.host, port: opts.target.port });
    const info: ProxyConnectionInfo = {
      id: nextId++,
      clientPort: client.remotePort ?? 0,
      name: undefined,
      openedAt: Date.now(),
      bytesFromClient: 0,
      bytesFromServer: 0,
      blackholedBytes: 0,
      mode: 'pass',
      open: true,
    };
    const c: Connection = {
      info,
      client,
      server: upstream,
      toServer: newDirection(),
      toClient: newDirection(),
      sniff: new CommandSniffer(sniffLimit),
      onHeal: 'deliver',
    };
    all.push(c);
    // A fault ends a connection; errors are how the peers learn it, not ours.
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('close', () => finish(c, 'destroy'));
    upstream.on('close', () => finish(c, 'destroy'));
    client.on('data', (chunk: Buffer) => {
      info.bytesFromClient += chunk.length;
      const named = c.sniff.push(chunk);
      if (named !== undefined && named !== info.name) {
        info.name = named;
        // Its rules may change with its name: apply before forwarding.
        apply(c);
      }
      onChunk(c, c.toServer, upstream, chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      info.bytesFromServer += chunk.length;
      onChunk(c, c.toClient, client, chunk);
    });
    if (closing !== undefined) {
      finish(c, 'destroy');
      return;
    }
    apply(c);
    client.resume();
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port ?? 0, host: '127.0.0.1' }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    setMode(mode, filter) {
      const full = normalise(mode);
      if (filter === undefined) {
        base = full;
        rules = [];
      } else {
        rules.push({ mode: full, filter });
      }
      for (const c of all) apply(c);
    },
    connections() {
      return all.map((c) => ({ ...c.info }));
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of all) finish(c, 'destroy');
        await stopped;
      })();
      return closing;
    },
  };
}

/**
 * Reads RESP commands (arrays of bulk strings) from the start of a client's
 * stream, up to `limit` bytes, and reports the name of each
 * `CLIENT SETNAME <name>`. Inline commands and anything unparsable end the
 * sniffing: names are a convenience, never a reason to break the stream.
 */
class CommandSniffer {
  private buffer = Buffer.alloc(0);
  private seen = 0;
  private done = false;

  constructor(private readonly limit: number) {}

  /** The latest name set by the commands completed in `chunk`, if any. */
  push(chunk: Buffer): string | undefined {
    if (this.done) return undefined;
    this.seen += chunk.length;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let name: string | undefined;
    for (;;) {
      const parsed = parseCommand(this.buffer);
      if (parsed === 'incomplete') break;
      if (parsed === 'invalid') {
        this.stop();
        return name;
      }
      this.buffer = this.buffer.subarray(parsed.length);
      const [command, sub, arg] = parsed.args;
      if (
        command?.toUpperCase() === 'CLIENT' &&
        sub?.toUpperCase() === 'SETNAME' &&
        arg !== undefined
      ) {
        name = arg;
      }
    }
    if (this.seen >= this.limit) this.stop();
    return name;
  }

  private stop(): void {
    this.done = true;
    this.buffer = Buffer.alloc(0);
  }
}

function parseCommand(
  buffer: Buffer,
): { args: string[]; length: number } | 'incomplete' | 'invalid' {
  if (buffer.length === 0) return 'incomplete';
  if (buffer[0] !== 0x2a /* '*' */) return 'invalid';
  const readLine = (from: number): [string, number] | undefined => {
    const end = buffer.indexOf('\r\n', from, 'latin1');
    return end === -1 ? undefined : [buffer.toString('latin1', from, end), end + 2];
  };
  const head = readLine(1);
  if (head === undefined) return buffer.length > 32 ? 'invalid' : 'incomplete';
  const count = Number(head[0]);
  if (!Number.isInteger(count) || count < 0 || count > 1024) return 'invalid';
  let at = head[1];
  const args: string[] = [];
  for (let i = 0; i < count; i += 1) {
    if (at >= buffer.length) return 'incomplete';
    if (buffer[at] !== 0x24 /* '$' */) return 'invalid';
    const line = readLine(at + 1);
    if (line === undefined) return 'incomplete';
    const size = Number(line[0]);
    if (!Number.isInteger(size) || size < 0) return 'invalid';
    if (line[1] + size + 2 > buffer.length) return 'incomplete';
    // Only short arguments matter (command, subcommand, name).
    args.push(size <= 256 ? buffer.toString('utf8', line[1], line[1] + size) : '');
    at = line[1] + size + 2;
  }
  return { args, length: at };
}
