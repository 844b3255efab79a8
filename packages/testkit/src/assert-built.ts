import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AppNotBuiltError } from './errors.js';

/**
 * Throws unless `entry` exists and is newer than every file under `srcDir`:
 * suites that run what users run must not test a missing or stale build.
 * `buildHint` names the command that builds it.
 */
export function assertBuilt(entry: string, srcDir: string, buildHint: string): void {
  const newest = (dir: string): number =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((item) =>
        item.isDirectory() ? newest(join(dir, item.name)) : statSync(join(dir, item.name)).mtimeMs,
      ),
    );
  const built = statSync(entry, { throwIfNoEntry: false });
  if (built === undefined || built.mtimeMs < newest(srcDir)) {
    throw new AppNotBuiltError(
      `${entry} is missing or older than ${srcDir}: run \`${buildHint}\` first`,
    );
  }
}
