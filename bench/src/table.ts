/** A plain-text table with aligned columns, for the terminal and for Markdown. Pure. */

export interface TableOptions {
  /** 'text': spaces and a rule under the header; 'markdown': a GitHub pipe table. Default 'text'. */
  style?: 'text' | 'markdown';
}

/** Renders `header` and `rows` (cells are strings; missing cells are empty). */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string {
  const columns = Math.max(header.length, ...rows.map((row) => row.length));
  const cell = (row: readonly string[], index: number) => row[index] ?? '';
  const widths = Array.from({ length: columns }, (_, index) =>
    Math.max(width(cell(header, index)), ...rows.map((row) => width(cell(row, index)))),
  );
  const pad = (text: string, index: number) =>
    index === 0
      ? text + ' '.repeat(widths[index]! - width(text))
      : ' '.repeat(widths[index]! - width(text)) + text;
  if (options.style === 'markdown') {
    const line = (row: readonly string[]) =>
      `| ${widths.map((_, index) => pad(cell(row, index), index)).join(' | ')} |`;
    const rule = `|${widths.map((w, index) => (index === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`;
    return [line(header), rule, ...rows.map(line)].join('\n');
  }
  const line = (row: readonly string[]) =>
    widths
      .map((_, index) => pad(cell(row, index), index))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Display width: code points, so "–" and "µ" count as one column. */
function width(text: string): number {
  return [...text].length;
}
