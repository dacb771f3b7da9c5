import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import samples from '../../../tests/agreement/admin.json';
import { makeAccount, NOW } from '../../../tests/fixtures';
import App from '../../App.svelte';
import { AUDIT_ACTIONS } from '../backend/admin-wire';
import { FakeBackend, type FakeBackendOptions } from '../backend/fake';
import type { AdminItems, AdminUser } from '../backend/admin-wire';
import type { FakeAdminOptions } from '../backend/fake-admin';
import type { AccountView, AdminList, AdminPageView, BackendError, TextFinding } from '../backend/types';
import { formatTime } from '../format';
import { riskLabel } from '../risk';
import Admin from './Admin.svelte';

const ADMIN = makeAccount({ id: 'acct_admin', user: { sub: 'u_admin', name: 'Ada Admin', roles: ['admin', 'user'] } });
const USER = makeAccount({ id: 'acct_user', user: { sub: 'u_1', name: 'Bob User', roles: ['user'] } });

function setup(options: FakeBackendOptions = {}, accounts: AccountView[] = [ADMIN]) {
  const backend = new FakeBackend([], { accounts, now: () => NOW, ...options });
  render(Admin, { backend, accounts });
  return backend;
}

/**
 * A fake whose pages can be held, failed or emptied one by one (`rule`, by list and cursor):
 * the call is recorded and answered by the fake, then held until the rule's promise settles.
 */
class Paging extends FakeBackend {
  rule: (list: AdminList, cursor: string | undefined, query: [string, string][]) => Promise<void> | AdminPageView | BackendError | undefined = () =>
    undefined;

  override async adminPage(accountId: string, list: AdminList, query: [string, string][]): Promise<AdminPageView> {
    const cursor = query.find(([name]) => name === 'cursor')?.[1];
    const said = this.rule(list, cursor, query);
    const page = super.adminPage(accountId, list, query);
    if (said instanceof Promise) {
      await said;
      return page;
    }
    await page;
    if (said && 'code' in said) throw said;
    return said ?? page;
  }
}

