/**
 * Formats a generated or edited file with the repo's Prettier settings, so
 * generated code passes `pnpm format:check` and an edit of a formatted file
 * leaves every other line as it was.
 */
import { join } from 'node:path';
import * as prettier from 'prettier';

export async function formatSource(root: string, path: string, text: string): Promise<string> {
  const filepath = join(root, path);
  const config = (await prettier.resolveConfig(filepath)) ?? {};
  return prettier.format(text, { ...config, filepath });
}
