/**
 * Every line the logger writes is scrubbed of e-mail-shaped text and Redis
 * URL passwords, wherever they sit (fields no redact path names, messages,
 * error stacks, correlation fields mixed in).
 */
import { describe, expect, it } from 'vitest';
import { createLogger, scrubLogLine, withCorrelation } from '../src/index.js';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'scrub-test',
    level: 'debug',
    destination: { write: (line: string) => void lines.push(line) },
  });
  return { logger, text: () => lines.join('') };
}

describe('log scrubbing', () => {
  it('removes e-mail addresses from messages, unnamed fields, errors and correlation fields', () => {
    const { logger, text } = capture();
    withCorrelation({ correlationId: 'ada@example.com' }, () => {
      logger.info(
        {
          idempotencyKey: 'key-of-grace@example.org',
          nested: { note: 'mail linus@kernel.example.net now' },
        },
        'sent to barbara.l+tag@example.co.uk',
      );
      logger.error({ err: new Error('no mailbox ken@example.com') }, 'failed');
    });
    const output = text();
    for (const address of [
      'ada@example.com',
      'key-of-grace@example.org',
      'linus@kernel.example.net',
      'barbara.l+tag@example.co.uk',
      'ken@example.com',
    ]) {
      expect(output).not.toContain(address);
    }
    expect(output.match(/\[redacted-email\]/g)?.length).toBeGreaterThanOrEqual(6);
    // Lines are still JSON.
    for (const line of output.trim().split('\n'))
      expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it('removes the password of any Redis URL and keeps the rest', () => {
    const { logger, text } = capture();
    logger.warn(
      { url: 'redis://sy-app:s3cr3t-pw@10.0.0.5:6379/0' },
      'connect rediss+sentinel://u:other-pw@h:26379/m failed',
    );
    expect(text()).not.toContain('s3cr3t-pw');
    expect(text()).not.toContain('other-pw');
    expect(text()).toContain('redis://sy-app:***@10.0.0.5:6379/0');
  });

  it('leaves text that only looks close alone', () => {
    const line = '{"msg":"fastify@5.12.8 on 127.0.0.1, user@localhost, @scope/pkg"}';
    expect(scrubLogLine(line)).toBe(line);
  });

  it('scans a 1 MB line in linear time, with or without an @ in it', () => {
    const long = `{"msg":"${'a'.repeat(1_000_000)}@"}`;
    const started = performance.now();
    expect(scrubLogLine(long)).toBe(long);
    expect(scrubLogLine(`{"msg":"${'a'.repeat(1_000_000)}"}`)).toContain('aaa');
    // Unbounded quantifiers would take seconds (quadratic); bounded ones ~10-50 ms here.
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