function paging(admin: FakeAdminOptions, accounts: AccountView[] = [ADMIN]) {
  const backend = new Paging([], { accounts, now: () => NOW, admin });
  render(Admin, { backend, accounts });
  return backend;
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const state = (testid = 'admin-list') => screen.getByTestId(`${testid}-state`);
const total = (testid = 'admin-list') => Number(state(testid).dataset.total);
const auditPages = (backend: FakeBackend) => pages(backend).filter((a) => a[1] === 'audit');

/** Scrolls to the end of what is loaded until `rows` rows are. */
async function scrollUntil(rows: number): Promise<void> {
  const list = screen.getByTestId('admin-list');
  while (total() < rows) {
    const before = total();
    list.scrollTop = 64 * (before - 10);
    await fireEvent.scroll(list);
    await vi.waitFor(() => expect(total()).toBeGreaterThan(before));
  }
}

/** The user's name with a RIGHT-TO-LEFT OVERRIDE at offset 3, as the core reports it. */
const HOSTILE_NAME = 'Eve\u202eAdmin';
const HOSTILE_NAME_TEXT: TextFinding[] = [
  {
    field: '/user/name',
    warnings: [
      {
        code: 'bidi_control',
        severity: 'danger',
        index: null,
        path: null,
        in_key: false,
        message: 'The name: U+202E RIGHT-TO-LEFT OVERRIDE at position 3',
        message_characters: [],
        characters: [{ code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 3, utf16_offset: 3 }],
      },
    ],
  },
];
const SECOND = makeAccount({
  id: 'acct_admin2',
  issuer: 'https://other.example.test',
  user: { sub: 'u_a2', name: HOSTILE_NAME, roles: ['admin'] },
  user_text: HOSTILE_NAME_TEXT,
});

type Sample = Record<string, unknown>;
const SAMPLES = samples as unknown as AdminItems;

/** What the panel shows of a member: the text that must be in its `<dd>`, whole. */
function shown(name: string, value: unknown): string[] {
  if (name === 'risk') return [riskLabel(String(value))];
  if (typeof value === 'string') return [value];
  if (typeof value === 'number') return [name === 'at' || name.endsWith('_at') || name.endsWith('_until') ? formatTime(value) : String(value)];
  if (typeof value === 'boolean') return [value ? 'yes' : 'no'];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return [JSON.stringify(value)];
}

function expectWhole(panel: HTMLElement, sample: Sample): void {
  for (const [name, value] of Object.entries(sample)) {
    const dd = panel.querySelector<HTMLElement>(`dd[data-field="${name}"]`);
    expect(dd, `${name} has its place in the panel`).not.toBeNull();
    const text = dd!.textContent ?? '';
    if (typeof value === 'boolean') expect(text.trim(), name).toBe(value ? 'yes' : 'no');
    for (const whole of shown(name, value)) expect(text, name).toContain(whole);
  }
}

const pages = (backend: FakeBackend) => backend.calls.filter((c) => c.method === 'adminPage').map((c) => c.args);
const actions = (backend: FakeBackend) => backend.calls.filter((c) => c.method === 'adminAction').map((c) => c.args);

async function rows(): Promise<HTMLElement[]> {
  await screen.findAllByTestId('admin-row');
  return screen.getAllByTestId('admin-row');
}

describe('Admin view', () => {
  it('is in the navigation only when an account has the admin role', async () => {
    const plain = new FakeBackend([], { accounts: [USER] });
    const { unmount } = render(App, { backend: plain });
    await screen.findByTestId('inbox-empty');
    await vi.waitFor(() => expect(plain.calls.some((c) => c.method === 'accounts')).toBe(true));
    expect(screen.queryByTestId('nav-admin')).toBeNull();
    unmount();

    const admin = new FakeBackend([], { accounts: [USER, ADMIN] });
    render(App, { backend: admin });
    await fireEvent.click(await screen.findByTestId('nav-admin'));
    expect(await screen.findByTestId('admin')).toBeInTheDocument();
    await rows();
    // Asked as the administrator's account, never the other one.
    expect(new Set(pages(admin).map((args) => args[0]))).toEqual(new Set(['acct_admin']));
  });

  it('opens when an administrator notice is clicked, and only for an administrator', async () => {
    const plain = new FakeBackend([], { accounts: [USER] });
    const { unmount } = render(App, { backend: plain });
    await screen.findByTestId('inbox-empty');
    plain.emit({ event: 'open_admin' });
    await vi.waitFor(() => expect(plain.calls.filter((c) => c.method === 'accounts').length).toBeGreaterThan(1));
    expect(screen.queryByTestId('admin')).toBeNull();
    expect(screen.getByTestId('inbox-empty')).toBeInTheDocument();
    unmount();

    const admin = new FakeBackend([], { accounts: [ADMIN] });
    render(App, { backend: admin });
    await screen.findByTestId('inbox-empty');
    admin.emit({ event: 'open_admin' });
    expect(await screen.findByTestId('admin')).toBeInTheDocument();
  });

  it('offers a picker when several accounts are administrators', async () => {
    const second = makeAccount({ id: 'acct_admin2', issuer: 'https://other.example.test', user: { sub: 'u_a2', name: 'Other Admin', roles: ['admin'] } });
    const backend = setup({}, [ADMIN, second]);
    await rows();
    const picker = screen.getByTestId('admin-account') as HTMLSelectElement;
    await fireEvent.change(picker, { target: { value: 'acct_admin2' } });
    await vi.waitFor(() => expect(pages(backend).at(-1)?.[0]).toBe('acct_admin2'));
  });

  it('says exactly what a revocation will do; keeping it as it is does nothing', async () => {
    const backend = setup({ admin: { grants: 20 } });
    await fireEvent.click(screen.getByTestId('admin-tab-grants'));
    const [first] = await rows();
    await fireEvent.click(first!);
    await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
    const dialog = screen.getByTestId('admin-confirm');
    expect(within(dialog).getByTestId('admin-confirm-what')).toHaveTextContent(
      'Revoke the grant jti_000000 of user u_admin for client client_00: its access tokens stop working at once (they introspect inactive), and so do its refresh tokens. This is recorded in the audit log.',
    );
    // The safe choice has the focus.
    expect(within(dialog).getByTestId('admin-confirm-no')).toHaveFocus();
    await fireEvent.click(within(dialog).getByTestId('admin-confirm-no'));
    expect(screen.queryByTestId('admin-confirm')).toBeNull();
    expect(actions(backend)).toEqual([]);
  });

  it('shows until when a grant can be refreshed, and that a revoked one cannot', async () => {
    setup({ admin: { grants: 20 } });
    await fireEvent.click(screen.getByTestId('admin-tab-grants'));
    const field = () => document.querySelector('[data-field="refreshable_until"]');
    await fireEvent.click((await rows())[0]!);
    expect(field()).toHaveTextContent('no live refresh token');
    await fireEvent.click((await rows())[1]!);
    expect(field()).not.toHaveTextContent('no live refresh token');
    expect(field()?.textContent).toMatch(/\d/);
    await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    await screen.findByTestId('admin-result');
    await fireEvent.click((await rows())[1]!);
    await vi.waitFor(() => expect(field()).toHaveTextContent('no live refresh token'));
  });

  it('runs the confirmed action, says what it did, and loads the list again', async () => {
    const backend = setup({ admin: { grants: 20 } });
    await fireEvent.click(screen.getByTestId('admin-tab-grants'));
    const [first] = await rows();
    await fireEvent.click(first!);
    await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
    const before = pages(backend).length;
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    expect(await screen.findByTestId('admin-result')).toHaveTextContent('Revoked the grant jti_000000: its access and refresh tokens no longer work.');
    expect(actions(backend)).toEqual([['acct_admin', { action: 'revoke_grant', grant_id: 'jti_000000' }]]);
    await vi.waitFor(() => expect(pages(backend).length).toBeGreaterThan(before));
    await vi.waitFor(() => expect(screen.getAllByTestId('grant-status')[0]).toHaveTextContent('revoked'));

    // The same again: nothing to change, said so.
    await fireEvent.click((await rows())[0]!);
    expect(screen.getByTestId('admin-revoke-grant')).toBeDisabled();
    expect(screen.getByTestId('admin-grant-revoked')).toHaveTextContent('Already revoked: nothing to change.');

    // Revoked elsewhere between the list and the confirmation: the server changed nothing, and says so.
    await fireEvent.click((await rows())[1]!);
    await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
    await backend.adminAction('acct_admin', { action: 'revoke_grant', grant_id: 'jti_000001' });
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    await vi.waitFor(() =>
      expect(screen.getByTestId('admin-result')).toHaveTextContent('Nothing to change: the grant jti_000001 was already revoked.'),
    );
  });

  it('says when there was nothing to change', async () => {
    const backend = setup();
    await fireEvent.click(screen.getByTestId('admin-tab-clients'));
    const list = await rows();
    await fireEvent.click(list[0]!);
    await fireEvent.click(screen.getByTestId('admin-block-all'));
    expect(screen.getByTestId('admin-confirm-what')).toHaveTextContent(
      'Block the client Billing agent (client_00) for everyone: it is disabled at once',
    );
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    expect(await screen.findByTestId('admin-result')).toHaveTextContent('Blocked the client Billing agent (client_00) for everyone.');
    // The list is loaded again: the client now offers to be unblocked.
    await vi.waitFor(() => expect(screen.getAllByTestId('admin-row')[0]).toHaveTextContent('blocked for everyone'));
    await fireEvent.click((await rows())[0]!);
    await fireEvent.click(screen.getByTestId('admin-unblock-all'));
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    await vi.waitFor(() => expect(screen.getByTestId('admin-result')).toHaveTextContent('Unblocked the client Billing agent (client_00) for everyone.'));
    // A block for one user names the user; an unblock where none is: nothing to change.
    await fireEvent.click((await rows())[0]!);
    await fireEvent.input(screen.getByTestId('admin-block-sub'), { target: { value: 'u_0001' } });
    await fireEvent.click(screen.getByTestId('admin-unblock-user'));
    expect(screen.getByTestId('admin-confirm-what')).toHaveTextContent(
      'Unblock the client Billing agent (client_00) for user u_0001: this lifts an administrator’s block of it for them only. A block from the user’s own “This wasn’t me” reports is not lifted here: it lapses on its own once those reports are older than the server’s not_me window.',
    );
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    await vi.waitFor(() =>
      expect(screen.getByTestId('admin-result')).toHaveTextContent(
        'Nothing to change: the client Billing agent (client_00) was not blocked by an administrator for user u_0001.',
      ),
    );
    expect(actions(backend).at(-1)).toEqual(['acct_admin', { action: 'unblock', client_id: 'client_00', sub: 'u_0001' }]);
  });

  it('cancels a pending request and revokes a device after confirmation', async () => {
    const backend = setup();
    const [first] = await rows();
    await fireEvent.click(first!);
    await fireEvent.click(screen.getByTestId('admin-cancel'));
    expect(screen.getByTestId('admin-confirm-what')).toHaveTextContent(
      'Cancel the request req_00000 of Billing agent (client_00) to user Ada Admin (u_admin): it is withdrawn from the user’s approvers at once, and the agent is told that an administrator cancelled it',
    );
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    expect(await screen.findByTestId('admin-result')).toHaveTextContent('Cancelled the request req_00000.');

    await fireEvent.click(screen.getByTestId('admin-tab-users'));
    await fireEvent.click((await rows())[1]!);
    const devices = await screen.findAllByTestId('admin-device');
    await fireEvent.click(devices[0]!);
    expect(within(screen.getByTestId('admin-device-selected')).getByTestId('admin-device-fields')).toHaveTextContent('dev_u_0001_0');
    await fireEvent.click(screen.getByTestId('admin-revoke-device'));
    expect(screen.getByTestId('admin-confirm-what')).toHaveTextContent(
      "Revoke the device user1's laptop (dev_u_0001_0) of user u_0001: it is refused at once and its open connections are closed",
    );
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    expect(await screen.findByTestId('admin-result')).toHaveTextContent('Revoked the device dev_u_0001_0.');
    expect(actions(backend)).toEqual([
      ['acct_admin', { action: 'cancel', request_id: 'req_00000' }],
      ['acct_admin', { action: 'revoke_device', device_id: 'dev_u_0001_0' }],
    ]);
    // The action is in the audit log, newest first.
    await fireEvent.click(screen.getByTestId('admin-tab-audit'));
    const audit = await rows();
    expect(audit[0]).toHaveTextContent('device.revoked by device:dev_fake_admin');
    expect(audit[1]).toHaveTextContent('request.cancelled by device:dev_fake_admin');
  });

  it('renders a bounded number of rows of 100,000 entries and fetches the next page near the end', async () => {
    const backend = setup({ admin: { auditEntries: 100_000, grants: 10_000 } });
    await fireEvent.click(screen.getByTestId('admin-tab-audit'));
    await rows();
    const list = screen.getByTestId('admin-list');
    expect(screen.getAllByTestId('admin-row').length).toBeLessThanOrEqual(30);
    expect(pages(backend).filter((a) => a[1] === 'audit')).toEqual([['acct_admin', 'audit', [['limit', '200']]]]);
    // Scroll near the end of the 200 loaded: the next page is asked for by its cursor.
    list.scrollTop = 64 * 170;
    await fireEvent.scroll(list);
    await vi.waitFor(() =>
      expect(pages(backend).filter((a) => a[1] === 'audit').at(-1)).toEqual(['acct_admin', 'audit', [['limit', '200'], ['cursor', '200']]]),
    );
    await vi.waitFor(() => expect(screen.getAllByTestId('admin-row')[0]).toHaveTextContent(`#${100_000 - Number(list.dataset.first)}`));
    expect(screen.getAllByTestId('admin-row').length).toBeLessThanOrEqual(30);
    // Far down the list, only what is in view is there.
    list.scrollTop = 64 * 350;
    await fireEvent.scroll(list);
    await vi.waitFor(() => expect(screen.getAllByTestId('admin-row')[0]).toHaveTextContent(`#${100_000 - 344}`));
    expect(screen.getAllByTestId('admin-row').length).toBeLessThanOrEqual(30);
  });

  it('applies the filters of a list', async () => {
    const backend = setup({ admin: { auditEntries: 1_000 } });
    await fireEvent.click(screen.getByTestId('admin-tab-audit'));
    await rows();
    await fireEvent.input(screen.getByTestId('admin-filter-action'), { target: { value: 'token.revoked' } });
    await fireEvent.input(screen.getByTestId('admin-filter-actor'), { target: { value: ' device:dev_u_0003_0 ' } });
    await fireEvent.click(screen.getByTestId('admin-filter-apply'));
    await vi.waitFor(() =>
      expect(pages(backend).at(-1)).toEqual([
        'acct_admin',
        'audit',
        [
          ['action', 'token.revoked'],
          ['actor', 'device:dev_u_0003_0'],
          ['limit', '200'],
        ],
      ]),
    );
    for (const row of await rows()) expect(row).toHaveTextContent('token.revoked by device:dev_u_0003_0');
  });

  it('shows hostile names and audit data as text with their characters marked', async () => {
    setup({
      admin: {
        audit: [
          {
            seq: 900,
            at: NOW,
            actor: 'client:client_rlo',
            action: 'request.created',
            target: 'req_x',
            data: { client_name: 'Invoice \u202egnp.exe', note: '<img src=x onerror=alert(1)>' },
            hash: 'h',
          },
        ],
      },
    });
    await fireEvent.click(screen.getByTestId('admin-tab-clients'));
    const hostile = (await rows()).find((r) => r.dataset.key === 'client_rlo')!;
    const mark = hostile.querySelector('mark');
    expect(mark).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(hostile.textContent).not.toContain('\u202e');
    await fireEvent.click(hostile);
    await fireEvent.click(screen.getByTestId('admin-block-all'));
    const what = screen.getByTestId('admin-confirm-what');
    expect(what.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(what.textContent).not.toContain('\u202e');
    await fireEvent.click(screen.getByTestId('admin-confirm-no'));

    await fireEvent.click(screen.getByTestId('admin-tab-audit'));
    const [entry] = await rows();
    expect(entry).toHaveTextContent('<img src=x onerror=alert(1)>');
    expect(entry!.querySelector('img')).toBeNull();
    expect(entry!.querySelector('mark')).toHaveTextContent('U+202E');
    expect(entry!.textContent).not.toContain('\u202e');
  });

  it('shows an error with its code, and loads again on request', async () => {
    const backend = setup();
    backend.fail({ code: 'server_refused', message: 'the server refused (403 forbidden): the administrator role is required' });
    await fireEvent.click(screen.getByTestId('admin-tab-grants'));
    const error = await screen.findByTestId('admin-list-error');
    expect(error).toHaveTextContent('server_refused: the server refused (403 forbidden)');
    backend.succeed();
    await fireEvent.click(screen.getByTestId('admin-list-retry'));
    expect((await rows()).length).toBeGreaterThan(0);
  });

  it('says when a list is empty', async () => {
    setup({ admin: { pending: 0 } });
    expect(await screen.findByTestId('admin-list-empty')).toHaveTextContent('No pending request matches.');
  });

  describe('hides nothing', () => {
    const OPTIONS: Record<Exclude<AdminList, 'devices'>, FakeAdminOptions> = {
      pending: { pending: 0, pendingRequests: [SAMPLES.pending] },
      grants: { grants: 0, grantList: [SAMPLES.grants] },
      clients: { clients: [SAMPLES.clients] },
      users: { users: [SAMPLES.users], devices: [SAMPLES.devices] },
      audit: { auditEntries: 0, audit: [SAMPLES.audit] },
    };

    it.each(Object.keys(OPTIONS) as (keyof typeof OPTIONS)[])('shows every member of a %s item whole in its panel', async (list) => {
      setup({ admin: OPTIONS[list] });
      await fireEvent.click(screen.getByTestId(`admin-tab-${list}`));
      const [first] = await rows();
      await fireEvent.click(first!);
      expectWhole(screen.getByTestId('admin-selected'), SAMPLES[list] as unknown as Sample);
    });

    it('shows every member of a device whole in its panel', async () => {
      setup({ admin: OPTIONS.users });
      await fireEvent.click(screen.getByTestId('admin-tab-users'));
      await fireEvent.click((await rows())[0]!);
      const [device] = await screen.findAllByTestId('admin-device');
      expect(device).toHaveAttribute('aria-pressed', 'false');
      await fireEvent.click(device!);
      expect(device).toHaveAttribute('aria-pressed', 'true');
      expectWhole(screen.getByTestId('admin-device-selected'), SAMPLES.devices as unknown as Sample);
    });

    it('shows a member this version does not know, as sent, marked', async () => {
      setup({ admin: { users: [{ ...SAMPLES.users, 'team\u202e': ['ops\u200b'] } as AdminUser] } });
      await fireEvent.click(screen.getByTestId('admin-tab-users'));
      await fireEvent.click((await rows())[0]!);
      const dd = screen.getByTestId('admin-selected').querySelector<HTMLElement>('dd[data-field="/team\u202e"]')!;
      expect(dd).toHaveTextContent('["ops⟦U+200B ZERO WIDTH SPACE⟧"]');
      expect(dd.previousElementSibling).toHaveTextContent('team⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧');
      expect(screen.getByTestId('admin-selected').textContent).not.toMatch(/[\u200b\u202e]/);
    });
  });

  describe('the server an action goes to', () => {
    it('names the server when there are several, and sends the action to the account the item came from', async () => {
      const backend = setup({ admin: { grants: 20 } }, [ADMIN, SECOND]);
      await fireEvent.change(screen.getByTestId('admin-account'), { target: { value: 'acct_admin2' } });
      await vi.waitFor(() => expect(pages(backend).at(-1)?.[0]).toBe('acct_admin2'));
      await fireEvent.click(screen.getByTestId('admin-tab-grants'));
      await fireEvent.click((await rows())[0]!);
      await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
      const server = screen.getByTestId('admin-confirm-server');
      expect(server).toHaveTextContent('On the server https://other.example.test (as Eve⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧Admin).');
      expect(server.textContent).not.toContain('\u202e');
      await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
      expect(await screen.findByTestId('admin-result')).toHaveTextContent('On the server https://other.example.test');
      expect(actions(backend)).toEqual([['acct_admin2', { action: 'revoke_grant', grant_id: 'jti_000000' }]]);
    });

    it('with one account, says no server', async () => {
      setup({ admin: { grants: 20 } });
      await fireEvent.click(screen.getByTestId('admin-tab-grants'));
      await fireEvent.click((await rows())[0]!);
      await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
      expect(screen.queryByTestId('admin-confirm-server')).toBeNull();
    });

    it('forgets the selection, the question and the result when another server is chosen', async () => {
      const backend = setup({ admin: { grants: 20 } }, [ADMIN, SECOND]);
      await fireEvent.click(screen.getByTestId('admin-tab-grants'));
      await fireEvent.click((await rows())[0]!);
      await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
      await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
      await screen.findByTestId('admin-result');
      await fireEvent.click((await rows())[1]!);
      await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
      expect(screen.getByTestId('admin-confirm-server')).toHaveTextContent('https://auth.example.test');
      // The picker changes under the open question: nothing of the first server stays.
      await fireEvent.change(screen.getByTestId('admin-account'), { target: { value: 'acct_admin2' } });
      expect(screen.queryByTestId('admin-confirm')).toBeNull();
      expect(screen.queryByTestId('admin-selected')).toBeNull();
      expect(screen.queryByTestId('admin-result')).toBeNull();
      expect(actions(backend)).toHaveLength(1);
    });

    it('forgets them when a reload of the accounts drops the one chosen', async () => {
      const backend = new FakeBackend([], { accounts: [ADMIN, SECOND], now: () => NOW, admin: { grants: 20 } });
      const { rerender } = render(Admin, { backend, accounts: [ADMIN, SECOND] });
      await fireEvent.change(screen.getByTestId('admin-account'), { target: { value: 'acct_admin2' } });
      await fireEvent.click(screen.getByTestId('admin-tab-grants'));
      await fireEvent.click((await rows())[0]!);
      await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
      await rerender({ backend, accounts: [ADMIN] });
      expect(screen.queryByTestId('admin-confirm')).toBeNull();
      expect(screen.queryByTestId('admin-selected')).toBeNull();
      await vi.waitFor(() => expect(pages(backend).at(-1)?.[0]).toBe('acct_admin'));
      expect(actions(backend)).toEqual([]);
    });

    it('shows account names in the picker with flagged characters replaced, and marked beside it', async () => {
      setup({}, [ADMIN, SECOND]);
      const option = within(screen.getByTestId('admin-account')).getByText(/other\.example/);
      expect(option.textContent).toBe('Eve\uFFFDAdmin at https://other.example.test');
      await fireEvent.change(screen.getByTestId('admin-account'), { target: { value: 'acct_admin2' } });
      const said = screen.getByTestId('admin-server');
      expect(said.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
      expect(said.textContent).not.toContain('\u202e');
    });
  });

  describe('one user of a client', () => {
    async function openClient(): Promise<void> {
      await fireEvent.click(screen.getByTestId('admin-tab-clients'));
      await fireEvent.click((await rows())[0]!);
    }

    it('marks what was typed and trims nothing', async () => {
      const backend = setup();
      await openClient();
      expect(screen.getByTestId('admin-block-user')).toBeDisabled();
      await fireEvent.input(screen.getByTestId('admin-block-sub'), { target: { value: ' u_0001\u202e' } });
      expect(screen.getByTestId('admin-one-user')).toHaveTextContent('⟦U+0020 SPACE⟧u_0001⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧, as typed');
      await fireEvent.click(screen.getByTestId('admin-block-user'));
      const what = screen.getByTestId('admin-confirm-what');
      expect(what).toHaveTextContent('for user ⟦U+0020 SPACE⟧u_0001⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧: their pending requests');
      expect(what.textContent).not.toContain('\u202e');
      await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
      await screen.findByTestId('admin-result');
      expect(actions(backend)).toEqual([['acct_admin', { action: 'block', client_id: 'client_00', sub: ' u_0001\u202e' }]]);
    });

    it('offers to pick the user from the users, with the core’s marks', async () => {
      const backend = setup({
        admin: {
          users: [{ sub: 'u_\u200b7', username: 'mallory', name: 'Mallory', roles: ['user'], disabled: false, active_devices: 0 }],
        },
      });
      await openClient();
      await fireEvent.click(screen.getByTestId('admin-pick-user'));
      const [user] = await screen.findAllByTestId('admin-pick-row');
      await fireEvent.click(user!);
      expect(screen.getByTestId('admin-one-user')).toHaveTextContent('u_⟦U+200B ZERO WIDTH SPACE⟧7, picked: Mallory (mallory)');
      await fireEvent.click(screen.getByTestId('admin-unblock-user'));
      expect(screen.getByTestId('admin-confirm-what')).toHaveTextContent('for user u_⟦U+200B ZERO WIDTH SPACE⟧7: this lifts an administrator’s block');
      await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
      await screen.findByTestId('admin-result');
      expect(actions(backend)).toEqual([['acct_admin', { action: 'unblock', client_id: 'client_00', sub: 'u_\u200b7' }]]);
    });
  });

  it('shows the server’s words for states as text, marked, and an unknown status with a fixed class', async () => {
    setup({
      admin: {
        grants: 0,
        grantList: [{ ...SAMPLES.grants, status: 'paused\u202e' }],
        pending: 0,
        pendingRequests: [{ ...SAMPLES.pending, risk: 'severe\u202e' }],
        clients: [{ ...SAMPLES.clients, delivery_mode: 'poll\u200b' }],
      },
    });
    const [request] = await rows();
    const unknownRisk = within(request!).getByTestId('admin-risk-unknown');
    expect(unknownRisk).toHaveTextContent('Unknown risk (severe⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧)');
    expect(unknownRisk).toHaveClass('tint-risk-critical');

    await fireEvent.click(screen.getByTestId('admin-tab-grants'));
    await rows();
    const status = screen.getByTestId('grant-status');
    expect(status).toHaveTextContent('paused⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧');
    expect(status.className).toMatch(/\bstatus-unknown\b/);
    expect(status.className).not.toContain('\u202e');

    await fireEvent.click(screen.getByTestId('admin-tab-clients'));
    const [client] = await rows();
    expect(client).toHaveTextContent('poll⟦U+200B ZERO WIDTH SPACE⟧');
    await fireEvent.click(client!);
    expect(screen.getByTestId('admin-selected').querySelector('dd[data-field="delivery_mode"]')).toHaveTextContent('poll⟦U+200B ZERO WIDTH SPACE⟧');
    expect(screen.getByTestId('admin').textContent).not.toMatch(/[\u200b\u202e]/);
  });

  it('suggests the audit actions of this version in the action filter', async () => {
    setup();
    await fireEvent.click(screen.getByTestId('admin-tab-audit'));
    const input = screen.getByTestId('admin-filter-action');
    const suggestions = screen.getByTestId(`admin-suggest-action`);
    expect(input.getAttribute('list')).toBe(suggestions.id);
    expect([...suggestions.querySelectorAll('option')].map((o) => o.value)).toEqual([...AUDIT_ACTIONS]);
  });

  describe('paging', () => {
    it('drops a page asked before the filters changed', async () => {
      const backend = paging({ auditEntries: 1_000 });
      const held = gate();
      backend.rule = (list, _cursor, query) => (list === 'audit' && query.length === 1 ? held.promise : undefined);
      await fireEvent.click(screen.getByTestId('admin-tab-audit'));
      expect(screen.getByTestId('admin-list-loading')).toBeInTheDocument();
      await fireEvent.input(screen.getByTestId('admin-filter-action'), { target: { value: 'token.revoked' } });
      await fireEvent.click(screen.getByTestId('admin-filter-apply'));
      await vi.waitFor(() => expect(total()).toBeGreaterThan(0));
      const filtered = total();
      held.open();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(total()).toBe(filtered);
      for (const row of await rows()) expect(row).toHaveTextContent('token.revoked');
      expect(auditPages(backend).map((a) => a[2])).toEqual([[['limit', '200']], [['action', 'token.revoked'], ['limit', '200']]]);
    });

    it('drops a page asked before an action loaded the list again', async () => {
      const backend = paging({ grants: 10_000 });
      const held = gate();
      backend.rule = (list, cursor) => (list === 'grants' && cursor === '200' ? held.promise : undefined);
      await fireEvent.click(screen.getByTestId('admin-tab-grants'));
      await fireEvent.click((await rows())[0]!);
      const list = screen.getByTestId('admin-list');
      list.scrollTop = 64 * 170;
      await fireEvent.scroll(list);
      await vi.waitFor(() => expect(pages(backend).at(-1)?.[2]).toEqual([['limit', '200'], ['cursor', '200']]));
      await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
      await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
      await screen.findByTestId('admin-result');
      await vi.waitFor(() => expect(screen.getAllByTestId('grant-status')[0]).toHaveTextContent('revoked'));
      held.open();
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Only the first page, asked again: the held second page of the old list was not appended.
      expect(total()).toBe(200);
      expect(screen.getAllByTestId('grant-status')[0]).toHaveTextContent('revoked');
    });

    it('goes on past an empty page that has a next cursor', async () => {
      const backend = paging({ auditEntries: 1_000 });
      backend.rule = (list, cursor) => (list === 'audit' && cursor === undefined ? { items: [], next_cursor: '0' } : undefined);
      await fireEvent.click(screen.getByTestId('admin-tab-audit'));
      await vi.waitFor(() => expect(total()).toBe(200));
      expect(screen.queryByTestId('admin-list-empty')).toBeNull();
      expect((await rows())[0]).toHaveTextContent('#1000');
      expect(auditPages(backend).map((a) => a[2])).toEqual([[['limit', '200']], [['limit', '200'], ['cursor', '0']]]);
    });

    it('says a later page failed, keeps what it has, and asks it once again when told twice', async () => {
      const backend = paging({ auditEntries: 1_000 });
      let failures = 1;
      backend.rule = (list, cursor) =>
        list === 'audit' && cursor === '200' && failures-- > 0 ? {
              code: 'network',
              message: 'connection reset\u202e',
              characters: [{ code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 16, utf16_offset: 16 }],
            } : undefined;
      await fireEvent.click(screen.getByTestId('admin-tab-audit'));
      await rows();
      const list = screen.getByTestId('admin-list');
      list.scrollTop = 64 * 170;
      await fireEvent.scroll(list);
      const error = await screen.findByTestId('admin-list-page-error');
      expect(error).toHaveTextContent('network: connection reset⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧');
      expect(total()).toBe(200);
      // Two clicks before the page is drawn again: one request.
      const retry = screen.getByTestId('admin-list-page-retry');
      void fireEvent.click(retry);
      void fireEvent.click(retry);
      await vi.waitFor(() => expect(total()).toBe(400));
      expect(auditPages(backend).filter((a) => (a[2] as [string, string][]).some(([n, v]) => n === 'cursor' && v === '200'))).toHaveLength(2);
      expect(screen.queryByTestId('admin-list-page-error')).toBeNull();
    });

    it('keeps only the pages near the view, and asks a page let go again by its cursor', async () => {
      const backend = paging({ auditEntries: 100_000 });
      await fireEvent.click(screen.getByTestId('admin-tab-audit'));
      await rows();
      await scrollUntil(2_400);
      // 12 pages seen; the items of those near the view only.
      expect(Number(state().dataset.pages)).toBe(12);
      expect(Number(state().dataset.kept)).toBeLessThanOrEqual(800);
      // Back to the top: the first page was let go, and is asked again (no cursor: the first).
      const calls = auditPages(backend).length;
      const list = screen.getByTestId('admin-list');
      list.scrollTop = 0;
      await fireEvent.scroll(list);
      await vi.waitFor(() => expect(auditPages(backend).length).toBe(calls + 1));
      expect(auditPages(backend).at(-1)?.[2]).toEqual([['limit', '200']]);
      await vi.waitFor(() => expect(screen.getAllByTestId('admin-row')[0]).toHaveTextContent('#100000'));
      expect(Number(state().dataset.kept)).toBeLessThanOrEqual(800);
      expect(total()).toBe(2_400);
    });
  });
});
