import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { MODELS } from '../../tests/fixtures';
import type { CharFinding, Field } from './backend/types';
import DetailBlock from './DetailBlock.svelte';
import FieldList from './FieldList.svelte';
import { visibleText } from './reveal';

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
