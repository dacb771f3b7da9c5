/**
 * How many inbox cards fill a window `height` CSS pixels high (a card is
 * more than 100 px high): at least 4, at most 30, and 12 when the window
 * has no size yet (started hidden in the tray).
 */
export function firstScreenCount(height: number): number {
  if (!(height > 0)) return 12;
  return Math.min(30, Math.max(4, Math.ceil(height / 100)));
}

/**
 * Resolves once the page has had the chance to paint what was just put in
 * the DOM: after the next animation frame and the task that follows it. A
 * hidden page gets no animation frames, so it resolves after `fallbackMs`
 * at the latest.
 *
 * Used between the inbox's first screen and the load of the whole list:
 * parsing and rendering a thousand requests holds the page's thread for a
 * second or more, and the first screen must be on screen before that starts
 * (docs/performance.md, "Desktop app").
 */
export function afterPaint(fallbackMs = 100): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(fallback);
      resolve();
    };
    const fallback = setTimeout(finish, fallbackMs);
    requestAnimationFrame(() => setTimeout(finish, 0));
  });
}
