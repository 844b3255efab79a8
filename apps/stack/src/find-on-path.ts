/**
 * Where an executable is, as an absolute path, found the way a shell finds
 * it. The stack spawns with an environment of its own making, and Node looks
 * a bare command up in the *child's* PATH (falling back to /usr/bin:/bin), so
 * a command found on the stack's PATH must be handed over already resolved.
 *
 * (testkit has an async twin for test Redis servers; the stack does not
 * depend on testkit at runtime, and these dozen lines are not worth a
 * package.)
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/**
 * `command` with a slash in it is taken as a path (resolved against the
 * working directory); a bare name is looked up in each directory of
 * `searchPath` in order. Returns undefined when there is no executable file
 * there. Empty and relative PATH entries are skipped: they would mean "the
 * working directory", which is no place to pick up a server binary from.
 */
export function findOnPath(command: string, searchPath: string | undefined): string | undefined {
  if (command.includes('/')) {
    const file = resolve(command);
    return isExecutableFile(file) ? file : undefined;
  }
  for (const dir of (searchPath ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
