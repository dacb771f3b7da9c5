// Fails the build when dist/index.html needs anything the app's CSP forbids:
//   default-src 'self'; script-src 'self'; style-src 'self'; ...
// i.e. inline <script> bodies, <style> elements, style="" or on*="" attributes,
// or scripts and stylesheets loaded from anywhere but the app itself.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const file = fileURLToPath(new URL('../dist/index.html', import.meta.url));
const html = readFileSync(file, 'utf8');
const problems = [];

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
  console.error(`dist/index.html breaks the CSP:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
console.log('dist/index.html: no inline scripts or styles, nothing from elsewhere');
