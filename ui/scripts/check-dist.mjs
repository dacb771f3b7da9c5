// Fails the build when the bundle has a way to turn a string into markup
// (innerHTML/outerHTML assignments, insertAdjacentHTML, document.write,
// DOMParser, createContextualFragment, srcdoc, setHTML): every text the UI
// shows is untrusted and is rendered as text (svelte.config.js compiles the
// components with `fragments: 'tree'`, so not even Svelte's own templates are
// parsed from strings). And when index.html needs anything the app's CSP forbids:
//   default-src 'self'; script-src 'self'; style-src 'self'; ...
// i.e. inline <script> bodies, <style> elements, style="" or on*="" attributes,
// or scripts and stylesheets loaded from anywhere but the app itself.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The build to check: dist/ (the app), or the one named (dist-browser/).
const dir = fileURLToPath(new URL(`../${process.argv[2] ?? 'dist'}/`, import.meta.url));
const file = join(dir, 'index.html');
const html = readFileSync(file, 'utf8');
const problems = [];

/** @type {Array<[RegExp, string]>} */
const SINKS = [
  // Named at all, not only assigned: a property name can be written through
  // a computed key (element[name] = value); scripts/harden-svelte.ts keeps
  // Svelte's runtime from naming them.
  [/\b(?:inner|outer)HTML\b/, 'innerHTML/outerHTML named'],
  [/\binsertAdjacentHTML\b/, 'insertAdjacentHTML'],
  [/\bdocument\.write(?:ln)?\b/, 'document.write'],
  [/\bDOMParser\b/, 'DOMParser'],
  [/\bcreateContextualFragment\b/, 'createContextualFragment'],
  [/\bsrcdoc\b/, 'srcdoc'],
  [/\bsetHTML(?:Unsafe)?\b/, 'setHTML'],
];
const assets = join(dir, 'assets');
for (const name of readdirSync(assets).filter((n) => n.endsWith('.js'))) {
  const code = readFileSync(join(assets, name), 'utf8');
  for (const [pattern, what] of SINKS) {
    const at = code.search(pattern);
    if (at >= 0) problems.push(`${name}: ${what}: …${code.slice(Math.max(0, at - 60), at + 60)}…`);
  }
}

for (const match of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  const [, attrs = '', body = ''] = match;
  if (!/\ssrc\s*=/i.test(attrs)) problems.push('inline <script> without src');
  if (body.trim() !== '') problems.push('<script> with an inline body');
  const src = /\ssrc\s*=\s*["']?([^"'\s>]+)/i.exec(attrs)?.[1];
  if (src && /^[a-z][a-z0-9+.-]*:|^\/\//i.test(src)) problems.push(`script from elsewhere: ${src}`);
}
if (/<style\b/i.test(html)) problems.push('inline <style> element');
if (/\sstyle\s*=/i.test(html)) problems.push('inline style="" attribute');
if (/<[^>]*\son[a-z]+\s*=/i.test(html)) problems.push('inline on*="" event handler');
for (const match of html.matchAll(/<link\b[^>]*\shref\s*=\s*["']?([^"'\s>]+)/gi)) {
  const href = match[1] ?? '';
  if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(href)) problems.push(`resource from elsewhere: ${href}`);
}

if (problems.length > 0) {
  console.error(`${dir} breaks the rules above:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
console.log(`${dir}: no string-to-markup sink in the scripts; index.html has no inline scripts or styles, nothing from elsewhere`);
