/**
 * The job search page (GET /search): a form and, for a query, the jobs of
 * every subscriber queue and DLQ that the job index finds by eventId,
 * correlationId, idempotency key or tenantId. Server-rendered, no script;
 * every value is escaped by `html`. Each result links to the job in Bull Board.
 */
import type { FoundJob, JobIndexKind } from '@switchyard/client';
import { html, type SafeHtml } from './escape-html.js';

export const jobIndexKinds: readonly JobIndexKind[] = [
  'eventId',
  'correlationId',
  'idempotencyKey',
  'tenantId',
];

const kindLabels: Record<JobIndexKind, string> = {
  eventId: 'event id',
  correlationId: 'correlation id',
  idempotencyKey: 'idempotency key',
  tenantId: 'tenant',
};

/** Longest query accepted; longer ones are answered 400. */
export const maxSearchQueryLength = 512;

/** Path of the page's stylesheet (served by build-server; CSP allows 'self' only). */
export const stylesheetPath = '/assets/dashboard.css';

export const stylesheet = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{display:flex;gap:1.5rem;align-items:center;padding:.8rem 1.5rem;background:#151a21;color:#e6e9ee}
header a{color:#9cc3ff}
main{padding:1.5rem}
form{display:flex;gap:.5rem;flex-wrap:wrap;margin-bottom:1rem}
input[type=search]{flex:1 1 28rem;padding:.45rem .6rem;font:inherit}
select,button{padding:.45rem .6rem;font:inherit}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid #e3e6eb}
td.reason{white-space:pre-wrap;word-break:break-word;max-width:32rem;font-family:ui-monospace,monospace;font-size:12px}
.dlq{color:#b42318;font-weight:600}
.note{color:#5b6575}
.error{color:#b42318}
code{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
`;

export interface SearchPageInput {
  /** The query as typed; '' shows the form only. */
  query: string;
  kind?: JobIndexKind | undefined;
  results?: FoundJob[] | undefined;
  /** Results were cut at this many. */
  limit: number;
  /** Why the search failed (shown escaped). */
  error?: string | undefined;
  user: string;
  role: string;
  /** Display name of a queue, for the results. */
  displayNameOf: (queue: string) => string;
}

/** Bull Board's page of one job (the board is mounted at /). */
export function jobLink(queue: string, jobId: string): string {
  return `/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
}

const time = (ms: number | undefined): string =>
  ms === undefined || !Number.isFinite(ms) ? '' : new Date(ms).toISOString();

function resultRow(job: FoundJob, displayNameOf: (queue: string) => string): SafeHtml {
  return html`<tr>
    <td>
      <a href="${jobLink(job.queue, job.jobId)}">${displayNameOf(job.queue)}</a
      >${job.deadLetter ? html` <span class="dlq">DLQ</span>` : ''}
    </td>
    <td>
      <a href="${jobLink(job.queue, job.jobId)}"><code>${job.jobId}</code></a>
    </td>
    <td>${job.state}</td>
    <td>${job.matchedBy.map((kind) => kindLabels[kind] ?? kind).join(', ')}</td>
    <td>${job.eventType}</td>
    <td><code>${job.eventId}</code></td>
    <td><code>${job.correlationId}</code></td>
    <td><code>${job.idempotencyKey}</code></td>
    <td>${job.tenantId}</td>
    <td>${job.attemptsMade}</td>
    <td>${time(job.timestamp)}</td>
    <td class="reason">${job.failedReason}</td>
  </tr>`;
}

export function renderSearchPage(input: SearchPageInput): string {
  const { query, kind, results } = input;
  const body =
    input.error !== undefined
      ? html`<p class="error" role="alert">Search failed: ${input.error}</p>`
      : results === undefined
        ? html`<p class="note">
            Type an event id, correlation id, idempotency key or tenant id. Every subscriber queue
            and dead-letter queue is searched.
          </p>`
        : results.length === 0
          ? html`<p class="note" id="no-results">No job found for <code>${query}</code>.</p>`
          : html`<p class="note" id="result-count">
                ${results.length}
                job${results.length === 1 ? '' : 's'}${results.length >= input.limit ? ` (the first ${input.limit})` : ''}.
              </p>
              <table id="results">
                <thead>
                  <tr>
                    <th>queue</th>
                    <th>job</th>
                    <th>state</th>
                    <th>matched by</th>
                    <th>type</th>
                    <th>event id</th>
                    <th>correlation id</th>
                    <th>idempotency key</th>
                    <th>tenant</th>
                    <th>attempts</th>
                    <th>enqueued</th>
                    <th>failed reason</th>
                  </tr>
                </thead>
                <tbody>
                  ${results.map((job) => resultRow(job, input.displayNameOf))}
                </tbody>
              </table>`;
  return html`<!DOCTYPE html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>Search jobs · Switchyard</title>
        <link rel="stylesheet" href="${stylesheetPath}" />
      </head>
      <body>
        <header>
          <strong>Switchyard</strong><a href="/">Queues (Bull Board)</a><span>Search jobs</span
          ><span class="note">${input.user} (${input.role})</span>
        </header>
        <main>
          <form method="get" action="/search" role="search">
            <input
              type="search"
              name="q"
              value="${query}"
              maxlength="${maxSearchQueryLength}"
              placeholder="event id, correlation id, idempotency key or tenant"
              aria-label="id to search for"
              autofocus
            />
            <select name="kind" aria-label="search by">
              <option value="">any id</option>
              ${jobIndexKinds.map((option) => html`<option value="${option}" ${option === kind ? html` selected` : ''}>${kindLabels[option]}</option>`)}
            </select>
            <button type="submit">Search</button>
          </form>
          ${body}
        </main>
      </body>
    </html> `.markup;
}
