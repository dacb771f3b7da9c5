import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { makeAccount } from '../../tests/fixtures';
import Accounts from './Accounts.svelte';
import { FakeBackend } from './backend/fake';

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

  it('removes an account only after a second, explicit step', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()] });
    const onchanged = vi.fn();
    render(Accounts, { backend, accounts: [makeAccount()], onchanged, onenroll: () => {}, onreenroll: () => {} });
    await fireEvent.click(screen.getByRole('button', { name: 'Remove the account of Ada Lovelace at https://auth.example.test' }));
    expect(backend.calls).toEqual([]);
    const account = screen.getByTestId('account');
    expect(account).toHaveTextContent('The server is not told');
    await fireEvent.click(within(account).getByTestId('confirm-remove'));
    await vi.waitFor(() => expect(onchanged).toHaveBeenCalledOnce());
    expect(backend.calls).toEqual([{ method: 'removeAccount', args: ['acct_1'] }]);
  });

  it('invites to enroll when there is no account', async () => {
    const onenroll = vi.fn();
    render(Accounts, { backend: new FakeBackend(), accounts: [], onchanged: () => {}, onenroll, onreenroll: () => {} });
    expect(screen.getByTestId('accounts-empty')).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: 'Add an account' }));
    expect(onenroll).toHaveBeenCalled();
  });
});
