import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { makeAccount, NOW } from '../../../tests/fixtures';
import App from '../../App.svelte';
import { FakeBackend, type FakeBackendOptions } from '../backend/fake';
import type { AccountView } from '../backend/types';
import Admin from './Admin.svelte';

const ADMIN = makeAccount({ id: 'acct_admin', user: { sub: 'u_admin', name: 'Ada Admin', roles: ['admin', 'user'] } });
const USER = makeAccount({ id: 'acct_user', user: { sub: 'u_1', name: 'Bob User', roles: ['user'] } });

function setup(options: FakeBackendOptions = {}, accounts: AccountView[] = [ADMIN]) {
  const backend = new FakeBackend([], { accounts, now: () => NOW, ...options });
  render(Admin, { backend, accounts });
  return backend;
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
    expect(screen.getByTestId('admin')).toBeInTheDocument();
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
      'Revoke the grant jti_000000 of user u_admin for client client_00: its access token stops working at once (it introspects inactive); later refresh tokens of it too. This is recorded in the audit log.',
    );
    // The safe choice has the focus.
    expect(within(dialog).getByTestId('admin-confirm-no')).toHaveFocus();
    await fireEvent.click(within(dialog).getByTestId('admin-confirm-no'));
    expect(screen.queryByTestId('admin-confirm')).toBeNull();
    expect(actions(backend)).toEqual([]);
  });

  it('runs the confirmed action, says what it did, and loads the list again', async () => {
    const backend = setup({ admin: { grants: 20 } });
    await fireEvent.click(screen.getByTestId('admin-tab-grants'));
    const [first] = await rows();
    await fireEvent.click(first!);
    await fireEvent.click(screen.getByTestId('admin-revoke-grant'));
    const before = pages(backend).length;
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    expect(await screen.findByTestId('admin-result')).toHaveTextContent('Revoked the grant jti_000000: its access token no longer works.');
    expect(actions(backend)).toEqual([['acct_admin', { action: 'revoke_grant', grant_id: 'jti_000000' }]]);
    await vi.waitFor(() => expect(pages(backend).length).toBeGreaterThan(before));
    await vi.waitFor(() => expect(screen.getAllByTestId('grant-status')[0]).toHaveTextContent('revoked'));

    // The same again: nothing to change, said so.
    await fireEvent.click((await rows())[0]!);
    const button = screen.getByTestId('admin-revoke-grant');
    expect(button).toBeDisabled();
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
    expect(screen.getByTestId('admin-confirm-what')).toHaveTextContent('Unblock the client Billing agent (client_00) for user u_0001');
    await fireEvent.click(screen.getByTestId('admin-confirm-yes'));
    await vi.waitFor(() =>
      expect(screen.getByTestId('admin-result')).toHaveTextContent('Nothing to change: the client Billing agent (client_00) was not blocked for user u_0001.'),
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
    await fireEvent.click(within(devices[0]!).getByTestId('admin-revoke-device'));
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
});
