// @vitest-environment node
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// DESIGN.md: the UI never parses or renders HTML from data, and the CSP allows no
// inline styles or scripts. This guards the sources against the usual ways in.
const srcDir = fileURLToPath(new URL('../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(svelte|ts)$/.test(entry.name) && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const FORBIDDEN: [string, RegExp][] = [
  ['{@html}', /\{@html\b/],
  ['innerHTML / outerHTML', /\b(inner|outer)HTML\b/],
  ['insertAdjacentHTML', /\binsertAdjacentHTML\b/],
  ['document.write', /\bdocument\.write(ln)?\b/],
  ['DOMParser / createContextualFragment', /\b(DOMParser|createContextualFragment)\b/],
  ['eval / new Function', /\beval\s*\(|\bnew\s+Function\s*\(/],
  ['inline style attribute', /\sstyle\s*=|\sstyle:[a-z-]+/],
  ['inline event handler attribute', /<[^>]*\son[a-z]+\s*=\s*["']/],
];

describe('sources', () => {
  const files = sourceFiles(srcDir);

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(FORBIDDEN)('use no %s', (_name, pattern) => {
    const offenders = files.filter((file) => pattern.test(readFileSync(file, 'utf8'))).map((f) => relative(srcDir, f));
    expect(offenders).toEqual([]);
  });
});
