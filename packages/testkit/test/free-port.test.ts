import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/index.js';

describe('freePort', () => {
  describe('when called', () => {
    it('returns a port that can be bound on 127.0.0.1', async () => {
      const port = await freePort();
      const server = createServer();

      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });

      expect(port).toBeGreaterThan(0);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('never hands out the same port twice', async () => {
      const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));

      expect(new Set(ports).size).toBe(20);
    });
  });
});
