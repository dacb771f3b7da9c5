import { render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeAccount, makeView, NOW } from '../../tests/fixtures';
import App from '../App.svelte';
import { FakeBackend } from './backend/fake';
import { clock, clockDue, clockTicking, useClock } from './clock.svelte';

function setVisibility(state: 'visible' | 'hidden'): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

describe('the shared clock', () => {
  afterEach(() => {
    setVisibility('visible');
    vi.useRealTimers();
  });

  it('ticks only while held, once however many hold it', () => {
    vi.useFakeTimers({ now: NOW * 1000, toFake: ['Date', 'setInterval', 'clearInterval'] });
    expect(clockTicking()).toBe(false);
    const first = useClock();
    const second = useClock();
    expect(clockTicking()).toBe(true);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3000);
    expect(clock.now).toBe(NOW + 3);
    first();
    first(); // released twice counts once
    expect(clockTicking()).toBe(true);
    second();
    expect(clockTicking()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs no timer while the page is hidden and catches up when it is shown', () => {
    vi.useFakeTimers({ now: NOW * 1000, toFake: ['Date', 'setInterval', 'clearInterval'] });
    const release = useClock();
    setVisibility('hidden');
    expect(clockTicking()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.setSystemTime((NOW + 600) * 1000);
    setVisibility('visible');
    expect(clockTicking()).toBe(true);
    expect(clock.now).toBe(NOW + 600);
    release();
    expect(clockTicking()).toBe(false);
  });

  it('is not ticking for an empty inbox, and ticks while requests wait', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()] });
    const { unmount } = render(App, { backend });
    await screen.findByTestId('inbox-empty');
    expect(clockTicking()).toBe(false);
    backend.receive(makeView({ request: { id: 'r1', expires_at: Math.floor(Date.now() / 1000) + 300 } }));
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(1));
    expect(clockTicking()).toBe(true);
    setVisibility('hidden');
    expect(clockTicking()).toBe(false);
    setVisibility('visible');
    expect(clockTicking()).toBe(true);
    unmount();
    expect(clockTicking()).toBe(false);
  });
});

describe('countdowns on the shared clock', () => {
  afterEach(() => vi.useRealTimers());

  it('show whole minutes above ten minutes and move the clock only when their text changes', async () => {
    vi.useFakeTimers({ now: NOW * 1000, toFake: ['Date', 'setInterval', 'clearInterval'] });
    const { default: Countdown } = await import('./Countdown.svelte');
    const { flushSync } = await import('svelte');
    const { unmount } = render(Countdown, { expiresAt: NOW + 660 });
    flushSync();
    const text = () => screen.getByTestId('countdown').textContent?.replace(/\s+/g, ' ').trim();
    expect(text()).toContain('Expires in 11 min');
    // One timer, due when the text next changes (10:59 left: "10 min"), not every second.
    expect(vi.getTimerCount()).toBe(1);
    expect(clockDue()).toBe(NOW + 1);
    vi.advanceTimersByTime(1000);
    flushSync();
    expect(text()).toContain('Expires in 10 min');
    // Next due at 10:00 left, 59 s on: nothing moves meanwhile.
    expect(clockDue()).toBe(NOW + 60);
    vi.advanceTimersByTime(30_000);
    flushSync();
    expect(text()).toContain('Expires in 10 min');
    expect(clockDue()).toBe(NOW + 60);
    vi.advanceTimersByTime(29_000);
    flushSync();
    expect(text()).toContain('Expires in 10:00');
    expect(clockDue()).toBe(NOW + 61);
    vi.advanceTimersByTime(1000);
    flushSync();
    expect(text()).toContain('Expires in 9:59');
    unmount();
    expect(clockTicking()).toBe(false);
  });
});

describe('the inbox on wakes alone (no clock held by the test)', () => {
  afterEach(() => vi.useRealTimers());

  it('lets a request leave when it expires, and closes its open view then', async () => {
    vi.useFakeTimers({ now: NOW * 1000, toFake: ['Date', 'setInterval', 'clearInterval'] });
    const backend = new FakeBackend(
      [
        makeView({ request: { id: 'soon', expires_at: NOW + 3, created_at: NOW - 10 } }),
        makeView({ request: { id: 'later', expires_at: NOW + 3600, created_at: NOW - 20 } }),
      ],
      { accounts: [makeAccount()] },
    );
    const { fireEvent } = await import('@testing-library/svelte');
    render(App, { backend });
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(2));
    // The one timer is due at the nearer request's next countdown step, not later.
    expect(clockDue()).toBe(NOW + 1);
    vi.advanceTimersByTime(3000);
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(1));
    expect(screen.getByTestId('departed-reason')).toHaveTextContent('Expired before you decided');
    // Only the hour-long request is left (59:57, "59 min"): the clock now waits
    // for its next minute step, at 58:59 left.
    expect(clockDue()).toBe(NOW + 61);

    await fireEvent.click(screen.getByTestId('inbox-open'));
    await screen.findByTestId('request-detail');
    vi.setSystemTime((NOW + 3599) * 1000);
    vi.advanceTimersByTime(60_000);
    // Closed at its expiry: it left the inbox while shown, with the reason.
    await vi.waitFor(() => expect(screen.getByTestId('request-gone')).toHaveTextContent(/expired/i));
  });
});
