/**
 * The block printed once the stack is up: where everything is, the
 * credentials, and a request to paste. It is printed without line tags so
 * that the commands can be copied as they are.
 *
 * Generated secrets are printed in full (there is no other way to learn
 * them); secrets that came from the environment are masked, and the curl
 * example reads the key from the user's own API_KEYS instead.
 */
import { maskSecret, type Credentials } from './credentials.js';
import type { ResolvedRedis } from './resolve-redis.js';
import type { PlannedChild } from './stack-plan.js';
import type { StackMode } from './env.js';

export interface SummaryInput {
  children: readonly PlannedChild[];
  /** Names of children that did not answer /readyz in time. */
  notReady: ReadonlySet<string>;
  readyTimeoutMs: number;
  redis: Pick<ResolvedRedis, 'url' | 'origin'>;
  credentials: Credentials;
  /** Dev mode adds a line on reloading. Default `start`. */
  mode?: StackMode;
}

const EXAMPLE_EVENT =
  '{"type":"user.signed_up","version":1,"data":{"userId":"u_1","email":"ada@example.com","plan":"pro"}}';

export function formatSummary(input: SummaryInput): string {
  const { children, notReady, credentials } = input;
  const status = (child: PlannedChild): string =>
    notReady.has(child.name)
      ? `   NOT READY after ${input.readyTimeoutMs / 1000}s (see its lines above)`
      : '';
  const rows: [string, string][] = [];
  const byKind = (kind: PlannedChild['kind']) => children.filter((child) => child.kind === kind);
  for (const child of byKind('producer'))
    rows.push(['producer', `${child.url}   POST /v1/events, GET /openapi.json${status(child)}`]);
  for (const child of byKind('dashboard')) rows.push(['dashboard', `${child.url}${status(child)}`]);
  for (const child of byKind('sandbox'))
    rows.push(['sandbox', `${child.url}   GET /ledger, PUT /control${status(child)}`]);
  for (const child of byKind('worker'))
    rows.push([child.name, `${child.url}/healthz   (/readyz, /metrics)${status(child)}`]);
  rows.push(['redis', `${redactUrl(input.redis.url)}   ${input.redis.origin}`]);
  const width = Math.max(...rows.map(([label]) => label.length));

  const producer = byKind('producer')[0];
  const dashboard = byKind('dashboard')[0];
  const keyLine = credentials.generated.apiKeys
    ? `  API key:          ${credentials.apiKeys[0] ?? ''}   (generated for this run; set API_KEYS to choose your own)`
    : `  API keys:         from API_KEYS (${credentials.apiKeys.length}): ${credentials.apiKeys.map(maskSecret).join(', ')}`;
  const loginLine = credentials.generated.dashboardPassword
    ? `  Dashboard login:  ${credentials.dashboardUser} / ${credentials.dashboardPassword}   (generated; set DASHBOARD_PASSWORD to choose your own)`
    : `  Dashboard login:  ${credentials.dashboardUser} / (from DASHBOARD_PASSWORD) ${maskSecret(credentials.dashboardPassword)}`;
  const exportKey = credentials.generated.apiKeys
    ? `export KEY='${credentials.apiKeys[0] ?? ''}'`
    : 'export KEY="${API_KEYS%%,*}"';

  const rule = '─'.repeat(72);
  const lines = [
    rule,
    notReady.size === 0
      ? `Switchyard is running: ${children.length} processes. Ctrl-C stops everything.`
      : `Switchyard is running, but ${notReady.size} of ${children.length} processes are not ready yet. Ctrl-C stops everything.`,
    ...(input.mode === 'dev'
      ? ['Dev mode: each app restarts when a file it imports (packages/* too) changes.']
      : []),
    '',
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    '',
    'Credentials',
    keyLine,
    ...(dashboard ? [loginLine] : []),
    '',
    ...(producer
      ? [
          'Try it',
          `  ${exportKey}`,
          `  curl -sS -X POST ${producer.url}/v1/events -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d '${EXAMPLE_EVENT}'`,
        ]
      : []),
    rule,
  ];
  return `${lines.join('\n')}\n`;
}

/** A password in a Redis URL is not for the terminal. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]+@/, '$1****@');
}
