import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { makeAccount } from '../../tests/fixtures';
import { SPOOFED_NAME_FINDINGS } from '../../tests/spoof';
import Accounts from './Accounts.svelte';
import { FakeBackend } from './backend/fake';
import { formatTime } from './format';

describe('Accounts', () => {
  it('lists accounts with their connection state in words', () => {
    const accounts = [
      makeAccount(),
      makeAccount({ id: 'acct_2', key_store: 'file', connection: { state: 'disconnected', error: 'connection refused', retry_in_ms: 4000 } }),
      makeAccount({ id: 'acct_3', connection: null }),
    ];
    render(Accounts, { backend: new FakeBackend(), accounts, onchanged: () => {}, onenroll: () => {}, onreenroll: () => {} });
    expect(screen.getAllByTestId('account-connection').map((e) => e.textContent?.trim())).toEqual([
      'Connected (live)',
      'Disconnected: connection refused (retrying in 4 s)',
      'Not connected yet',
    ]);
    expect(screen.getAllByTestId('account')[1]).toHaveTextContent('Encrypted key file (no keychain available)');
  });

  it('marks a bidi control in the user name where it stands, from the core findings', () => {
    const [finding] = SPOOFED_NAME_FINDINGS;
    const user_text = [{ ...finding!, field: '/user/name' }];
    const account = makeAccount({ user: { sub: 'u', name: 'Acme \u202Etnega', roles: ['user'] }, user_text });
    render(Accounts, { backend: new FakeBackend(), accounts: [account], onchanged: () => {}, onenroll: () => {}, onreenroll: () => {} });
    const heading = within(screen.getByTestId('account')).getByRole('heading', { level: 3 });
    expect(heading.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(heading.textContent).not.toContain('\u202e');
    const remove = screen.getByRole('button', { name: /^Remove the account of/ });
    expect(remove.getAttribute('aria-label')).toContain('Acme [U+202E]tnega');
  });

  it('removes an account only after a second, explicit step', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()] });
    const onchanged = vi.fn();
    render(Accounts, { backend, accounts: [makeAccount()], onchanged, onenroll: () => {}, onreenroll: () => {} });
    const removals = () => backend.calls.filter((c) => c.method === 'removeAccount');
    await fireEvent.click(screen.getByRole('button', { name: 'Remove the account of Ada Lovelace at https://auth.example.test' }));
    expect(removals()).toEqual([]);
    const account = screen.getByTestId('account');
    expect(account).toHaveTextContent('The server is not told');
    await fireEvent.click(within(account).getByTestId('confirm-remove'));
    await vi.waitFor(() => expect(onchanged).toHaveBeenCalledOnce());
    expect(removals()).toEqual([{ method: 'removeAccount', args: ['acct_1'] }]);
  });

  it('says since when unverified agents are blocked, per account, and lifts the block', async () => {
    const since = 1_767_225_042;
    const accounts = [makeAccount(), makeAccount({ id: 'acct_2' })];
    const backend = new FakeBackend([], { accounts, unverifiedBlocks: { acct_2: { blocked: true, since } } });
    render(Accounts, { backend, accounts, onchanged: () => {}, onenroll: () => {}, onreenroll: () => {} });
    const [first, second] = screen.getAllByTestId('account') as [HTMLElement, HTMLElement];
    const line = await within(second).findByTestId('unverified-block');
    expect(line).toHaveTextContent(`Unverified agents are blocked since ${formatTime(since)}`);
    // Each account asked its own server; the unblocked one says nothing.
    expect(backend.calls.filter((c) => c.method === 'unverifiedBlock').map((c) => c.args)).toEqual([['acct_1'], ['acct_2']]);
    expect(within(first).queryByTestId('unverified-block')).toBeNull();

    await fireEvent.click(within(second).getByRole('button', { name: 'Allow unverified agents again' }));
    expect(await within(second).findByTestId('unverified-block-lifted')).toHaveTextContent(
      'Unverified agents may send you requests again.',
    );
    expect(within(second).queryByTestId('unverified-block')).toBeNull();
    expect(backend.calls.filter((c) => c.method === 'liftUnverifiedBlock')).toEqual([
      { method: 'liftUnverifiedBlock', args: ['acct_2'] },
    ]);
    await expect(backend.unverifiedBlock('acct_2')).resolves.toEqual({ blocked: false });
  });

  it('keeps the block and shows why when lifting it fails', async () => {
    const accounts = [makeAccount()];
    const backend = new FakeBackend([], { accounts, unverifiedBlocks: { acct_1: { blocked: true, since: 1_767_225_042 } } });
    render(Accounts, { backend, accounts, onchanged: () => {}, onenroll: () => {}, onreenroll: () => {} });
    await screen.findByTestId('unverified-block');
    backend.fail({ code: 'network', message: 'network: connection refused' });
    await fireEvent.click(screen.getByTestId('lift-unverified-block'));
    expect(await screen.findByRole('alert')).toHaveTextContent('network: connection refused');
    expect(screen.getByTestId('unverified-block')).toBeInTheDocument();
  });

  it('invites to enroll when there is no account', async () => {
    const onenroll = vi.fn();
    render(Accounts, { backend: new FakeBackend(), accounts: [], onchanged: () => {}, onenroll, onreenroll: () => {} });
    expect(screen.getByTestId('accounts-empty')).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: 'Add an account' }));
    expect(onenroll).toHaveBeenCalled();
  });
});
