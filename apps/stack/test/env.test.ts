import { describe, expect, it } from 'vitest';
import { parseStackEnv } from '../src/env.js';

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
    it('splits it on commas and trims the keys', () => {
      expect(parseStackEnv({ API_KEYS: ' k1 ,k2,, ' }).API_KEYS).toEqual(['k1', 'k2']);
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
          message: expect.stringContaining(`${variable}:`) as unknown,
        }),
      );
    });
  });
});
