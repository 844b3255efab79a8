import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildSandbox } from '../src/index.js';
import { putControl } from './helpers.js';

/** A destination that keeps every pino line, parsed. */
function capture(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { stream, lines };
}

let app: FastifyInstance;

afterEach(async () => {
  await app.close();
});

describe('the sandbox log', () => {
  describe('when control changes', () => {
    it('records the change as a JSON line', async () => {
      const { stream, lines } = capture();
      app = buildSandbox({ logger: { level: 'info', stream } });

      await putControl(app, { errorRate: 0.2 });

      expect(lines).toContainEqual(
        expect.objectContaining({ level: 30, msg: 'control updated', control: { errorRate: 0.2 } }),
      );
    });
  });

  describe('when a route fails unexpectedly', () => {
    it('answers 500 in the error format and logs the error', async () => {
      const { stream, lines } = capture();
      app = buildSandbox({ logger: { level: 'info', stream } });
      app.get('/broken', () => {
        throw new Error('disk on fire');
      });

      const response = await app.inject({ method: 'GET', url: '/broken' });

      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({
        error: { code: 'SY_ERR_INTERNAL', message: 'disk on fire' },
      });
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 50,
          msg: 'unexpected error',
          err: expect.objectContaining({ message: 'disk on fire' }) as unknown,
        }),
      );
    });
  });
});
