import { describe, expect, it } from 'vitest';
import { renderTable } from '../src/table.ts';

describe('renderTable', () => {
  it('left-aligns the first column and right-aligns the others under a rule', () => {
    const text = renderTable(
      ['metric', 'A', 'B'],
      [
        ['drain', '1', '22.5k'],
        ['p99 (ms)', '3.4'],
      ],
    );
    expect(text.split('\n')).toEqual([
      'metric      A      B',
      '--------  ---  -----',
      'drain       1  22.5k',
      'p99 (ms)  3.4',
    ]);
  });

  it('writes a Markdown table with right-aligned number columns', () => {
    const text = renderTable(['metric', 'A'], [['µs/job', '12']], { style: 'markdown' });
    expect(text.split('\n')).toEqual(['| metric |  A |', '| ------ | -: |', '| µs/job | 12 |']);
  });
});
