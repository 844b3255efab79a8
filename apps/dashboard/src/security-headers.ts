/**
 * Headers put on every response (an onSend hook, so 401s, 404s, errors and
 * static files get them too).
 *
 * The Content-Security-Policy allows what Bull Board's UI needs and nothing
 * else: scripts only from our own origin (its bundle is external files; the
 * `__UI_CONFIG__` block is JSON, which CSP does not execute), no inline
 * script, no eval; styles from our origin plus the inline `<style>`s of its
 * page and bundle, allowed by hash (read from the installed UI, so an upgrade
 * keeps working); inline style attributes (its loading screen) through
 * `style-src-attr` only; XHR to our origin only; no framing; no plugins; no
 * third-party requests (its Google Fonts link is blocked, the system font is
 * used instead).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const hashSource = (text: string): string =>
  `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * sha256 CSP sources of every inline `<style>` Bull Board's UI produces: the
 * ones in its index page, and the static `<style>` children its bundle
 * renders (an SVG icon's colours), found as JSX string literals. A style
 * missed here only loses its colours, and the browser test reports it.
 */
export function inlineStyleHashes(uiBasePath: string): string[] {
  const dist = join(uiBasePath, 'dist');
  const texts = new Set<string>();
  const page = readFileSync(join(dist, 'index.ejs'), 'utf8');
  for (const match of page.matchAll(/<style>([\s\S]*?)<\/style>/g)) texts.add(match[1]!);
  for (const file of filesUnder(join(dist, 'static', 'js')).filter((f) => f.endsWith('.js'))) {
    const code = readFileSync(file, 'utf8');
    // Template literals without substitutions or escapes hold their text verbatim.
    for (const match of code.matchAll(/"style",\{children:`([^`$\\]*)`\}/g)) texts.add(match[1]!);
    for (const match of code.matchAll(/"style",\{children:("(?:[^"\\]|\\.)*")\}/g)) {
      texts.add(JSON.parse(match[1]!) as string);
    }
  }
  return [...texts].map(hashSource);
}

export function contentSecurityPolicy(styleHashes: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' ${styleHashes.join(' ')}`.trim(),
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The fixed headers; Content-Security-Policy is passed in. */
export function securityHeaders(csp: string): Record<string, string> {
  return {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  };
}
