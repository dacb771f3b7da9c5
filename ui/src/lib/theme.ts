import type { Theme } from './backend/types';

const DARK_QUERY = '(prefers-color-scheme: dark)';

/** The theme to show: the setting, or the system's preference for `system`. */
export function effectiveTheme(theme: Theme, systemDark: boolean): 'light' | 'dark' {
  if (theme === 'system') return systemDark ? 'dark' : 'light';
  return theme;
}

/** Stops following the system of the theme applied last (one follower at a time). */
let stopFollowing: () => void = () => {};

/**
 * Shows `theme` on `root` (`data-theme`, read by app.css) and, for `system`,
 * follows the system's changes until another theme is applied.
 */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  stopFollowing();
  stopFollowing = () => {};
  const media = typeof window.matchMedia === 'function' ? window.matchMedia(DARK_QUERY) : undefined;
  const show = (): void => {
    root.dataset.theme = effectiveTheme(theme, media?.matches ?? false);
  };
  show();
  if (theme !== 'system' || !media) return;
  media.addEventListener('change', show);
  stopFollowing = () => media.removeEventListener('change', show);
}
