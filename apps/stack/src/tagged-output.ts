/**
 * One terminal, many processes: every line is written whole, behind a
 * `[name]` tag padded to a common width, so lines of different children never
 * interleave mid-line and the log column lines up. Children log pino JSON;
 * their lines are passed through untouched unless a `formatChildLine` is
 * given (dev mode pretty-prints them, see pretty-log-line.ts).
 */
import type { Readable, Writable } from 'node:stream';

export type OutputStream = 'stdout' | 'stderr';

export interface TaggedOutputOptions {
  /** Default process.stdout. */
  stdout?: Writable;
  /** Default process.stderr. */
  stderr?: Writable;
  /** Every tag that will be used, so the column is wide enough from the first line. Default []. */
  names?: readonly string[];
  /**
   * Applied to every whole line a child prints (not to the supervisor's own
   * messages) before it is tagged; may return several lines. Default: none.
   */
  formatChildLine?: (line: string) => string;
}

export class TaggedOutput {
  readonly stdout: Writable;
  readonly stderr: Writable;
  private width: number;
  private readonly formatChildLine: ((line: string) => string) | undefined;

  constructor(options: TaggedOutputOptions = {}) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.width = Math.max(0, ...(options.names ?? []).map((name) => name.length + 2));
    this.formatChildLine = options.formatChildLine;
  }

  tag(name: string): string {
    return `[${name}]`.padEnd(this.width);
  }

  /** Writes `text` (may hold several lines) with every line tagged. */
  line(name: string, text: string, stream: OutputStream = 'stdout'): void {
    const target = stream === 'stdout' ? this.stdout : this.stderr;
    const tag = this.tag(name);
    target.write(
      text
        .split('\n')
        .map((line) => `${tag} ${line.replace(/\r$/, '')}\n`)
        .join(''),
    );
  }

  /**
   * Copies `source` line by line until it ends. A last line without a newline
   * is written when the source ends, so a crash message is never lost.
   */
  pipe(name: string, source: Readable, stream: OutputStream): void {
    let pending = '';
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => {
      const text = pending + chunk;
      const end = text.lastIndexOf('\n');
      if (end === -1) {
        pending = text;
        return;
      }
      pending = text.slice(end + 1);
      this.childLines(name, text.slice(0, end), stream);
    });
    source.on('error', (error: Error) => {
      this.line(name, `(output lost: ${error.message})`, 'stderr');
    });
    source.on('end', () => {
      if (pending !== '') this.childLines(name, pending, stream);
      pending = '';
    });
  }

  private childLines(name: string, text: string, stream: OutputStream): void {
    const format = this.formatChildLine;
    if (format === undefined) {
      this.line(name, text, stream);
      return;
    }
    this.line(
      name,
      text
        .split('\n')
        .map((line) => format(line.replace(/\r$/, '')))
        .join('\n'),
      stream,
    );
  }
}
