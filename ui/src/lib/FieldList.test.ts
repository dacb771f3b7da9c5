import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { Field } from './backend/types';
import FieldList from './FieldList.svelte';
import { hiddenFindings, visibleText } from './reveal';

const field = (path: string): Field => ({
  path,
  key: path.slice(1),
  label: path.slice(1),
  label_source: 'key',
  format: 'text',
  value: { kind: 'scalar', json_type: 'string', text: 'x', display: null, utc: null, wrap: false },
  emphasis: false,
  sensitive: false,
  collapsed: false,
  description: null,
  warnings: [],
});

describe('FieldList', () => {
  it('shows a path built from agent-chosen names with hidden characters revealed', () => {
    render(FieldList, { fields: [field('/amount\u202E\u200Bdi')], showPaths: true });
    const path = screen.getByTestId('field-path');
    const marks = path.querySelectorAll('mark');
    expect(marks).toHaveLength(2);
    expect(marks[0]).toHaveTextContent('U+202E');
    expect(marks[1]).toHaveTextContent('U+200B');
    expect(path.textContent).not.toMatch(/[\u202e\u200b]/);
  });

  it('finds bidi, invisible and control characters but not letters or emoji', () => {
    expect(hiddenFindings('/a\u202Eb\u{E0041}\u0007\u00A0c').map((f) => [f.code_point, f.utf16_offset])).toEqual([
      ['U+202E', 2],
      ['U+E0041', 4],
      ['U+0007', 6],
      ['U+00A0', 7],
    ]);
    expect(hiddenFindings('/Zoë/東京/👍 ok')).toEqual([]);
    expect(visibleText('a\u202Eb')).toBe('a[U+202E]b');
  });
});
