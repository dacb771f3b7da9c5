import { afterEach, beforeEach, vi } from 'vitest';
import { useClock } from '../src/lib/clock.svelte';
import { NOW } from './fixtures';

/**
 * Pins the shared clock to NOW (fake Date and setInterval only, so testing-library's
 * own timeouts keep working) for the tests of the calling file.
 */
export function pinClock(): void {
  let stop: (() => void) | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW * 1000, toFake: ['Date', 'setInterval', 'clearInterval'] });
    stop = useClock();
  });
  afterEach(() => {
    stop?.();
    vi.useRealTimers();
  });
}

/** Lets the shared clock tick `seconds` times. */
export function tick(seconds: number): void {
  vi.advanceTimersByTime(seconds * 1000);
}
