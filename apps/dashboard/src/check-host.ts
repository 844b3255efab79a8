/**
 * DNS-rebinding defence: the dashboard answers only requests addressed
 * (by their `Host` header) to a name it knows. A page on another site whose
 * name an attacker re-points at the dashboard's address still sends that
 * site's name as `Host`, so it is refused before any login check, and the
 * CSRF check (which trusts the Host when DASHBOARD_ORIGINS is unset) never
 * sees it.
 *
 * Known names, port ignored, case-insensitive: `localhost`, `127.0.0.1` and
 * `[::1]` (a rebinding page cannot send these), the address bound (`HOST`)
 * unless it is every interface (`0.0.0.0`, `::`), the host names of
 * DASHBOARD_ORIGINS, and DASHBOARD_HOSTS. DASHBOARD_HOSTS=`*` turns the check
 * off (for a proxy that already checks `Host` and rewrites it to anything).
 */
import { isIPv6 } from 'node:net';
import type { DashboardConfig } from './env.js';

/** Host names always answered. */
export const loopbackHosts: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** Every Host is answered. */
export const anyHost = '*';

/** The host name a config entry or bound address is compared as: lower case, IPv6 in brackets, no trailing dot. */
export function normalizeHostName(name: string): string {
  const lower = name.toLowerCase().replace(/\.$/, '');
  return isIPv6(lower) ? `[${lower}]` : lower;
}

/** The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`), normalized. */
export function hostNameOf(host: string): string {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return normalizeHostName(name);
}

/** The names this configuration answers for, or `'*'` for any. */
export function allowedHosts(
  config: Pick<DashboardConfig, 'HOST' | 'DASHBOARD_ORIGINS' | 'DASHBOARD_HOSTS'>,
): ReadonlySet<string> | typeof anyHost {
  if (config.DASHBOARD_HOSTS.includes(anyHost)) return anyHost;
  const hosts = new Set(loopbackHosts);
  const bound = normalizeHostName(config.HOST);
  if (bound !== '0.0.0.0' && bound !== '[::]') hosts.add(bound);
  for (const origin of config.DASHBOARD_ORIGINS) hosts.add(new URL(origin).hostname);
  for (const name of config.DASHBOARD_HOSTS) hosts.add(normalizeHostName(name));
  return hosts;
}

/** undefined when `host` (the Host header, '' when absent) is allowed, else the reason it is refused. */
export function hostProblem(
  host: string,
  allowed: ReadonlySet<string> | typeof anyHost,
): string | undefined {
  if (allowed === anyHost) return undefined;
  if (host === '') return 'the request has no Host header';
  const name = hostNameOf(host);
  if (allowed.has(name)) return undefined;
  return `Host ${JSON.stringify(name.slice(0, 100))} is not a name of this dashboard (DASHBOARD_HOSTS)`;
}
