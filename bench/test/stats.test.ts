import { describe, expect, it } from 'vitest';
import { formatNumber, formatSummary, ratio, summarize } from '../src/stats.ts';

describe('summarize', () => {
  it('gives the median and range of an odd count', () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
  });

  it('averages the middle two of an even count', () => {
    expect(summarize([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
  });

  it('leaves out values that are not finite, and has nothing for none', () => {
    expect(summarize([NaN, 2, Infinity])).toEqual({ median: 2, min: 2, max: 2, n: 1 });
    expect(summarize([NaN])).toBeUndefined();
  });
});

describe('ratio', () => {
  it('divides medians and refuses a zero or missing denominator', () => {
    expect(ratio(summarize([2, 4, 6]), summarize([2]))).toBe(2);
    expect(ratio(summarize([2]), summarize([0]))).toBeUndefined();
    expect(ratio(undefined, summarize([1]))).toBeUndefined();
  });
});

describe('formatting', () => {
  it('keeps three significant digits and writes thousands as k', () => {
    expect(formatNumber(12_345)).toBe('12.3k');
    expect(formatNumber(1_250_000)).toBe('1.25M');
    expect(formatNumber(8_064)).toBe('8064');
    expect(formatNumber(0.7449)).toBe('0.74');
    expect(formatNumber(33.6)).toBe('33.6');
    expect(formatNumber(undefined)).toBe('—');
  });

  it('shows the spread of repetitions as ± half the range', () => {
    expect(formatSummary(summarize([90, 100, 110]))).toBe('100 ±10%');
    expect(formatSummary(summarize([7]))).toBe('7');
    expect(formatSummary(undefined)).toBe('—');
  });
});
