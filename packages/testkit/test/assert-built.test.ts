import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppNotBuiltError, assertBuilt } from '../src/index.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An app folder with src/a.ts (and src/nested/b.ts), optionally dist/main.js. */
function appDir(built: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'sy-assert-built-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'src', 'nested'), { recursive: true });
  writeFileSync(join(dir, 'src', 'a.ts'), '');
  writeFileSync(join(dir, 'src', 'nested', 'b.ts'), '');
  const entry = join(dir, 'dist', 'main.js');
  if (built) {
    mkdirSync(join(dir, 'dist'));
    writeFileSync(entry, '');
  }
  return { entry, src: join(dir, 'src') };
}

describe('assertBuilt', () => {
  describe('when the entry is newer than every source file', () => {
    it('returns', () => {
      const { entry, src } = appDir(true);
      const past = new Date(Date.now() - 60_000);
      utimesSync(join(src, 'a.ts'), past, past);
      utimesSync(join(src, 'nested', 'b.ts'), past, past);

      expect(() => assertBuilt(entry, src, 'pnpm build')).not.toThrow();
    });
  });

  describe('when the entry is missing', () => {
    it('throws AppNotBuiltError naming the build command', () => {
      const { entry, src } = appDir(false);

      expect(() => assertBuilt(entry, src, 'pnpm --filter @switchyard/sandbox build')).toThrow(
        AppNotBuiltError,
      );
      expect(() => assertBuilt(entry, src, 'pnpm --filter @switchyard/sandbox build')).toThrow(
        /missing or older than .*: run `pnpm --filter @switchyard\/sandbox build` first/,
      );
    });
  });

  describe('when a nested source file is newer than the entry', () => {
    it('throws AppNotBuiltError', () => {
      const { entry, src } = appDir(true);
      const past = new Date(Date.now() - 60_000);
      utimesSync(entry, past, past);

      expect(() => assertBuilt(entry, src, 'pnpm build')).toThrow(AppNotBuiltError);
    });
  });
});
