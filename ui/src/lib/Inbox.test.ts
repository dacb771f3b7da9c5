import { render, screen, within } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { pinClock, tick } from '../../tests/clock';
import { makeView, MODELS, NOW } from '../../tests/fixtures';
import Inbox from './Inbox.svelte';
import { mixedWithNameWarning, SPOOFED_NAME, SPOOFED_NAME_FINDINGS } from '../../tests/spoof';

describe('Inbox', () => {
  pinClock();

  it('shows loading, the empty state and errors as text', () => {
    const { rerender } = render(Inbox, { views: undefined, onopen: () => {} });
    expect(screen.getByTestId('inbox-loading')).toHaveAttribute('role', 'status');
    expect(screen.getByTestId('inbox')).toHaveAttribute('aria-busy', 'true');
    expect(screen.getByRole('region', { name: 'Inbox' })).toBe(screen.getByTestId('inbox'));

    rerender({ views: [], onopen: () => {} });
    expect(screen.getByTestId('inbox-empty')).toHaveTextContent('No requests waiting');
    expect(screen.getByTestId('inbox')).toHaveAttribute('aria-busy', 'false');

    rerender({ views: undefined, error: { code: 'store', message: 'The store is locked <b>now</b>.' }, onopen: () => {} });
    const error = screen.getByTestId('inbox-error');
    expect(error).toHaveAttribute('role', 'alert');
    expect(error).toHaveTextContent('The store is locked <b>now</b>.');
    expect(error.querySelector('b')).toBeNull();
  });

  it('reveals a bidi control in the agent name and marks flagged summary values where they stand', () => {
    const views = [
      makeView({
        request: { id: 'a', client: { client_id: 'c', client_name: SPOOFED_NAME, verified: false } },
        display: mixedWithNameWarning(),
        request_text: SPOOFED_NAME_FINDINGS,
      }),
      makeView({ request: { id: 'b' }, display: MODELS.invalid }),
    ];
    render(Inbox, { views, onopen: () => {} });
    const [first, second] = within(screen.getByTestId('inbox-list')).getAllByTestId('inbox-item') as [HTMLElement, HTMLElement];
    const name = within(first).getByRole('heading', { level: 3 });
    expect(name.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(name.textContent).not.toContain('\u202e');
    expect(within(first).getByTestId('inbox-open').getAttribute('aria-label')).toBe('Review the request from Acme [U+202E]tnega');
    expect(within(first).getByTestId('inbox-warnings')).toHaveTextContent('1 warning');
    const summary = within(second).getByTestId('inbox-summary');
    expect(summary.querySelector('mark')).toHaveTextContent('U+200B ZERO WIDTH SPACE');
    expect(summary).toHaveTextContent('buy 10 AAPL⟦U+200B ZERO WIDTH SPACE⟧ (market)');
    expect(summary.textContent).not.toContain('\u200b');
    expect(summary.textContent).not.toContain('\\u{');
  });

  it('summarizes a scope-only request by its scopes, a hidden character marked where it stands', () => {
    const view = makeView({
      request: { authorization_details: [], scope: ['openid', 'mail\u200B.read'], scope_descriptions: {} },
      display: { ...MODELS.mixed, details: [], display_schemas: {} },
      request_text: [
        {
          field: '/scope/1',
          warnings: [
            {
              code: 'invisible_character',
              severity: 'danger',
              index: null,
              path: null,
              in_key: false,
              message: 'U+200B ZERO WIDTH SPACE at position 4',
              message_characters: [],
              characters: [{ code_point: 'U+200B', name: 'ZERO WIDTH SPACE', position: 4, utf16_offset: 4 }],
            },
          ],
        },
      ],
    });
    render(Inbox, { views: [view], onopen: () => {} });
    const summary = screen.getByTestId('inbox-summary');
    expect(summary).toHaveTextContent('Access request · openid · mail⟦U+200B ZERO WIDTH SPACE⟧.read');
    expect(summary.textContent).not.toContain('\u200B');
  });

  it('lists agent name, summary, binding code, risk in words and a live countdown', () => {
    const views = [
      makeView({ request: { id: 'a', risk: 'low', expires_at: 1_767_225_600 + 65 } }),
      makeView({
        request: {
          id: 'b',
          client: { client_id: 'mailer', client_name: 'Mail Assistant', verified: false },
          risk: 'critical',
        },
        display: MODELS.bidi,
      }),
    ];
    render(Inbox, { views, onopen: () => {} });

    const items = within(screen.getByTestId('inbox-list')).getAllByTestId('inbox-item');
    expect(items).toHaveLength(2);
    const [first, second] = items as [HTMLElement, HTMLElement];
    expect(within(first).getByRole('heading', { level: 3 })).toHaveTextContent('Trading Agent');
    expect(within(first).getByTestId('inbox-summary')).toHaveTextContent(
      'buy 10 AAPL (limit) · Send “Q1 figures” to max@example.org, team@example.org · Access to your contacts, photos: read, write',
    );
    expect(first).toHaveTextContent('Code TRADE-4F7Q');
    expect(within(first).getByTestId('risk-badge')).toHaveTextContent('Low risk');
    expect(within(first).getByTestId('countdown')).toHaveTextContent('Expires in 1:05');
    expect(within(first).queryByTestId('inbox-warnings')).toBeNull();

    expect(within(second).getByRole('heading', { level: 3 })).toHaveTextContent('Mail Assistant');
    expect(within(second).getByTestId('risk-badge')).toHaveTextContent('Critical risk');
    expect(within(second).getByTestId('inbox-warnings')).toHaveTextContent('2 warnings');

    tick(6);
    flushSync();
    expect(within(first).getByTestId('countdown')).toHaveTextContent('Expires in 0:59');
    tick(60);
    flushSync();
    expect(within(first).getByTestId('countdown')).toHaveTextContent('Expired');
  });

  /** A stand-in IntersectionObserver for `run`: `report` tells the inbox's
   * observer whether a card is near the screen. */
  function withFakeObserver(run: (o: { targets: () => Element[]; report: (target: Element, near: boolean) => void }) => void): void {
    type Observed = { callback: IntersectionObserverCallback; targets: Element[] };
    const observers: Observed[] = [];
    class FakeObserver {
      targets: Element[] = [];
      constructor(public callback: IntersectionObserverCallback) {
        observers.push(this);
      }
      observe(target: Element): void {
        this.targets.push(target);
      }
      unobserve(target: Element): void {
        this.targets = this.targets.filter((t) => t !== target);
      }
      disconnect(): void {
        this.targets = [];
      }
    }
    vi.stubGlobal('IntersectionObserver', FakeObserver);
    try {
      const observer = () => observers[0] as Observed;
      run({
        targets: () => observer().targets,
        report: (target, near) =>
          observer().callback(
            [{ target, isIntersecting: near } as IntersectionObserverEntry],
            observer() as unknown as IntersectionObserver,
          ),
      });
    } finally {
      vi.unstubAllGlobals();
    }
  }

  /** Local `HH:MM` of a Unix timestamp, as a far request shows it. */
  function clockAt(unixSeconds: number): string {
    const at = new Date(unixSeconds * 1000);
    return `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
  }

  it('lets only the countdowns near the screen tick; a far request says when it expires', () => {
    withFakeObserver(({ targets, report }) => {
      const views = [
        makeView({ request: { id: 'a', expires_at: NOW + 65 } }),
        makeView({ request: { id: 'b', expires_at: NOW + 3600 } }),
      ];
      const { unmount } = render(Inbox, { views, onopen: () => {} });
      const [first, second] = screen.getAllByTestId('inbox-item') as [HTMLElement, HTMLElement];
      expect(targets()).toEqual([first, second]);

      // Near until the observer says otherwise.
      expect(within(second).getByTestId('countdown')).toHaveTextContent('Expires in 60 min');
      report(second, false);
      flushSync();
      const clock = clockAt(NOW + 3600);
      expect(within(second).queryByTestId('countdown')).toBeNull();
      expect(within(second).getByTestId('expiry')).toHaveTextContent(`Expires at ${clock}`);

      tick(5);
      flushSync();
      expect(within(first).getByTestId('countdown')).toHaveTextContent('Expires in 1:00');
      expect(within(second).getByTestId('expiry')).toHaveTextContent(`Expires at ${clock}`);

      // Back near the screen: it counts down again, from the current time.
      report(second, true);
      flushSync();
      expect(within(second).queryByTestId('expiry')).toBeNull();
      expect(within(second).getByTestId('countdown')).toHaveTextContent('Expires in 59 min');

      unmount();
      expect(targets()).toEqual([]);
    });
  });

  // The list is replaced on every change (a new request, one decided
  // elsewhere): the cards that stay keep their element and their place in
  // the observer, a new one is observed, a gone one is not any more, and
  // what the observer says still reaches each card.
  it('keeps observing each card when the list is reordered, grows or shrinks', () => {
    withFakeObserver(({ targets, report }) => {
      const a = makeView({ request: { id: 'a', expires_at: NOW + 3600 } });
      const b = makeView({ request: { id: 'b', expires_at: NOW + 3600 } });
      const c = makeView({ request: { id: 'c', expires_at: NOW + 7200 } });
      const { rerender } = render(Inbox, { views: [a, b], onopen: () => {} });
      const [cardA, cardB] = screen.getAllByTestId('inbox-item') as [HTMLElement, HTMLElement];
      report(cardB, false);
      flushSync();
      expect(within(cardB).getByTestId('expiry')).toHaveTextContent(`Expires at ${clockAt(NOW + 3600)}`);

      rerender({ views: [c, b, a], onopen: () => {} });
      flushSync();
      const cards = screen.getAllByTestId('inbox-item') as [HTMLElement, HTMLElement, HTMLElement];
      expect(cards.map((card) => card.dataset['requestId'])).toEqual(['c', 'b', 'a']);
      const [cardC] = cards;
      expect(cards[1]).toBe(cardB);
      expect(cards[2]).toBe(cardA);
      expect(new Set(targets())).toEqual(new Set(cards));
      // B moved and stays far; A and the new C are near until told.
      expect(within(cardB).getByTestId('expiry')).toHaveTextContent(`Expires at ${clockAt(NOW + 3600)}`);
      expect(within(cardA).getByTestId('countdown')).toHaveTextContent('Expires in 60 min');
      for (const [card, expires] of [[cardC, NOW + 7200], [cardA, NOW + 3600]] as const) {
        report(card, false);
        flushSync();
        expect(within(card).getByTestId('expiry')).toHaveTextContent(`Expires at ${clockAt(expires)}`);
      }
      report(cardB, true);
      flushSync();
      expect(within(cardB).getByTestId('countdown')).toHaveTextContent('Expires in 60 min');

      rerender({ views: [b], onopen: () => {} });
      flushSync();
      expect(screen.getAllByTestId('inbox-item')).toEqual([cardB]);
      expect(targets()).toEqual([cardB]);
      report(cardB, false);
      flushSync();
      expect(within(cardB).getByTestId('expiry')).toHaveTextContent(`Expires at ${clockAt(NOW + 3600)}`);
    });
  });

  it('opens a request with a labelled button', () => {
    const onopen = vi.fn();
    const view = makeView();
    render(Inbox, { views: [view], onopen });
    const button = screen.getByRole('button', { name: 'Review the request from Trading Agent' });
    button.click();
    expect(onopen).toHaveBeenCalledWith(view);
  });

  it('shows requests that left with the reason, until dismissed', () => {
    const ondismiss = vi.fn();
    const view = makeView({ request: { id: 'gone' } });
    render(Inbox, {
      views: [],
      departed: [
        { key: 'k1', view, reason: 'cancelled', at: 0 },
        { key: 'k2', view: makeView({ request: { id: 'late' } }), reason: 'expired', at: 0 },
      ],
      onopen: () => {},
      ondismiss,
    });
    const reasons = screen.getAllByTestId('departed-reason').map((e) => e.textContent);
    expect(reasons).toEqual(['Withdrawn by the agent', 'Expired before you decided']);
    within(screen.getAllByTestId('departed-item')[0] as HTMLElement)
      .getByRole('button', { name: 'Dismiss' })
      .click();
    expect(ondismiss).toHaveBeenCalledWith('k1');
  });

  it('names the account when there are several', () => {
    render(Inbox, { views: [makeView()], showAccount: true, onopen: () => {} });
    expect(screen.getByTestId('inbox-item')).toHaveTextContent('For Ada Lovelace at https://auth.example.test');
  });

  it('spells out a risk level it does not know instead of hiding it', () => {
    render(Inbox, { views: [makeView({ request: { risk: 'extreme' } })], onopen: () => {} });
    expect(screen.getByTestId('risk-badge')).toHaveTextContent('Unknown risk (extreme)');
  });
});
