import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../src/index.js';

describe('parseEnv', () => {
  describe('when nothing is set', () => {
    it('uses the documented defaults', () => {
      expect(parseEnv({})).toEqual({ SANDBOX_PORT: 3002, HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    });

    it('treats empty strings as unset', () => {
      expect(parseEnv({ SANDBOX_PORT: '', LOG_LEVEL: '' })).toMatchObject({
        SANDBOX_PORT: 3002,
        LOG_LEVEL: 'info',
      });
    });
  });

  describe('when values are set', () => {
    it('parses them', () => {
      expect(parseEnv({ SANDBOX_PORT: '4000', HOST: '0.0.0.0', LOG_LEVEL: 'debug' })).toEqual({
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
      expect(() => parseEnv({ [variable]: value })).toThrow(ConfigError);
      expect(() => parseEnv({ [variable]: value })).toThrow(
        new RegExp(`^invalid configuration:\\n  ${variable}: `),
      );
    });
  });
});
