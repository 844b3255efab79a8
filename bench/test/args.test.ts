import { describe, expect, it } from 'vitest';
import { BenchArgumentError, parseArgs } from '../src/args.ts';

describe('parseArgs', () => {
  it('runs the full benchmark by default', () => {
    const options = parseArgs([]);
    expect(options).toMatchObject({
      quick: false,
      repetitions: 5,
      jobs: 10_000,
      rates: [1_000, 3_000],
      tiers: ['A', 'B', 'C', 'D'],
    });
  });

  it('makes --quick smaller, wherever the flag stands', () => {
    const options = parseArgs(['--reps', '2', '--quick']);
    expect(options).toMatchObject({
      quick: true,
      jobs: 2_000,
      rateWindowMs: 1_200,
      repetitions: 2,
    });
  });

  it('takes values after a space or an equals sign, and tiers in canonical order', () => {
    const options = parseArgs([
      '--rates=500,2000',
      '--tiers',
      'd,b',
      '--out',
      '/tmp/x',
      '--jobs=100',
    ]);
    expect(options).toMatchObject({
      rates: [500, 2_000],
      tiers: ['B', 'D'],
      outDir: '/tmp/x',
      jobs: 100,
    });
  });

  it('ignores the -- that pnpm may pass through', () => {
    expect(parseArgs(['--', '--quick']).quick).toBe(true);
  });

  describe('when an argument is wrong', () => {
    it.each([
      [['--reps', '0']],
      [['--reps', '1.5']],
      [['--jobs']],
      [['--rates', '1000,x']],
      [['--tiers', 'A,E']],
      [['--fast']],
      [['--out', '']],
    ])('refuses %j with a BenchArgumentError', (argv) => {
      expect(() => parseArgs(argv)).toThrow(BenchArgumentError);
    });
  });
});
