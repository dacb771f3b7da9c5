import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyTheme, effectiveTheme } from './theme';

function fakeMedia(matches: boolean) {
  const listeners = new Set<() => void>();
  const media = {
    matches,
    addEventListener: (_: string, f: () => void) => listeners.add(f),
    removeEventListener: (_: string, f: () => void) => listeners.delete(f),
    change(to: boolean) {
      media.matches = to;
      for (const f of listeners) f();
    },
    listeners,
  };
  vi.stubGlobal('matchMedia', () => media);
  return media;
}

describe('theme', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('follows the setting, or the system for "system"', () => {
    expect(effectiveTheme('light', true)).toBe('light');
    expect(effectiveTheme('dark', false)).toBe('dark');
    expect(effectiveTheme('system', true)).toBe('dark');
    expect(effectiveTheme('system', false)).toBe('light');
  });

  it('tracks system changes only while "system" is chosen', () => {
    const media = fakeMedia(false);
    const root = document.createElement('html');
    applyTheme('system', root);
    expect(root.dataset.theme).toBe('light');
    media.change(true);
    expect(root.dataset.theme).toBe('dark');
    applyTheme('light', root);
    expect(media.listeners.size).toBe(0);
    media.change(false);
    media.change(true);
    expect(root.dataset.theme).toBe('light');
  });
});
