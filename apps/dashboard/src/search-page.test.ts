import { describe, expect, it } from 'vitest';
import type { FoundJob } from '@switchyard/client';
import { escapeHtml, html } from './escape-html.js';
import { jobLink, renderSearchPage } from './search-page.js';

const hostile = `<img src=x onerror="window.__xss=1"><script>alert('x')</script>\`&`;

describe('escapeHtml', () => {
  it('leaves no character that can open a tag or close an attribute', () => {
    expect(escapeHtml(hostile)).not.toMatch(/[<>"'`]/);
    expect(escapeHtml('a&b')).toBe('a&amp;b');
    expect(html`<p title="${hostile}">${hostile}</p>`.markup).toBe(
      `<p title="${escapeHtml(hostile)}">${escapeHtml(hostile)}</p>`,
    );
  });
});

describe('renderSearchPage', () => {
  const job: FoundJob = {
    queue: 'notifications.dlq',
    jobId: `e1/${hostile}`,
    deadLetter: true,
    state: 'waiting',
    matchedBy: ['correlationId'],
    eventType: hostile,
    eventId: hostile,
    tenantId: hostile,
    correlationId: hostile,
    idempotencyKey: hostile,
    attemptsMade: 3,
    timestamp: 0,
    failedReason: hostile,
  };

  it('escapes every value and the query, and links each job to Bull Board', () => {
    const page = renderSearchPage({
      query: hostile,
      results: [job],
      limit: 100,
      user: hostile,
      role: 'viewer',
      displayNameOf: () => hostile,
    });
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<script');
    expect(page).toContain(escapeHtml(hostile));
    expect(page).toContain(`href="${escapeHtml(jobLink(job.queue, job.jobId))}"`);
    expect(jobLink(job.queue, job.jobId)).toBe(
      `/queue/notifications.dlq/${encodeURIComponent(job.jobId)}`,
    );
  });

  it('says when nothing was found, and shows an error escaped', () => {
    const base = {
      query: 'x',
      limit: 100,
      user: 'u',
      role: 'admin',
      displayNameOf: (q: string) => q,
    };
    expect(renderSearchPage({ ...base, results: [] })).toContain('No job found');
    const failed = renderSearchPage({ ...base, error: hostile });
    expect(failed).toContain('Search failed');
    expect(failed).not.toContain('<img');
  });
});
