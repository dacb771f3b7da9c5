import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { pinClock, tick } from '../tests/clock';
import { makeAccount, makeHistory, makeView, MODELS, NOW } from '../tests/fixtures';
import { SPOOFED_NAME, SPOOFED_NAME_FINDINGS } from '../tests/spoof';
import App from './App.svelte';
import { FakeBackend } from './lib/backend/fake';
import { firstScreenCount } from './lib/paint';

/** The first screen's size in the test window (jsdom's 768 px: 8). */
const FIRST = firstScreenCount(window.innerHeight);

describe('App', () => {
  pinClock();

  it('shows the product name, the mark, navigation and the version', async () => {
    render(App, { backend: new FakeBackend([], { status: { version: '1.2.3' }, accounts: [makeAccount()] }) });
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Countersign');
    const mark = document.querySelector('header img');
    expect(mark).toHaveAttribute('alt', '');
    expect(mark?.getAttribute('src')).toMatch(/mark\.svg$/);
    expect(within(screen.getByRole('navigation', { name: 'Main' })).getAllByRole('button').map((b) => b.textContent?.trim())).toEqual([
      'Inbox',
      'History',
      'Settings',
    ]);
    expect(screen.getByTestId('nav-inbox')).toHaveAttribute('aria-current', 'page');
    expect(await screen.findByTestId('inbox-empty')).toBeInTheDocument();
    expect(await screen.findByTestId('app-version')).toHaveTextContent('Countersign 1.2.3');
  });

  it('invites to add an account when there is none, and shows app warnings', async () => {
    render(App, {
      backend: new FakeBackend([], { status: { key_store_warning: 'No OS keychain: keys are in an encrypted file.' } }),
    });
    expect(await screen.findByTestId('welcome')).toBeInTheDocument();
    expect(await screen.findByTestId('key-store-warning')).toHaveTextContent('No OS keychain');
    await fireEvent.click(screen.getByTestId('welcome-enroll'));
    expect(await screen.findByTestId('enroll')).toBeInTheDocument();
  });

  it('asks for the key file passphrase when the core waits for it, and only then', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()] });
    render(App, { backend });
    await screen.findByTestId('inbox-empty');
    expect(screen.queryByTestId('passphrase-dialog')).toBeNull();
    backend.requestPassphrase();
    const dialog = await screen.findByRole('dialog', { name: 'Choose a passphrase for your device keys' });
    expect(dialog.dataset.purpose).toBe('create');
    await fireEvent.input(screen.getByLabelText('New passphrase'), { target: { value: 'walrus quietly orbits saffron' } });
    await fireEvent.input(screen.getByLabelText('The same passphrase again'), {
      target: { value: 'walrus quietly orbits saffron' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Use this passphrase' }));
    await vi.waitFor(() => expect(screen.queryByTestId('passphrase-dialog')).toBeNull());
    expect(screen.getByTestId('announcement')).toHaveTextContent('Passphrase set');
    // The next start: the core already waits when the page loads (app status).
    backend.requestPassphrase();
    await screen.findByRole('dialog', { name: 'Unlock your device keys' });
  });

  it('shows the unlock dialog at start when the key file already waits', async () => {
    const backend = new FakeBackend([], {
      accounts: [makeAccount()],
      keyFilePassphrase: 'walrus quietly orbits saffron',
      status: { passphrase_needed: 'open' },
    });
    render(App, { backend });
    await screen.findByRole('dialog', { name: 'Unlock your device keys' });
    await fireEvent.click(screen.getByRole('button', { name: 'Not now' }));
    await vi.waitFor(() => expect(screen.queryByTestId('passphrase-dialog')).toBeNull());
    expect(backend.calls.some((c) => c.method === 'cancelKeyPassphrase')).toBe(true);
    expect(screen.getByTestId('announcement')).toHaveTextContent('No passphrase was entered');
  });

  it('shows a startup failure', async () => {
    render(App, { backend: new FakeBackend([], { status: { startup_error: { code: 'store', message: 'disk full', characters: [] } } }) });
    expect(await screen.findByTestId('startup-error')).toHaveTextContent('disk full');
  });

  it('adds requests as they arrive, newest first, and counts them', async () => {
    const backend = new FakeBackend([makeView({ request: { id: 'old', created_at: NOW - 60 } })], {
      accounts: [makeAccount()],
    });
    render(App, { backend });
    await screen.findByTestId('inbox-item');
    backend.receive(makeView({ request: { id: 'new', created_at: NOW, binding_message: 'NEW-1' } }));
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(2));
    expect(screen.getAllByTestId('inbox-item').map((i) => i.dataset.requestId)).toEqual(['new', 'old']);
    expect(screen.getByTestId('pending-count')).toHaveTextContent('(2)');
  });

  it('coalesces inbox reloads: a burst of new requests makes a few loads, and the last one shows them all', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()] });
    render(App, { backend });
    await screen.findByTestId('inbox-empty');
    const before = backend.calls.filter((c) => c.method === 'inboxViews').length;
    for (let i = 0; i < 50; i++) {
      backend.receive(makeView({ request: { id: `r${i}`, created_at: NOW - i, binding_message: `B-${i}` } }));
    }
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(50));
    const loads = backend.calls.filter((c) => c.method === 'inboxViews').length - before;
    expect(loads).toBeGreaterThanOrEqual(1);
    expect(loads).toBeLessThanOrEqual(3);
  });

  it('shows the first screen of a long inbox at once, then the rest', async () => {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    class HeldBackend extends FakeBackend {
      override async inboxViews(limit?: number) {
        if (limit === undefined) await held;
        return super.inboxViews(limit);
      }
    }
    const views = Array.from({ length: 35 }, (_, i) =>
      makeView({ request: { id: `r${i}`, created_at: NOW - i, binding_message: `B-${i}` } }),
    );
    const backend = new HeldBackend(views, { accounts: [makeAccount()] });
    render(App, { backend });
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(FIRST));
    // The newest first; no count yet (it would say FIRST), and the rest announced.
    expect(screen.getAllByTestId('inbox-item')[0]).toHaveAttribute('data-request-id', 'r0');
    expect(screen.queryByTestId('pending-count')).toBeNull();
    expect(screen.getByTestId('inbox-more')).toHaveTextContent('Loading the other requests');
    release();
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(35));
    expect(screen.getByTestId('pending-count')).toHaveTextContent('(35)');
    expect(screen.queryByTestId('inbox-more')).toBeNull();
    expect(backend.calls.filter((c) => c.method === 'inboxViews').map((c) => c.args)).toEqual([[FIRST], []]);
  });

  it('says so when the rest of a long inbox cannot be loaded, and stops announcing it', async () => {
    class FailingRest extends FakeBackend {
      override async inboxViews(limit?: number) {
        if (limit === undefined) throw { code: 'internal', message: 'The store failed.' };
        return super.inboxViews(limit);
      }
    }
    const views = Array.from({ length: 13 }, (_, i) => makeView({ request: { id: `r${i}`, created_at: NOW - i } }));
    render(App, { backend: new FailingRest(views, { accounts: [makeAccount()] }) });
    expect(await screen.findByTestId('inbox-error')).toHaveTextContent('The store failed.');
    expect(screen.queryByTestId('inbox-more')).toBeNull();
  });

  it('tells the shell once, after its first screen is in the page, that the event stream may start', async () => {
    const seenWhenTold: number[] = [];
    class Watched extends FakeBackend {
      override async firstScreenShown() {
        seenWhenTold.push(screen.queryAllByTestId('inbox-item').length);
        return super.firstScreenShown();
      }
    }
    const views = Array.from({ length: 13 }, (_, i) => makeView({ request: { id: `r${i}`, created_at: NOW - i } }));
    const backend = new Watched(views, { accounts: [makeAccount()] });
    render(App, { backend });
    await vi.waitFor(() => expect(seenWhenTold).toEqual([FIRST]));
    // The rest, then a request arriving: more loads, no second signal.
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(13));
    backend.receive(makeView({ request: { id: 'late', created_at: NOW } }));
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(14));
    expect(backend.calls.filter((c) => c.method === 'firstScreenShown')).toHaveLength(1);
  });

  it('tells the shell its first screen is painted when that screen is the error', async () => {
    let loads = 0;
    class Failing extends FakeBackend {
      override async inboxViews(): Promise<never> {
        loads += 1;
        throw { code: 'internal', message: 'The store failed.' };
      }
    }
    const backend = new Failing([], { accounts: [makeAccount()] });
    render(App, { backend });
    await screen.findByTestId('inbox-error');
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.method === 'firstScreenShown')).toHaveLength(1));
    // Another failed load (a navigation) says nothing more.
    await fireEvent.click(screen.getByTestId('nav-inbox'));
    await vi.waitFor(() => expect(loads).toBe(2));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(backend.calls.filter((c) => c.method === 'firstScreenShown')).toHaveLength(1);
  });

  it('subscribes to events before its first loads, so nothing after them is missed', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()] });
    render(App, { backend });
    await screen.findByTestId('inbox-empty');
    const methods = backend.calls.map((c) => c.method);
    expect(methods.indexOf('subscribe')).toBe(0);
    expect(methods.indexOf('inboxViews')).toBeGreaterThan(0);
  });

  it('asks for as many requests as fill the window first', async () => {
    vi.stubGlobal('innerHeight', 400);
    try {
      const views = Array.from({ length: 9 }, (_, i) => makeView({ request: { id: `r${i}`, created_at: NOW - i } }));
      const backend = new FakeBackend(views, { accounts: [makeAccount()] });
      render(App, { backend });
      await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(9));
      expect(backend.calls.filter((c) => c.method === 'inboxViews').map((c) => c.args)).toEqual([[4], []]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('loads a short inbox once', async () => {
    const backend = new FakeBackend([makeView({ request: { id: 'only' } })], { accounts: [makeAccount()] });
    render(App, { backend });
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(1));
    expect(screen.getByTestId('pending-count')).toHaveTextContent('(1)');
    expect(backend.calls.filter((c) => c.method === 'inboxViews').map((c) => c.args)).toEqual([[FIRST]]);
  });

  it('lets withdrawn and expired requests leave with a visible reason', async () => {
    const backend = new FakeBackend(
      [
        makeView({ request: { id: 'w' } }),
        makeView({ request: { id: 'e', expires_at: NOW + 3, created_at: NOW - 10 } }),
      ],
      { accounts: [makeAccount()] },
    );
    render(App, { backend });
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(2));
    backend.withdraw('acct_1', 'w', 'cancelled');
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(1));
    expect(screen.getByTestId('departed-reason')).toHaveTextContent('Withdrawn by the agent');

    tick(3);
    await vi.waitFor(() => expect(screen.queryAllByTestId('inbox-item')).toHaveLength(0));
    expect(screen.getAllByTestId('departed-reason').map((e) => e.textContent)).toEqual([
      'Withdrawn by the agent',
      'Expired before you decided',
    ]);
  });

  it('marks a bidi control in the agent name where it stands in the announcement of a decision', async () => {
    const view = makeView({
      request: { risk: 'low', binding_message: 'SHOP-2', client: { client_id: 'c', client_name: SPOOFED_NAME, verified: false } },
      request_text: SPOOFED_NAME_FINDINGS,
    });
    render(App, { backend: new FakeBackend([view], { accounts: [makeAccount()] }) });
    await fireEvent.click(await screen.findByTestId('inbox-open'));
    await fireEvent.click(await screen.findByTestId('approve'));
    const announcement = await screen.findByTestId('announcement');
    expect(announcement.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(announcement.textContent).not.toContain('\u202e');
    expect(announcement.querySelector('bdi')).not.toBeNull();
    expect(screen.getByRole('status')).toHaveTextContent('Approved the request from Acme [U+202E]tnega: delivered to the server.');
  });

  it('goes inbox → detail → approve → inbox, and the decision is in the history', async () => {
    const backend = new FakeBackend([makeView({ request: { risk: 'low', binding_message: 'SHOP-1' } })], {
      accounts: [makeAccount()],
      history: [makeHistory()],
    });
    render(App, { backend });
    await fireEvent.click(await screen.findByRole('button', { name: 'Review the request from Trading Agent' }));
    expect(await screen.findByTestId('request-detail')).toBeInTheDocument();
    expect(screen.getByTestId('nav-inbox')).toHaveAttribute('aria-current', 'page');
    await fireEvent.click(screen.getByTestId('approve'));
    expect(await screen.findByTestId('announcement')).toHaveTextContent(
      'Approved the request from Trading Agent: delivered to the server.',
    );
    expect(await screen.findByTestId('inbox-empty')).toBeInTheDocument();

    await fireEvent.click(screen.getByTestId('nav-history'));
    const items = await screen.findAllByTestId('history-item');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('SHOP-1');
  });

  it('marks an open request as gone when it is withdrawn meanwhile', async () => {
    const backend = new FakeBackend([makeView({ display: MODELS.bidi })], { accounts: [makeAccount()] });
    render(App, { backend });
    await fireEvent.click(await screen.findByTestId('inbox-open'));
    await screen.findByTestId('request-detail');
    backend.withdraw('acct_1', 'req_01', 'decided_elsewhere');
    expect(await screen.findByTestId('request-gone')).toHaveTextContent('Decided on another device');
  });

  it('updates connection states live', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount({ connection: { state: 'connecting' } })] });
    render(App, { backend });
    await fireEvent.click(screen.getByTestId('nav-settings'));
    expect(await screen.findByTestId('account-connection')).toHaveTextContent('Connecting…');
    backend.emit({ event: 'connection', account_id: 'acct_1', state: { state: 'push' } });
    await vi.waitFor(() => expect(screen.getByTestId('account-connection')).toHaveTextContent('Connected (live)'));
  });

  it('unsubscribes when it goes away', async () => {
    const backend = new FakeBackend();
    const { unmount } = render(App, { backend });
    await vi.waitFor(() => expect(backend.subscribers).toBe(1));
    unmount();
    expect(backend.subscribers).toBe(0);
  });

  it('uses no inline style attributes', async () => {
    const { container } = render(App, { backend: new FakeBackend([makeView({ display: MODELS.bidi })]) });
    await screen.findByTestId('inbox-item');
    expect(container.querySelector('[style]')).toBeNull();
  });
});

