import type { CharFinding } from './backend/types';

/** A value longer than this many characters (code points) is shown as a preview first. */
export const PREVIEW_CHARS = 1_000;
/** A value of more lines than this is shown as a preview first. */
export const PREVIEW_LINES = 20;

/** How a long value is shown: its first lines, the whole of it behind a disclosure. */
export interface LongText {
  /** The first `PREVIEW_LINES` lines, at most `PREVIEW_CHARS` characters: a prefix of the value. */
  preview: string;
  /** The marks of the preview: the value's own, those that stand in it (positions unchanged). */
  previewCharacters: CharFinding[];
  /** Characters (code points) and lines of the whole value. */
  chars: number;
  lines: number;
  /** Characters of the value not in the preview. */
  hiddenChars: number;
}

/** Lines as a person counts them: a final line break does not start another line. */
function countLines(text: string): number {
  let lines = 1;
  for (const c of text) if (c === '\n') lines += 1;
  return text.endsWith('\n') ? lines - 1 : lines;
}

/**
 * The preview of a value too long to show at once (more than 1,000 characters or 20 lines),
 * or `null` when it is shown whole. The preview is a prefix of the value, so the core's marks
 * keep their positions; it never splits a character (nor a CR LF).
 */
export function longText(text: string, characters: readonly CharFinding[]): LongText | null {
  const codePoints = [...text];
  const lines = countLines(text);
  if (codePoints.length <= PREVIEW_CHARS && lines <= PREVIEW_LINES) return null;
  let end = 0; // code points in the preview
  let breaks = 0;
  while (end < codePoints.length && end < PREVIEW_CHARS) {
    if (codePoints[end] === '\n' && ++breaks === PREVIEW_LINES) break;
    end += 1;
  }
  if (end > 0 && codePoints[end - 1] === '\r' && codePoints[end] === '\n') end -= 1;
  const preview = codePoints.slice(0, end).join('');
  return {
    preview,
    previewCharacters: characters.filter((c) => c.utf16_offset < preview.length),
    chars: codePoints.length,
    lines,
    hiddenChars: codePoints.length - end,
  };
}

const count = (n: number, one: string, many: string) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** What the disclosure says: how much there is, and exactly how much the preview leaves out. */
export function longTextSummary(long: LongText, open: boolean): string {
  const all = `${count(long.chars, 'character', 'characters')} (${count(long.lines, 'line', 'lines')})`;
  return open
    ? `Showing all ${all}: show only the first lines`
    : `Show all ${all}: ${count(long.hiddenChars, 'character', 'characters')} not shown above`;
}
