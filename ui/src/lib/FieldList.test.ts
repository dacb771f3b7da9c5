import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { describe, expect, it } from 'vitest';
import { MODELS } from '../../tests/fixtures';
import type { CharFinding, Field } from './backend/types';
import DetailBlock from './DetailBlock.svelte';
import FieldList from './FieldList.svelte';
import { longText } from './longText';
import { reveal, visibleText } from './reveal';

const field = (path: string, path_characters: CharFinding[] = []): Field => ({
  path,
  key: path.slice(1),
  label: path.slice(1),
  label_source: 'key',
  label_characters: [],
  path_characters,
  format: 'text',
  value: { kind: 'scalar', json_type: 'string', text: 'x', display: null, utc: null, wrap: false },
  emphasis: false,
  sensitive: false,
  collapsed: false,
  description: null,
  description_characters: [],
  warnings: [],
});

/** Every field of a list, nested ones included, in display order. */
function flatten(fields: readonly Field[]): Field[] {
  return fields.flatMap((f) => [
    f,
    ...(f.value.kind === 'object' ? flatten(f.value.fields) : f.value.kind === 'array' ? flatten(f.value.items) : []),
  ]);
}

/** The code points a rendered element marks, in order. */
const marked = (el: Element): string[] =>
  [...el.querySelectorAll('mark')].map((m) => (m.textContent ?? '').replace(/^⟦(\S+) .*⟧$/, '$1'));

describe('FieldList', () => {
  it('marks exactly the characters the core found in paths and labels, nothing of its own', () => {
    // The model as countersign-details renders it (tests/models/hostile-names.*).
    const model = MODELS.names;
    for (const detail of model.details) {
      const { unmount } = render(DetailBlock, { detail, total: model.details.length });
      const shown = flatten([...detail.fields, ...detail.undescribed]);
      const labels = screen.getAllByTestId('field-label');
      expect(labels).toHaveLength(shown.length);
      shown.forEach((f, i) => {
        expect(marked(labels[i]!)).toEqual(f.label_characters.map((c) => c.code_point));
      });
      const paths = screen.queryAllByTestId('field-path');
      const withPaths = flatten(detail.undescribed);
      expect(paths).toHaveLength(withPaths.length);
      withPaths.forEach((f, i) => {
        expect(marked(paths[i]!)).toEqual(f.path_characters.map((c) => c.code_point));
        expect(paths[i]!.textContent).not.toMatch(/[\u202e\u200b\u2066\u00a0]/);
      });
      unmount();
    }
    // The core did find something in each kind of string.
    const all = model.details.flatMap((d) => flatten([...d.fields, ...d.undescribed]));
    expect(all.flatMap((f) => f.path_characters.map((c) => c.code_point))).toEqual(
      expect.arrayContaining(['U+202E', 'U+200B', 'U+0430', 'U+00A0', 'U+2066']),
    );
    expect(all.find((f) => f.label_source === 'sender')?.label_characters.map((c) => c.code_point)).toEqual(['U+200B']);
  });

  it('marks the type the core flagged, and the title it is shown as without a schema', () => {
    const detail = MODELS.names.details[2]!;
    render(DetailBlock, { detail, total: 3 });
    expect(marked(screen.getByTestId('detail-type'))).toEqual(['U+202E']);
    expect(marked(screen.getByRole('heading', { level: 3 }))).toEqual(['U+202E']);
  });

  it('has no table of its own: a character the core did not flag is not marked', () => {
    render(FieldList, { fields: [field('/amount\u202E\u200Bdi')], showPaths: true });
    expect(screen.getByTestId('field-path').querySelectorAll('mark')).toHaveLength(0);
  });

  it('shows a path with the findings it carries revealed', () => {
    const found: CharFinding[] = [
      { code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 7, utf16_offset: 7 },
      { code_point: 'U+200B', name: 'ZERO WIDTH SPACE', position: 8, utf16_offset: 8 },
    ];
    render(FieldList, { fields: [field('/amount\u202E\u200Bdi', found)], showPaths: true });
    const path = screen.getByTestId('field-path');
    expect(marked(path)).toEqual(['U+202E', 'U+200B']);
    expect(path.textContent).not.toMatch(/[\u202e\u200b]/);
    expect(visibleText('a\u202Eb', [{ ...found[0]!, position: 1, utf16_offset: 1 }])).toBe('a[U+202E]b');
  });
});

/** A scalar string field holding `text`, with the core's marks for it. */
function textField(text: string, characters: CharFinding[] = []): Field {
  return {
    ...field('/arguments/1/value'),
    format: 'multiline-text',
    value: { kind: 'scalar', json_type: 'string', text, display: null, utc: null, wrap: true },
    warnings: characters.length
      ? [
          {
            code: 'bidi_control',
            severity: 'danger',
            index: 0,
            path: '/arguments/1/value',
            in_key: false,
            message: `${characters.length} bidirectional control characters`,
            message_characters: [],
            characters,
          },
        ]
      : [],
  };
}