describe('App, when the display changed since shown', () => {
  pinClock();

  it('shows the request again with a notice instead of approving', async () => {
    const backend = new FakeBackend([makeView({ request: { risk: 'low' } })], { accounts: [makeAccount()] });
    const approve = vi.spyOn(backend, 'approve').mockRejectedValueOnce({
      code: 'review_required',
      message: 'the display of request "req_01" changed since it was shown: show it again before approving',
    });
    render(App, { backend });
    await fireEvent.click(await screen.findByTestId('inbox-open'));
    await fireEvent.click(await screen.findByTestId('approve'));
    expect(await screen.findByTestId('request-notice')).toHaveTextContent('review it before deciding');
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.method === 'requestView')).toHaveLength(2));
    expect(approve).toHaveBeenCalledOnce();
  });
});

describe('App, when a notification is clicked', () => {
  pinClock();

  it('opens the request it names, or the inbox for a burst', async () => {
    const backend = new FakeBackend(
      [makeView({ request: { id: 'a', binding_message: 'A-1' } }), makeView({ request: { id: 'b', binding_message: 'B-2' } })],
      { accounts: [makeAccount()] },
    );
    render(App, { backend });
    await vi.waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(2));
    backend.emit({ event: 'open_request', account_id: 'acct_1', request_id: 'b' });
    expect(await screen.findByTestId('request-detail')).toHaveAttribute('data-request-id', 'b');
    expect(screen.getByTestId('binding-message')).toHaveTextContent('B-2');
    backend.emit({ event: 'open_inbox' });
    expect(await screen.findByTestId('inbox-list')).toBeInTheDocument();
    expect(screen.queryByTestId('request-detail')).toBeNull();
  });
});

describe('App, when a connection event races the account list', () => {
  pinClock();

  it('never keeps a stale connection state for a new account', async () => {
    const backend = new FakeBackend([], { accounts: [] });
    render(App, { backend });
    await fireEvent.click(screen.getByTestId('nav-settings'));
    await screen.findByTestId('accounts-empty');
    // The account appears, and its "connected" event arrives before the list is reloaded.
    await backend.enroll('countersign://enroll?issuer=https%3A%2F%2Fa.example&ticket=t');
    backend.emit({ event: 'connection', account_id: 'acct_1', state: { state: 'push' } });
    await vi.waitFor(() => expect(screen.getByTestId('account-connection')).toHaveTextContent('Connected (live)'));
  });
});
