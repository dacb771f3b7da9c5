import type { CharFinding, TextFinding, Warning } from './backend/types';

/** A piece of a value: literal text, or a marker for a flagged (invisible, bidi…) character. */
export type Segment = { kind: 'text'; text: string } | { kind: 'mark'; codePoint: string; name: string };

/**
 * Splits `text` at the flagged characters so that each can be shown as a visible
 * marker ("U+202E RIGHT-TO-LEFT OVERRIDE") instead of acting on the text around it.
 * Offsets are UTF-16 indices (JavaScript's); a finding that does not point at a
 * character of `text` is ignored rather than trusted.
 */
export function reveal(text: string, characters: readonly CharFinding[]): Segment[] {
  const sorted = [...characters].sort((a, b) => a.utf16_offset - b.utf16_offset);
  const segments: Segment[] = [];
  let cursor = 0;
  for (const finding of sorted) {
    const at = finding.utf16_offset;
    if (!Number.isInteger(at) || at < cursor || at >= text.length) continue;
    const codePoint = text.codePointAt(at);
    if (codePoint === undefined || `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}` !== finding.code_point) {
      continue;
    }
    if (at > cursor) segments.push({ kind: 'text', text: text.slice(cursor, at) });
    segments.push({ kind: 'mark', codePoint: finding.code_point, name: finding.name });
    cursor = at + (codePoint > 0xffff ? 2 : 1);
  }
  if (cursor < text.length) segments.push({ kind: 'text', text: text.slice(cursor) });
  return segments;
}

/** The character findings of the warnings about a value (not its key). */
export function valueFindings(warnings: readonly Warning[]): CharFinding[] {
  return warnings.filter((w) => !w.in_key).flatMap((w) => w.characters);
}

/** The character findings of one request-level string (`field`: its JSON Pointer, e.g. `/client/client_name`). */
export function requestFindings(found: readonly TextFinding[] | undefined, field: string): CharFinding[] {
  return (found ?? []).filter((f) => f.field === field).flatMap((f) => valueFindings(f.warnings));
}

/** The character findings of the warnings about the value at `path` of a detail (e.g. its `/type`). */
export function findingsAt(warnings: readonly Warning[], path: string): CharFinding[] {
  return valueFindings(warnings.filter((w) => w.path === path));
}

/**
 * `text` with each flagged character written as `[U+XXXX]`, for attributes (labels) that cannot hold markers.
 * The characters are the core's findings: the UI keeps no table of its own.
 */
export function visibleText(text: string, characters: readonly CharFinding[]): string {
  return reveal(text, characters)
    .map((s) => (s.kind === 'text' ? s.text : `[${s.codePoint}]`))
    .join('');
}