/** What RevealedText shows for `text`: the text, each marked character as its marker. */
const shownAs = (text: string, characters: readonly CharFinding[]) =>
  reveal(text, characters)
    .map((s) => (s.kind === 'text' ? s.text : `⟦${s.codePoint} ${s.name}⟧`))
    .join('');

const rlo = (utf16_offset: number): CharFinding => ({
  code_point: 'U+202E',
  name: 'RIGHT-TO-LEFT OVERRIDE',
  position: utf16_offset,
  utf16_offset,
});

describe('FieldList, long values', () => {
  // 200 lines of 25 characters: 5,000 characters.
  const lines = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(3, '0')} ${'x'.repeat(20)}`);
  const long = lines.map((l) => `${l}\n`).join('');
  // An override in the first line (shown in the preview) and one in line 150 (only in the whole text).
  const hostile = `${long.slice(0, 5)}\u202E${long.slice(6, 150 * 25 + 5)}\u202E${long.slice(150 * 25 + 6)}`;
  const marks = [rlo(5), rlo(150 * 25 + 5)];

  it('shows the first 20 lines and the whole value behind a disclosure that says how much is hidden', async () => {
    expect([...long].length).toBe(5_000);
    render(FieldList, { fields: [textField(long)] });
    const disclosure = screen.getByTestId('field-value-long');
    expect(disclosure.tagName).toBe('DETAILS');
    expect((disclosure as HTMLDetailsElement).open).toBe(false);
    // The preview: exactly the first 20 lines.
    const preview = screen.getByTestId('field-value-preview');
    expect(preview.textContent).toBe(lines.slice(0, 20).join('\n'));
    expect(disclosure.contains(preview)).toBe(false);
    // The summary says exactly how much there is and how much the preview leaves out.
    const summary = within(disclosure).getByTestId('field-value-long-summary');
    expect(summary.tagName).toBe('SUMMARY');
    expect(summary.textContent).toBe('Show all 5,000 characters (200 lines): 4,501 characters not shown above');
    // The whole value, exactly, is inside the disclosure: nothing is cut.
    const whole = within(disclosure).getByTestId('field-value');
    expect(whole.textContent).toBe(long);
    expect(screen.getAllByTestId('field-value')).toHaveLength(1);
    // Opened, the whole value replaces the preview (not shown twice).
    (disclosure as HTMLDetailsElement).open = true;
    await fireEvent(disclosure, new Event('toggle'));
    await tick();
    expect(screen.queryByTestId('field-value-preview')).toBeNull();
    expect(summary.textContent).toBe('Showing all 5,000 characters (200 lines): show only the first lines');
    expect(within(disclosure).getByTestId('field-value').textContent).toBe(long);
  });

  it('keeps the core\'s marks where they stand, in the preview and in the whole value', () => {
    render(FieldList, { fields: [textField(hostile, marks)] });
    const preview = screen.getByTestId('field-value-preview');
    expect(marked(preview)).toEqual(['U+202E']);
    expect(preview.textContent).not.toMatch(/\u202e/);
    const whole = within(screen.getByTestId('field-value-long')).getByTestId('field-value');
    expect(marked(whole)).toEqual(['U+202E', 'U+202E']);
    expect(whole.textContent).toBe(shownAs(hostile, marks));
    expect(whole.textContent).not.toMatch(/\u202e/);
  });

  it('cuts a long single line at 1,000 characters, never inside a character', () => {
    const text = `${'é'.repeat(999)}😀${'y'.repeat(600)}`;
    render(FieldList, { fields: [textField(text)] });
    expect(screen.getByTestId('field-value-preview').textContent).toBe(`${'é'.repeat(999)}😀`);
    expect(screen.getByTestId('field-value-long-summary').textContent).toBe(
      'Show all 1,600 characters (1 line): 600 characters not shown above',
    );
    expect(within(screen.getByTestId('field-value-long')).getByTestId('field-value').textContent).toBe(text);
  });

  it('shows a value of at most 1,000 characters and 20 lines whole, with no disclosure', () => {
    const twenty = lines.slice(0, 20).join('\n') + '\n';
    const thousand = 'z'.repeat(1_000);
    for (const text of [twenty, thousand, 'short']) {
      const { unmount } = render(FieldList, { fields: [textField(text)] });
      expect(screen.queryByTestId('field-value-long')).toBeNull();
      expect(screen.getByTestId('field-value').textContent).toBe(text);
      unmount();
    }
    expect(longText(`${twenty}x`, [])?.hiddenChars).toBe(2);
    expect(longText('z'.repeat(1_001), [])?.preview).toBe(thousand);
    // A CR LF is not split at the cut.
    const crlf = Array.from({ length: 25 }, () => 'ab').join('\r\n');
    expect(longText(crlf, [])?.preview).toBe(Array.from({ length: 20 }, () => 'ab').join('\r\n'));
  });
});
