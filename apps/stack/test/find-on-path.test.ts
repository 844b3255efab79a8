import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findOnPath } from '../src/find-on-path.js';
import { TempDir } from './helpers/temp-dir.js';

describe('findOnPath', () => {
  let dir: TempDir;
  const folder = (name: string): string => {
    const path = join(dir.path, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const file = (path: string, mode: number): string => {
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, mode);
    return path;
  };

  beforeEach(() => {
    dir = new TempDir();
  });

  afterEach(() => dir.remove());

  describe('when given a bare name', () => {
    it('returns the first executable file on the path, as an absolute path', () => {
      const [a, b, c] = [folder('a'), folder('b'), folder('c')];
      file(join(a, 'tool'), 0o644);
      mkdirSync(join(b, 'tool'));
      const wanted = file(join(c, 'tool'), 0o755);
      file(join(folder('d'), 'tool'), 0o755);

      expect(findOnPath('tool', [a, b, c, join(dir.path, 'd')].join(delimiter))).toBe(wanted);
    });

    it('skips empty and relative entries rather than reading them as the working directory', () => {
      file(join(folder('rel'), 'tool'), 0o755);
      expect(findOnPath('tool', ['', 'rel', '.'].join(delimiter))).toBeUndefined();
    });

    it('returns undefined when no entry has it, or there is no path', () => {
      expect(findOnPath('tool', folder('empty'))).toBeUndefined();
      expect(findOnPath('tool', undefined)).toBeUndefined();
    });
  });

  describe('when given a path', () => {
    it('takes it as is when it is executable, whatever the search path', () => {
      const tool = file(join(folder('x'), 'tool'), 0o755);
      expect(findOnPath(tool, '')).toBe(tool);
      expect(findOnPath(join(dir.path, 'x', 'missing'), join(dir.path, 'x'))).toBeUndefined();
    });
  });
});
