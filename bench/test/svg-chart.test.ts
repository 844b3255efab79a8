import { describe, expect, it } from 'vitest';
import { escapeXml, niceMax, renderChart } from '../src/svg-chart.ts';
import { summarize } from '../src/stats.ts';

describe('renderChart', () => {
  const chart = renderChart(
    [
      {
        title: 'Throughput',
        unit: 'jobs/s',
        categories: ['A limit', 'B <BullMQ>'],
        series: [
          { name: 'drain', values: [summarize([100, 120, 110]), summarize([50])] },
          { name: 'e2e', values: [undefined, summarize([40])] },
        ],
      },
    ],
    { title: 'bench & co' },
  );

  it('is one SVG document with escaped text', () => {
    expect(chart.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(chart.trimEnd().endsWith('</svg>')).toBe(true);
    expect(chart).toContain('bench &amp; co');
    expect(chart).toContain('B &lt;BullMQ&gt;');
    expect(chart).not.toContain('<BullMQ>');
  });

  it('draws one bar per present value and a whisker only where there is a range', () => {
    // Bars carry a <title> tooltip; legend swatches do not.
    expect(chart.match(/<\/rect>/g)?.length).toBe(3);
    expect(chart.match(/<title>/g)?.length).toBe(3);
    expect(
      chart.match(/<line x1="[\d.]+" x2="[\d.]+" y1="[\d.]+" y2="[\d.]+" stroke="#222"/g)?.length,
    ).toBe(1);
  });

  it('scales the tallest bar to the axis maximum', () => {
    // max 120 -> axis 200: the 110 median is 55% of the plot height (170 px).
    const bar =
      /<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#4e79a7"><title>A limit/.exec(
        chart,
      );
    expect(Number(bar?.[2])).toBeCloseTo(0.55 * 170, 0);
  });
});

describe('helpers', () => {
  it('rounds the axis up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect([niceMax(0), niceMax(0.7), niceMax(120), niceMax(2_400), niceMax(31_000)]).toEqual([
      1, 1, 200, 2_500, 50_000,
    ]);
  });

  it('escapes the five XML characters', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;',
    );
  });
});

describe('a log-scale panel', () => {
  it('puts a grid line at each power of ten from 0.1 up past the largest value', () => {
    const chart = renderChart(
      [
        {
          title: 'Latency',
          unit: 'ms',
          scale: 'log',
          categories: ['C'],
          series: [{ name: 'p99', values: [summarize([2_000])] }],
        },
      ],
      { title: 't' },
    );
    expect(chart).toContain('log scale');
    const labels = [...chart.matchAll(/fill="#555">([^<]+)<\/text>/g)].map((m) => m[1]);
    expect(labels).toEqual(['0.1', '1', '10', '100', '1000', '10k']);
  });
});
