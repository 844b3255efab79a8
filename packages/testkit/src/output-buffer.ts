/**
 * Keeps the last `limit` characters written to it: enough of a child's
 * stdout/stderr to explain a failure, bounded so a chatty child cannot grow
 * the test process without limit.
 */
export class OutputBuffer {
  private chunks: string[] = [];
  private length = 0;

  /** @param limit characters kept; default 200 KiB worth. */
  constructor(private readonly limit = 200 * 1024) {}

  append(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.chunks.push(text);
    this.length += text.length;
    while (this.chunks.length > 1 && this.length - this.chunks[0]!.length >= this.limit) {
      this.length -= this.chunks.shift()!.length;
    }
  }

  toString(): string {
    const text = this.chunks.join('');
    return text.length > this.limit ? text.slice(text.length - this.limit) : text;
  }

  /** The last `lines` lines, for error messages. */
  tail(lines = 40): string {
    return this.toString().split('\n').slice(-lines).join('\n');
  }
}
