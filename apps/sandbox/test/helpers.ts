import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/** A POST to a service, as a worker makes it. `key: null` sends no Idempotency-Key. */
export function callService(
  app: FastifyInstance,
  service: string,
  key: string | null,
  body: unknown = { to: 'ada@example.com' },
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/${service}`,
    headers: key === null ? {} : { 'idempotency-key': key },
    payload: body as Record<string, unknown>,
  });
}

export function putControl(app: FastifyInstance, body: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'PUT', url: '/control', payload: body as Record<string, unknown> });
}

/** Returns `values` in order, then fails loudly: a test that draws more than it scripted is wrong. */
export function scripted(values: number[]): () => number {
  let next = 0;
  return () => {
    const value = values[next++];
    if (value === undefined)
      throw new Error(`scripted random exhausted after ${values.length} draws`);
    return value;
  };
}

/** Seeded PRNG (mulberry32), so a statistical test gives the same draws every run. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock tests move by hand. */
export function manualClock(start = Date.parse('2030-01-01T00:00:00.000Z')): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}
