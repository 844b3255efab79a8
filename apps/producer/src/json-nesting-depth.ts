/**
 * How deeply a JSON text nests, measured before it is parsed: JSON.parse and
 * secure-json-parse's prototype scan cost tens of milliseconds of blocked
 * event loop for a body of 100 000 nested brackets, well inside a 1 MiB
 * body limit, while no event in the catalogue nests deeper than a handful of
 * levels. One linear pass over the text, brackets inside strings ignored.
 */

/**
 * True when `text` opens more than `maxDepth` arrays/objects inside one
 * another anywhere. Stops at the first level over the bound, so a hostile
 * body costs at most one pass over its first `maxDepth` + string bytes.
 * Does not validate the JSON (the parser does); an unbalanced text is
 * measured as far as it goes.
 */
export function exceedsJsonNestingDepth(text: string, maxDepth: number): boolean {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22 /* " */) {
      // Skip the string with indexOf (native, fast over long strings): it
      // ends at the next quote preceded by an even run of backslashes. Each
      // run is counted once, so the skip stays linear.
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let backslashes = 0;
        for (let j = end - 1; text.charCodeAt(j) === 0x5c /* \ */; j--) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end === -1) return false;
      i = end;
    } else if (code === 0x5b /* [ */ || code === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (code === 0x5d /* ] */ || code === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}
