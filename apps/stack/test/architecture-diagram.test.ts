/**
 * docs/architecture.svg is generated from docs/architecture.dot
 * (`pnpm docs:diagram`); both are committed. This fails when someone edits
 * the source and forgets to render, or edits the SVG by hand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diagramImage, diagramSource, renderDiagram } from '../scripts/architecture-diagram.js';

const architectureDoc = new URL('../../../docs/architecture.md', import.meta.url);

describe('the architecture diagram', () => {
  it('is the rendering of its committed source', async () => {
    expect(existsSync(diagramImage), `${diagramImage} is missing: run pnpm docs:diagram`).toBe(
      true,
    );
    const rendered = await renderDiagram(readFileSync(diagramSource, 'utf8'));
    const committed = readFileSync(diagramImage, 'utf8');
    // A diff of SVG is unreadable; say what to do instead.
    expect(
      committed === rendered,
      'docs/architecture.svg is stale: run `pnpm docs:diagram` and commit the result',
    ).toBe(true);
  });

  it('changes when its source changes (so the check above can fail)', async () => {
    const source = readFileSync(diagramSource, 'utf8');
    const edited = source.replace(/\}\s*$/, '  stale_probe [label="not in the image"];\n}\n');
    expect(edited).not.toBe(source);
    const rendered = await renderDiagram(edited);
    expect(rendered).toContain('not in the image');
    expect(rendered).not.toBe(readFileSync(diagramImage, 'utf8'));
  });

  it('is shown by docs/architecture.md', () => {
    expect(readFileSync(architectureDoc, 'utf8')).toMatch(/!\[[^\]]+\]\(architecture\.svg\)/);
  });
});
