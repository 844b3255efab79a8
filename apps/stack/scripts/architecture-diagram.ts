/**
 * The architecture diagram: docs/architecture.svg is generated from
 * docs/architecture.dot by Graphviz compiled to WebAssembly
 * (@hpcc-js/wasm-graphviz), so no system `dot` binary is needed and every
 * machine renders the same bytes for the same source and package version.
 * Both files are committed; test/architecture-diagram.test.ts fails when
 * the SVG no longer matches its source.
 */
import { Graphviz } from '@hpcc-js/wasm-graphviz';
import { fileURLToPath } from 'node:url';

/** The diagram's source, kept in the repository. */
export const diagramSource = fileURLToPath(
  new URL('../../../docs/architecture.dot', import.meta.url),
);
/** The rendered image that docs/architecture.md shows. */
export const diagramImage = fileURLToPath(
  new URL('../../../docs/architecture.svg', import.meta.url),
);

/** Renders DOT to SVG (with the `dot` layout); throws on a syntax error with Graphviz's message. */
export async function renderDiagram(dot: string): Promise<string> {
  const graphviz = await Graphviz.load();
  const svg = graphviz.dot(dot, 'svg');
  return svg.endsWith('\n') ? svg : `${svg}\n`;
}
