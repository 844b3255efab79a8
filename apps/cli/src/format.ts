/**
 * Plain-text output helpers: aligned tables, short durations, one-line text.
 * Text from Redis (ids, tenants, failure reasons that carry downstream
 * bodies) goes through `printable` on its way to a terminal: a control
 * character in it could otherwise move the cursor, recolour or retitle the
 * terminal, or hide the rest of the line.
 */

/**
 * C0 controls and DEL, C1 controls (U+0080-U+009F: some terminals read U+009B
 * as CSI), and the Unicode bidi controls that reorder what follows them on
 * screen (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
 */
const controlCharacters =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character (see above) replaced by `?`. */
export function printable(text: string): string {
  return text.replace(controlCharacters, '?');
}

/**
 * Left-aligned columns separated by two spaces; numbers right-aligned. Cells
 * are made printable (a tab or newline in a cell would break the columns).
 */
export function formatTable(
  headers: readonly string[],
  rawRows: readonly (readonly string[])[],
): string {
  const rows = rawRows.map((row) => row.map(printable));
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const numeric = headers.map(
    (_, column) => rows.length > 0 && rows.every((row) => /^-?[\d.]+$|^-$/.test(row[column] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        numeric[column] === true ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** 950ms, 12s, 3m04s, 2h05m, 3d04h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** `text` cut to `max` characters, on one line: whitespace runs become one space, controls `?`. */
export function oneLine(text: string, max: number): string {
  const flat = printable(text.replace(/\s+/g, ' ').trim());
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
