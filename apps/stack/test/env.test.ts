import { describe, expect, it } from 'vitest';
import { ConfigError } from '@switchyard/observability';
import { parseStackEnv } from '../src/env.js';

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('parseStackEnv', () => {
  describe('when nothing is set', () => {
    it('uses the documented defaults', () => {
      const env = parseStackEnv({});
      expect([env.REDIS_URL, env.API_KEYS, env.DASHBOARD_PASSWORD, env.STACK_ROOT]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      expect(env).toMatchObject({
        STACK_REDIS_PORT: 6379,
        PRODUCER_PORT: 3000,
        DASHBOARD_PORT: 3001,
        SANDBOX_PORT: 3002,
        WORKER_HEALTH_PORT_BASE: 3100,
        WORKER_REPLICAS: 2,
        DASHBOARD_USER: 'admin',
        LOG_LEVEL: 'info',
        STACK_SHUTDOWN_TIMEOUT_MS: 15_000,
        STACK_RESTART_DELAY_MS: 500,
        STACK_RESTART_MAX_DELAY_MS: 30_000,
        STACK_RESTART_RESET_AFTER_MS: 60_000,
      });
    });

    it('treats empty values as unset', () => {
      const env = parseStackEnv({ WORKER_REPLICAS: '', API_KEYS: '' });
      expect(env.WORKER_REPLICAS).toBe(2);
      expect(env.API_KEYS).toBeUndefined();
    });
  });

  describe('when API_KEYS is set', () => {
    const first = 'sy_first-key-0123456789';
    const second = 'sy_second-key-0123456789';

    it('splits it on commas and trims the keys', () => {
      expect(parseStackEnv({ API_KEYS: ` ${first} ,${second},, ` }).API_KEYS).toEqual([
        first,
        second,
      ]);
    });

    it('accepts exactly what the producer accepts: 16 to 256 visible characters, up to 100 keys', () => {
      const keys = Array.from({ length: 100 }, (_, i) => `${'k'.repeat(14)}${i}`.padEnd(16, '!'));
      expect(parseStackEnv({ API_KEYS: keys.join(',') }).API_KEYS).toHaveLength(100);
      expect(parseStackEnv({ API_KEYS: '~'.repeat(256) }).API_KEYS).toEqual(['~'.repeat(256)]);
    });

    // Each of these would pass the stack's old check and crash-loop the producer.
    it.each([
      ['a key under 16 characters', `${first},short-key`, /at least 16 characters/],
      ['a key over 256 characters', 'k'.repeat(257), /at most 256 characters/],
      ['a key with a non-ASCII character', 'sy_clé-0123456789abc', /visible ASCII/],
      [
        'more than 100 keys',
        Array.from({ length: 101 }, (_, i) => `key-number-${String(i).padStart(5, '0')}`).join(','),
        /at most 100 keys/,
      ],
    ])('refuses %s, naming API_KEYS and not echoing the keys', (_case, value, reason) => {
      const error = catchError(() => parseStackEnv({ API_KEYS: value }));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(/^ {2}API_KEYS(\.\d+)?: /m);
      expect((error as ConfigError).message).toMatch(reason);
      expect((error as ConfigError).message).not.toContain(value.split(',').at(-1) ?? value);
    });
  });

  describe('when a value is bad', () => {
    it.each([
      ['WORKER_REPLICAS', '0'],
      ['WORKER_REPLICAS', '33'],
      ['WORKER_REPLICAS', 'two'],
      ['PRODUCER_PORT', '70000'],
      ['REDIS_URL', 'localhost:6379'],
      ['LOG_LEVEL', 'loud'],
      ['API_KEYS', ' , '],
      ['STACK_ROOT', 'relative/path'],
    ])('names %s=%s in a ConfigError', (variable, value) => {
      expect(() => parseStackEnv({ [variable]: value })).toThrow(
        expect.objectContaining({
          code: 'SY_ERR_CONFIG',
          message: expect.stringContaining(`  ${variable}:`) as unknown,
        }),
      );
    });
  });
});
