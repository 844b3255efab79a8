import { describe, expect, it } from 'vitest';
import { ConfigError } from '@switchyard/observability';
import { parseSandboxEnv } from '../src/index.js';

describe('parseSandboxEnv', () => {
  describe('when nothing is set', () => {
    it('uses the documented defaults', () => {
      expect(parseSandboxEnv({})).toEqual({
        SANDBOX_PORT: 3002,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      });
    });

    it('treats empty strings as unset', () => {
      expect(parseSandboxEnv({ SANDBOX_PORT: '', LOG_LEVEL: '' })).toMatchObject({
        SANDBOX_PORT: 3002,
        LOG_LEVEL: 'info',
      });
    });
  });

  describe('when values are set', () => {
    it('parses them', () => {
      expect(
        parseSandboxEnv({ SANDBOX_PORT: '4000', HOST: '0.0.0.0', LOG_LEVEL: 'debug' }),
      ).toEqual({
        SANDBOX_PORT: 4000,
        HOST: '0.0.0.0',
        LOG_LEVEL: 'debug',
      });
    });
  });

  describe('when a value is bad', () => {
    it.each([
      ['SANDBOX_PORT', 'abc'],
      ['SANDBOX_PORT', '70000'],
      ['SANDBOX_PORT', ' 1'],
      ['LOG_LEVEL', 'loud'],
    ])('throws a ConfigError naming %s (%j)', (variable, value) => {
      expect(() => parseSandboxEnv({ [variable]: value })).toThrow(ConfigError);
      expect(() => parseSandboxEnv({ [variable]: value })).toThrow(
        new RegExp(`^invalid configuration:\\n  ${variable}: `),
      );
    });
  });
});
