/**
 * `pnpm --filter @switchyard/events schemas:check`: fails (exit 1) when a
 * published event version's JSON Schema changed, a published version was
 * removed, or a version has no committed snapshot yet.
 * `schemas:update` (`--update`) writes the snapshots of new versions, never
 * overwriting one, and still fails on changed or removed versions.
 */
import { runSchemaCheck, snapshotsDir } from './schema-snapshots.js';

const update = process.argv.slice(2).includes('--update');
const run = await runSchemaCheck({ update });

for (const file of run.written) console.log(`wrote ${file}`);
for (const problem of run.problems) console.error(`✗ ${problem.message}`);
for (const missing of run.missing) console.error(`✗ ${missing.message}`);
if (run.ok) {
  console.log(`event schemas match their snapshots in ${snapshotsDir}`);
} else {
  process.exitCode = 1;
}
