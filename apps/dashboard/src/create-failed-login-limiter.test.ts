import { describe, expect, it } from 'vitest';
import { clientKey, createFailedLoginLimiter } from './create-failed-login-limiter.js';

describe('clientKey', () => {
  it('keeps IPv4 (also IPv4-mapped) and groups IPv6 by /64', () => {
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:0db8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });
});

describe('createFailedLoginLimiter', () => {
  it('refuses a client after maxFailures in one window, until the window ends', () => {
    let now = 1_000;
    const limiter = createFailedLoginLimiter({ maxFailures: 2, windowMs: 60_000, now: () => now });
    limiter.recordFailure('192.0.2.1');
    expect(limiter.retryAfterSeconds('192.0.2.1')).toBe(0);
    limiter.recordFailure('192.0.2.1');
    now = 31_500;
    expect(limiter.retryAfterSeconds('192.0.2.1')).toBe(30);
    expect(limiter.retryAfterSeconds('192.0.2.2')).toBe(0);
    now = 61_000;
    expect(limiter.retryAfterSeconds('192.0.2.1')).toBe(0);
  });

  it('tracks at most maxClients, forgetting the oldest window first', () => {
    const limiter = createFailedLoginLimiter({ maxFailures: 1, maxClients: 2 });
    for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) limiter.recordFailure(address);
    expect(limiter.retryAfterSeconds('192.0.2.1')).toBe(0);
    expect(limiter.retryAfterSeconds('192.0.2.2')).toBeGreaterThan(0);
    expect(limiter.retryAfterSeconds('192.0.2.3')).toBeGreaterThan(0);
  });
});
