import { afterEach, describe, expect, it, vi } from 'vitest';
import { afterPaint, firstScreenCount } from './paint';

describe('afterPaint', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('waits for the next animation frame and the task after it', async () => {
    // Timers only: the animation frame is the test's to give.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let frame: FrameRequestCallback | undefined;
    vi.stubGlobal('requestAnimationFrame', (cb: FrameRequestCallback) => {
      frame = cb;
      return 1;
    });
    let resolved = false;
    void afterPaint(10_000).then(() => (resolved = true));
    await vi.advanceTimersByTimeAsync(50);
    expect(resolved).toBe(false);
    frame?.(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(resolved).toBe(true);
  });

  it('resolves after the fallback when no frame comes (a hidden page)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    vi.stubGlobal('requestAnimationFrame', () => 1);
    let resolved = false;
    void afterPaint(100).then(() => (resolved = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(resolved).toBe(true);
  });
});

describe('firstScreenCount', () => {
  it('fills the window with cards of 100 px, within 4 and 30, and takes 12 without a size', () => {
    expect(firstScreenCount(680)).toBe(7);
    expect(firstScreenCount(1440)).toBe(15);
    expect(firstScreenCount(701)).toBe(8);
    expect(firstScreenCount(120)).toBe(4);
    expect(firstScreenCount(10_000)).toBe(30);
    expect(firstScreenCount(0)).toBe(12);
    expect(firstScreenCount(Number.NaN)).toBe(12);
  });
});
