import { describe, expect, it } from 'vitest';
import { sameOriginProblem } from './check-same-origin.js';

const host = 'dash.example:3001';
const check = (headers: Record<string, string>, configured: string[] = []) =>
  sameOriginProblem({ headers, host }, configured);

describe('sameOriginProblem', () => {
  it('accepts an Origin equal to the address the request was sent to, over http or https', () => {
    expect(check({ origin: 'http://dash.example:3001' })).toBeUndefined();
    expect(check({ origin: 'https://dash.example:3001' })).toBeUndefined();
    expect(check({ origin: 'HTTP://DASH.EXAMPLE:3001' })).toBeUndefined();
  });

  it('refuses another origin, another port, and the opaque origin "null"', () => {
    expect(check({ origin: 'https://evil.example' })).toMatch(/is not the dashboard's/);
    expect(check({ origin: 'http://dash.example:3002' })).toMatch(/is not the dashboard's/);
    expect(check({ origin: 'null' })).toMatch(/is not the dashboard's/);
  });

  it('uses only DASHBOARD_ORIGINS when they are configured', () => {
    expect(check({ origin: 'https://ops.example' }, ['https://ops.example'])).toBeUndefined();
    expect(check({ origin: 'http://dash.example:3001' }, ['https://ops.example'])).toBeDefined();
  });

  it('falls back to Sec-Fetch-Site, then Referer, when Origin is absent', () => {
    expect(check({ 'sec-fetch-site': 'same-origin' })).toBeUndefined();
    expect(check({ 'sec-fetch-site': 'same-site' })).toMatch(/not same-origin/);
    expect(check({ 'sec-fetch-site': 'none' })).toMatch(/not same-origin/);
    expect(check({ referer: 'http://dash.example:3001/queue/billing' })).toBeUndefined();
    expect(check({ referer: 'http://evil.example/dash.example:3001' })).toMatch(/Referer/);
    expect(check({ referer: 'not a url' })).toMatch(/Referer/);
  });

  it('refuses a request with none of them', () => {
    expect(check({})).toMatch(/must carry an Origin header/);
  });
});
