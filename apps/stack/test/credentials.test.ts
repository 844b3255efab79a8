import { describe, expect, it } from 'vitest';
import {
  API_KEY_PREFIX,
  generateSecret,
  maskSecret,
  resolveCredentials,
} from '../src/credentials.js';

// Keys a producer would accept (16+ visible characters), as parseStackEnv guarantees.
const KEY_1 = 'sy_test-key-one-0123456789';
const KEY_2 = 'sy_test-key-two-0123456789';

describe('resolveCredentials', () => {
  describe('when API_KEYS and DASHBOARD_PASSWORD are unset', () => {
    it('generates a URL-safe API key of at least 32 characters and a dashboard password', () => {
      const credentials = resolveCredentials({ dashboardUser: 'admin' });
      expect(credentials.apiKeys).toHaveLength(1);
      const [key] = credentials.apiKeys;
      expect(key).toMatch(/^sy_[A-Za-z0-9_-]+$/);
      expect((key ?? '').length - API_KEY_PREFIX.length).toBeGreaterThanOrEqual(32);
      expect(credentials.dashboardPassword).toMatch(/^[A-Za-z0-9_-]{32,}$/);
      expect(credentials.generated).toEqual({ apiKeys: true, dashboardPassword: true });
    });

    it('generates different values on every run', () => {
      const first = resolveCredentials({ dashboardUser: 'admin' });
      const second = resolveCredentials({ dashboardUser: 'admin' });
      expect(first.apiKeys[0]).not.toBe(second.apiKeys[0]);
      expect(first.dashboardPassword).not.toBe(second.dashboardPassword);
      expect(first.apiKeys[0]).not.toContain(first.dashboardPassword);
    });

    it('draws on the random source it is given (crypto.randomBytes by default)', () => {
      const zeros = (size: number): Buffer => Buffer.alloc(size);
      const credentials = resolveCredentials({ dashboardUser: 'admin' }, zeros);
      expect(credentials.apiKeys[0]).toBe(`sy_${'A'.repeat(43)}`);
      expect(credentials.dashboardPassword).toBe('A'.repeat(32));
    });
  });

  describe('when they are set', () => {
    it('passes them through untouched and generates nothing', () => {
      const credentials = resolveCredentials({
        apiKeys: [KEY_1, KEY_2],
        dashboardUser: 'ops',
        dashboardPassword: 'pw',
      });
      expect(credentials).toMatchObject({
        apiKeys: [KEY_1, KEY_2],
        dashboardUser: 'ops',
        dashboardPassword: 'pw',
      });
      expect(credentials.generated).toEqual({ apiKeys: false, dashboardPassword: false });
    });
  });

  describe('when only one of them is set', () => {
    it('generates just the other', () => {
      const credentials = resolveCredentials({ apiKeys: [KEY_1], dashboardUser: 'admin' });
      expect(credentials.generated).toEqual({ apiKeys: false, dashboardPassword: true });
      expect(credentials.apiKeys).toEqual([KEY_1]);
    });
  });
});

describe('generateSecret', () => {
  it('encodes the requested bytes as base64url', () => {
    expect(generateSecret(32)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateSecret(3, () => Buffer.from([0xfb, 0xff, 0xbf]))).toBe('-_-_');
  });
});

describe('maskSecret', () => {
  it('shows only the start and the length of a secret', () => {
    expect(maskSecret('sy_abcdefghijklmnop')).toBe('sy_a… (19 characters)');
    expect(maskSecret('short')).toBe('********');
  });
});
