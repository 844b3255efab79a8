const replacements: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/**
 * Text safe inside HTML element content and inside quoted attribute values.
 * Every value our pages show goes through this (or `html` below); nothing
 * from Redis or the request reaches a page raw.
 */
export function escapeHtml(value: unknown): string {
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
        ? String(value)
        : value === undefined || value === null
          ? ''
          : (JSON.stringify(value) ?? '');
  return text.replace(/[&<>"'`]/g, (character) => replacements[character]!);
}

/** Markup that is already safe (built by `html`), as opposed to text to escape. */
export class SafeHtml {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

/**
 * Tagged template for our pages: every interpolated value is escaped unless
 * it is SafeHtml (from a nested `html`); arrays are joined after escaping each
 * item.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  const render = (value: unknown): string =>
    value instanceof SafeHtml
      ? value.markup
      : Array.isArray(value)
        ? value.map(render).join('')
        : value === undefined || value === null || value === false
          ? ''
          : escapeHtml(value);
  return new SafeHtml(
    strings.reduce(
      (out, text, index) => out + text + (index < values.length ? render(values[index]) : ''),
      '',
    ),
  );
}
