import { describe, expect, it } from 'vitest';
import {
  connectionLabel,
  countdownStep,
  deliveryLabel,
  denyReasonLabel,
  formatCountdown,
  spokenDuration,
  withdrawnLabel,
} from './format';
import { reveal } from './reveal';

describe('format', () => {
  it('counts down in minutes and seconds, hours when long', () => {
    expect(formatCountdown(65)).toBe('1:05');
    expect(formatCountdown(3723)).toBe('1:02:03');
    expect(formatCountdown(-5)).toBe('0:00');
    expect(spokenDuration(61)).toBe('1 minute 1 second');
  });

  it('steps a countdown by whole minutes above ten minutes, by seconds below, and says when it next changes', () => {
    expect(countdownStep(3600)).toEqual({ text: '60 min', spoken: '60 minutes', nextAt: 3599 });
    expect(countdownStep(3599)).toEqual({ text: '59 min', spoken: '59 minutes', nextAt: 3539 });
    // Rounded down: never more time than there is.
    expect(countdownStep(719).text).toBe('11 min');
    expect(countdownStep(660)).toMatchObject({ text: '11 min', nextAt: 659 });
    // "10 min" until the seconds take over at ten minutes exactly.
    expect(countdownStep(659)).toMatchObject({ text: '10 min', nextAt: 600 });
    expect(countdownStep(601)).toMatchObject({ text: '10 min', nextAt: 600 });
    expect(countdownStep(600)).toEqual({ text: '10:00', spoken: '10 minutes 0 seconds', nextAt: 599 });
    expect(countdownStep(1)).toMatchObject({ text: '0:01', nextAt: 0 });
    expect(countdownStep(0)).toMatchObject({ text: '0:00', nextAt: undefined });
    expect(countdownStep(-3).nextAt).toBeUndefined();
  });

  it('names every reason a request leaves, and unknown ones too', () => {
    expect(withdrawnLabel('cancelled')).toBe('Withdrawn by the agent');
    expect(withdrawnLabel('toString')).toBe('Withdrawn (toString)');
    expect(denyReasonLabel('constructor')).toBe('constructor');
    expect(deliveryLabel('__proto__')).toBe('__proto__');
  });

  it('says the connection state in words', () => {
    expect(connectionLabel({ state: 'polling' })).toBe('Connected (checking periodically)');
  });
});

describe('reveal', () => {
  const rlo = { code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 4, utf16_offset: 4 };

  it('replaces flagged characters by markers and keeps the rest', () => {
    expect(reveal('abc \u202Efed', [rlo])).toEqual([
      { kind: 'text', text: 'abc ' },
      { kind: 'mark', codePoint: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE' },
      { kind: 'text', text: 'fed' },
    ]);
  });

  it('uses UTF-16 offsets, so astral characters before do not shift the marker', () => {
    const zwsp = { code_point: 'U+200B', name: 'ZERO WIDTH SPACE', position: 1, utf16_offset: 2 };
    expect(reveal('😀\u200Bx', [zwsp])).toEqual([
      { kind: 'text', text: '😀' },
      { kind: 'mark', codePoint: 'U+200B', name: 'ZERO WIDTH SPACE' },
      { kind: 'text', text: 'x' },
    ]);
  });

  it('ignores findings that do not point at the named character', () => {
    expect(reveal('abcd', [rlo])).toEqual([{ kind: 'text', text: 'abcd' }]);
    expect(reveal('a', [{ ...rlo, utf16_offset: -1 }])).toEqual([{ kind: 'text', text: 'a' }]);
  });
});
