/**
 * One PING over a raw socket. A client library would retry, queue and
 * reconnect; the stack wants the opposite: one bounded look at a port, with a
 * clear answer, and nothing left open afterwards.
 */
import { connect } from 'node:net';

/**
 * - `pong`: a Redis that accepts us.
 * - `auth-required`: a Redis that wants a password (NOAUTH).
 * - `no-answer`: nothing listening, no reply in time, or not a Redis.
 */
export type PingResult = 'pong' | 'auth-required' | 'no-answer';

export function pingRedis(host: string, port: number, timeoutMs = 1_000): Promise<PingResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const finish = (result: PingResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('no-answer'), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      const end = reply.indexOf('\r\n');
      if (end === -1) {
        if (reply.length > 512) finish('no-answer');
        return;
      }
      const line = reply.slice(0, end);
      if (line === '+PONG') finish('pong');
      else if (/^-(NOAUTH|WRONGPASS)/.test(line) || /^-ERR.*auth/i.test(line))
        finish('auth-required');
      else finish('no-answer');
    });
    socket.once('error', () => finish('no-answer'));
    socket.once('close', () => finish('no-answer'));
  });
}
