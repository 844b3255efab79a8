/**
 * `pnpm docs:diagram`: writes docs/architecture.svg from docs/architecture.dot.
 * `--check`: writes nothing, exits 1 when the SVG is missing or stale.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { diagramImage, diagramSource, renderDiagram } from './architecture-diagram.js';

const check = process.argv.includes('--check');
const svg = await renderDiagram(readFileSync(diagramSource, 'utf8'));
const where = relative(process.cwd(), diagramImage);
if (check) {
  const current = existsSync(diagramImage) ? readFileSync(diagramImage, 'utf8') : undefined;
  if (current !== svg) {
    process.stderr.write(`${where} is stale: run \`pnpm docs:diagram\` and commit the result\n`);
    process.exitCode = 1;
  } else process.stdout.write(`${where} is up to date\n`);
} else {
  writeFileSync(diagramImage, svg);
  process.stdout.write(`wrote ${where}\n`);
}
