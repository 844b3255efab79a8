/**
 * Per-client limit on failed logins, in memory.
 *
 * Guarantees:
 * - a client (an IPv4 address, or an IPv6 /64, since one host is handed a
 *   whole /64) with `maxFailures` failed logins inside one window of
 *   `windowMs` (fixed, starting at its first failure) is refused until the
 *   window ends; `retryAfterSeconds` says how long that is;
 * - at most `maxClients` clients are tracked; beyond that the client whose
 *   window started first is forgotten, so memory stays bounded whatever
 *   addresses an attacker rotates through (a forgotten client starts over).
 * Behind a reverse proxy every request comes from the proxy's address, so
 * the limit counts all clients together.
 */
import { isIPv6 } from 'node:net';

export interface FailedLoginLimiterOptions {
  /** Failed logins a client may make per window. Default 10. */
  maxFailures?: number;
  /** Window length. Default 60 000 ms. */
  windowMs?: number;
  /** Most clients tracked at once. Default 10 000. */
  maxClients?: number;
  /** Clock. Default Date.now. */
  now?: () => number;
}

export interface FailedLoginLimiter {
  /** Whole seconds until `address` may try again; 0 when it may try now. */
  retryAfterSeconds(address: string): number;
  /** Counts one failed login of `address`. */
  recordFailure(address: string): void;
}

/** The key an address is counted under: IPv4 as is, IPv6 by its /64. */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  if (mapped !== undefined) return mapped;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('%', 1)[0]!.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [
          ...headGroups,
          ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'),
          ...tailGroups,
        ];
  const prefix = groups.slice(0, 4).map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
  return `${prefix.join(':')}::/64`;
}

export function createFailedLoginLimiter(
  options: FailedLoginLimiterOptions = {},
): FailedLoginLimiter {
  const maxFailures = options.maxFailures ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const maxClients = options.maxClients ?? 10_000;
  const now = options.now ?? Date.now;
  /** Client key -> its window; Map order is window start order (oldest first). */
  const windows = new Map<string, { startedAt: number; failures: number }>();

  return {
    retryAfterSeconds(address) {
      const key = clientKey(address);
      const window = windows.get(key);
      if (window === undefined) return 0;
      const endsAt = window.startedAt + windowMs;
      const at = now();
      if (at >= endsAt) {
        windows.delete(key);
        return 0;
      }
      return window.failures >= maxFailures ? Math.max(1, Math.ceil((endsAt - at) / 1_000)) : 0;
    },
    recordFailure(address) {
      const key = clientKey(address);
      const at = now();
      const window = windows.get(key);
      if (window !== undefined && at < window.startedAt + windowMs) {
        window.failures += 1;
        return;
      }
      windows.delete(key);
      windows.set(key, { startedAt: at, failures: 1 });
      while (windows.size > maxClients) {
        const oldest = windows.keys().next().value;
        if (oldest === undefined) break;
        windows.delete(oldest);
      }
    },
  };
}
