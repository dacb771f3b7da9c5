import { describe, expect, it } from 'vitest';
import { fakeAdminItem } from '../backend/fake-admin';
import { otherMembers, replaceFlagged, statusClass, typedFindings, valueParts } from './admin';

describe('admin words', () => {
  it('marks every character of a typed identifier but printable ASCII, spaces included', () => {
    expect(typedFindings('u_1')).toEqual([]);
    expect(typedFindings(' u\u00e9\u202e\u{1F600}x').map((f) => [f.code_point, f.name, f.position, f.utf16_offset])).toEqual([
      ['U+0020', 'SPACE', 0, 0],
      ['U+00E9', 'NOT PRINTABLE ASCII', 2, 2],
      ['U+202E', 'RIGHT-TO-LEFT OVERRIDE', 3, 3],
      ['U+1F600', 'NOT PRINTABLE ASCII', 4, 4],
    ]);
    expect(typedFindings('a\u0301')[0]).toMatchObject({ code_point: 'U+0301', name: 'INVISIBLE, CONTROL OR COMBINING CHARACTER' });
  });

  it('replaces flagged characters by U+FFFD where marks cannot be shown', () => {
    expect(replaceFlagged('Eve\u202eAdmin', [{ code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 3, utf16_offset: 3 }])).toBe(
      'Eve\uFFFDAdmin',
    );
  });

  it('gives an unknown grant status a fixed class', () => {
    expect(statusClass('revoked')).toBe('status-revoked');
    expect(statusClass('x" onclick')).toBe('status-unknown');
    expect(statusClass(undefined)).toBe('status-unknown');
  });

  it('writes a member out whole, marked, whatever its type', () => {
    const item = fakeAdminItem({ s: 'a\u202eb', list: ['x', 'y\u200b'], n: 3, none: null, data: { k: 'v\u202e' } });
    expect(valueParts(item, '/s')).toEqual([{ text: 'a\u202eb', characters: [expect.objectContaining({ code_point: 'U+202E' })] }]);
    expect(valueParts(item, '/list')).toEqual([
      '[',
      '"',
      { text: 'x', characters: [] },
      '"',
      ', ',
      '"',
      { text: 'y\u200b', characters: [expect.objectContaining({ code_point: 'U+200B' })] },
      '"',
      ']',
    ]);
    expect(valueParts(item, '/n')).toEqual(['3']);
    expect(valueParts(item, '/none')).toEqual(['null']);
    expect(valueParts(item, '/data')).toEqual([{ text: '{"k":"v\u202e"}', characters: [expect.objectContaining({ code_point: 'U+202E' })] }]);
    expect(valueParts(item, '/absent')).toEqual(['(absent)']);
    // JSON the core did not write out (it always does): every non-ASCII character escaped.
    expect(valueParts({ item: { o: { k: 'v\u202e' } }, text: [], json: [] }, '/o')).toEqual(['{"k":"v\\u202e"}']);
    expect(otherMembers('users', fakeAdminItem({ sub: 'u', 'a/b\u202e': 1 }))).toEqual([
      { name: { text: 'a/b\u202e', characters: [expect.objectContaining({ code_point: 'U+202E' })] }, pointer: '/a~1b\u202e' },
    ]);
  });
});
