/**
 * A Writable that keeps everything written to it, for asserting on output
 * through an injected destination instead of spying on the console.
 */
import { Writable } from 'node:stream';
import { waitFor } from '@switchyard/testkit';

export class CapturedStream extends Writable {
  text = '';

  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.text += chunk.toString();
    done();
  }

  lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }

  /**
   * Resolves with the first match of `pattern` once it appears; rejects after
   * `timeoutMs` (default 10 s: generous for a loaded machine, and only spent
   * when the test fails anyway).
   */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return waitFor(() => this.text.match(pattern), {
      timeoutMs,
      intervalMs: 10,
      message: `output matching ${pattern}`,
    });
  }
}
