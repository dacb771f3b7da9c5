import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { pinClock } from '../../tests/clock';
import { makeAccount, makeView, NOW } from '../../tests/fixtures';
import App from '../App.svelte';
import { FakeBackend, FAKE_NO_SECURITY_KEY } from './backend/fake';
import type { SecurityKeyPrompt, SecurityKeyView, UiEvent } from './backend/types';
import { notApprovableReason } from './confirm';
import { formatTime } from './format';
import SecurityKeyDialog from './SecurityKeyDialog.svelte';
import SecurityKeys from './SecurityKeys.svelte';

/** U+202E at position 5 of `Acme \u202Etnega`, as the core's classifier reports it. */
const RLO = { code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 5, utf16_offset: 5 };

const KEY: SecurityKeyView = { credential_id: 'cred_a', name: 'Desk key', created_at: NOW - 3600, name_characters: [] };

/** The security key prompts the backend emits. */
async function prompts(backend: FakeBackend): Promise<SecurityKeyPrompt[]> {
  const seen: SecurityKeyPrompt[] = [];
  await backend.subscribe((e: UiEvent) => {
    if (e.event === 'security_key') seen.push(e.prompt);
  });
  return seen;
}

describe('SecurityKeys', () => {
  it('lists the keys with their use, marks their names and says when one is flagged', async () => {
    const keys: SecurityKeyView[] = [
      { ...KEY, last_used_at: NOW - 60 },
      { credential_id: 'cred_b', name: 'Acme \u202Etnega', created_at: NOW - 7200, flagged_at: NOW - 30, name_characters: [RLO] },
    ];
    const backend = new FakeBackend([], { accounts: [makeAccount()], securityKey: {}, securityKeys: { acct_1: keys } });
    render(SecurityKeys, { backend, accountId: 'acct_1', unavailable: null });
    const [used, flagged] = (await screen.findAllByTestId('security-key')) as [HTMLElement, HTMLElement];
    expect(used).toHaveTextContent(`Desk key added ${formatTime(NOW - 3600)} · last used ${formatTime(NOW - 60)}`);
    expect(within(used).queryByTestId('security-key-flagged')).toBeNull();
    expect(flagged.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(flagged.textContent).not.toContain('\u202e');
    expect(flagged).toHaveTextContent('never used');
    expect(within(flagged).getByTestId('security-key-flagged')).toHaveTextContent(`Flagged ${formatTime(NOW - 30)}`);
  });

  it('adds a key under the name typed while the key asks for its touch, and lists it', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()], securityKey: {} });
    const seen = await prompts(backend);
    render(SecurityKeys, { backend, accountId: 'acct_1', unavailable: null });
    expect(await screen.findByTestId('security-keys-empty')).toHaveTextContent('No security key is registered');
    await fireEvent.click(screen.getByTestId('add-security-key'));
    const submit = screen.getByTestId('add-security-key-submit');
    expect(submit).toBeDisabled();
    await fireEvent.input(screen.getByTestId('security-key-name'), { target: { value: 'Desk key' } });
    await fireEvent.click(submit);
    expect(await screen.findByTestId('security-key-added')).toHaveTextContent('Security key “Desk key” added.');
    expect(screen.getByTestId('security-key')).toHaveTextContent('Desk key');
    expect(seen.map((p) => p.text)).toEqual(['Touch your security key to add it as "Desk key"']);
    expect(backend.calls.filter((c) => c.method === 'addSecurityKey')).toEqual([{ method: 'addSecurityKey', args: ['acct_1', 'Desk key'] }]);
    expect(screen.queryByTestId('add-security-key-form')).toBeNull();
  });

  it('keeps the form and shows why when the key fails, and says where keys cannot be used', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()], securityKey: { pin: '4739' } });
    const seen = await prompts(backend);
    render(SecurityKeys, { backend, accountId: 'acct_1', unavailable: null });
    await fireEvent.click(await screen.findByTestId('add-security-key'));
    await fireEvent.input(screen.getByTestId('security-key-name'), { target: { value: 'Desk key' } });
    await fireEvent.click(screen.getByTestId('add-security-key-submit'));
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(seen[0]).toEqual({
      step: 'pin',
      text: 'Enter your security key\'s PIN to add it as "Desk key" (8 tries left)',
      characters: [],
      pin_id: 1,
      retries_left: 8,
    });
    await backend.submitSecurityKeyPin(1, '0000');
    expect(await screen.findByTestId('security-key-operation-error')).toHaveTextContent('wrong PIN (7 tries left)');
    expect(screen.getByTestId('security-keys-empty')).toBeInTheDocument();
    expect(screen.getByTestId('security-key-name')).toHaveValue('Desk key');

    render(SecurityKeys, { backend: new FakeBackend([], { accounts: [makeAccount()] }), accountId: 'acct_1', unavailable: FAKE_NO_SECURITY_KEY });
    expect(await screen.findByTestId('security-keys-unavailable')).toHaveTextContent(
      'Security keys cannot be added here: this build of Countersign reaches no security key',
    );
  });

  it('removes a key only after a second, explicit step', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()], securityKey: {}, securityKeys: { acct_1: [KEY] } });
    render(SecurityKeys, { backend, accountId: 'acct_1', unavailable: null });
    await fireEvent.click(await screen.findByTestId('remove-security-key'));
    expect(backend.calls.filter((c) => c.method === 'removeSecurityKey')).toEqual([]);
    await fireEvent.click(screen.getByTestId('confirm-remove-security-key'));
    expect(await screen.findByTestId('security-keys-empty')).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.method === 'removeSecurityKey')).toEqual([
      { method: 'removeSecurityKey', args: ['acct_1', 'cred_a'] },
    ]);
  });
});

describe('SecurityKeyDialog', () => {
  const pinPrompt: SecurityKeyPrompt = {
    step: 'pin',
    text: "Enter your security key's PIN to approve: TRADE-4F7Q (3 tries left)",
    characters: [],
    pin_id: 5,
    retries_left: 3,
  };

  it('sends the PIN to the request it answers, never an empty one, and clears the field', async () => {
    const backend = new FakeBackend();
    const onhide = vi.fn();
    render(SecurityKeyDialog, { backend, prompt: pinPrompt, onhide });
    expect(screen.getByTestId('security-key-text')).toHaveTextContent(pinPrompt.text);
    expect(screen.getByTestId('security-key-pin')).toHaveAttribute('type', 'password');
    await fireEvent.click(screen.getByTestId('security-key-pin-submit'));
    expect(screen.getByTestId('security-key-error')).toHaveTextContent('Type the PIN of your security key.');
    expect(backend.calls.filter((c) => c.method === 'submitSecurityKeyPin')).toEqual([]);
    await fireEvent.input(screen.getByTestId('security-key-pin'), { target: { value: '1234' } });
    await fireEvent.click(screen.getByTestId('security-key-pin-submit'));
    // Nothing waits for PIN request 5 in this fake: the window says so.
    expect(await screen.findByTestId('security-key-error')).toHaveTextContent('no security key operation is waiting for this PIN any more');
    expect(backend.calls.filter((c) => c.method === 'submitSecurityKeyPin')).toEqual([
      { method: 'submitSecurityKeyPin', args: [5, '(PIN)'] },
    ]);
    expect(screen.getByTestId('security-key-pin')).toHaveValue('');
    // That request is over: the dialog asks to be hidden.
    expect(onhide).toHaveBeenCalledOnce();
  });

  it('marks hidden characters of the request in the prompt, and offers to hide a touch prompt', async () => {
    const onhide = vi.fn();
    const text = 'Touch your security key to approve: Acme \u202Etnega';
    const at = text.indexOf('\u202E');
    const characters = [{ ...RLO, position: at, utf16_offset: at }];
    render(SecurityKeyDialog, { backend: new FakeBackend(), prompt: { step: 'touch', text, characters, pin_id: null, retries_left: null }, onhide });
    const shown = screen.getByTestId('security-key-text');
    expect(shown.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(shown.textContent).not.toContain('\u202e');
    expect(screen.queryByTestId('security-key-pin')).toBeNull();
    await fireEvent.click(screen.getByTestId('security-key-hide'));
    expect(onhide).toHaveBeenCalledOnce();
  });
});

describe('Approving with a security key', () => {
  pinClock();
  // `approvable`: the core's verdict, with (true) or without (false) a security key at hand.
  const critical = (approvable = true) =>
    makeView({ approvable, request: { risk: 'critical', requires: ['webauthn'], binding_message: 'PAY-4F7Q', client: { client_id: 'c', client_name: 'Payments Agent', verified: true } } });

  it('says the key is needed, asks its PIN in a dialog naming the request, then approves', async () => {
    const backend = new FakeBackend([critical()], { accounts: [makeAccount()], securityKey: { pin: '4739' }, securityKeys: { acct_1: [KEY] } });
    render(App, { backend });
    await fireEvent.click(await screen.findByRole('button', { name: 'Review the request from Payments Agent' }));
    expect(await screen.findByTestId('security-key-required')).toHaveTextContent('Approving this request needs your security key');
    await fireEvent.input(screen.getByTestId('confirm-code'), { target: { value: 'PAY-4F7Q' } });
    await fireEvent.click(screen.getByTestId('approve'));
    const dialog = await screen.findByTestId('security-key-dialog');
    expect(dialog).toHaveAttribute('data-step', 'pin');
    expect(within(dialog).getByTestId('security-key-text')).toHaveTextContent("Enter your security key's PIN to approve: PAY-4F7Q (8 tries left)");
    await fireEvent.input(within(dialog).getByTestId('security-key-pin'), { target: { value: '4739' } });
    await fireEvent.click(within(dialog).getByTestId('security-key-pin-submit'));
    expect(await screen.findByTestId('announcement')).toHaveTextContent('Approved the request from Payments Agent');
    // The operation ended: its prompts are gone.
    expect(screen.queryByTestId('security-key-dialog')).toBeNull();
  });

  it('refuses in the request when the PIN is cancelled, and nothing is signed', async () => {
    const backend = new FakeBackend([critical()], { accounts: [makeAccount()], securityKey: { pin: '4739' }, securityKeys: { acct_1: [KEY] } });
    render(App, { backend });
    await fireEvent.click(await screen.findByRole('button', { name: 'Review the request from Payments Agent' }));
    await fireEvent.input(await screen.findByTestId('confirm-code'), { target: { value: 'PAY-4F7Q' } });
    await fireEvent.click(screen.getByTestId('approve'));
    await fireEvent.click(await screen.findByTestId('security-key-cancel'));
    expect(await screen.findByTestId('decision-error')).toHaveTextContent('the security key operation was cancelled');
    expect(screen.queryByTestId('security-key-dialog')).toBeNull();
    expect(screen.getByTestId('request-detail')).toHaveTextContent('Your security key (touch it, and its PIN if it asks)');
    await expect(backend.history()).resolves.toEqual([]);
  });

  it('refuses a second ceremony while one waits, says a locked PIN as such, and names flagged keys', async () => {
    const flagged = { ...KEY, flagged_at: NOW - 10 };
    const backend = new FakeBackend([critical()], { accounts: [makeAccount()], securityKey: { pin: '4739' }, securityKeys: { acct_1: [flagged] } });
    await expect(backend.approve('acct_1', 'req_01', 'PAY-4F7Q')).rejects.toMatchObject({
      code: 'invalid',
      message: expect.stringContaining('every key registered for this account is flagged as possibly cloned'),
    });
    const seen = await prompts(backend);
    const first = backend.addSecurityKey('acct_1', 'A');
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    await expect(backend.addSecurityKey('acct_1', 'B')).rejects.toMatchObject({ code: 'security_key', message: expect.stringContaining('busy') });
    await backend.submitSecurityKeyPin(seen[0]!.pin_id!, '0000');
    await expect(first).rejects.toMatchObject({ message: 'wrong PIN (7 tries left)' });
    for (let left = 6; left >= 0; left -= 1) {
      const attempt = backend.addSecurityKey('acct_1', 'A');
      await vi.waitFor(() => expect(seen.length).toBeGreaterThan(7 - left));
      await backend.submitSecurityKeyPin(seen.at(-1)!.pin_id!, '0000');
      await expect(attempt).rejects.toMatchObject({ message: left === 0 ? expect.stringContaining('PIN is locked') : expect.stringContaining('wrong PIN') });
    }
  });

  it('checks a new key as the core does: the key first, then the name, then the account', async () => {
    const none = new FakeBackend([], { accounts: [makeAccount()] });
    await expect(none.addSecurityKey('acct_nope', '\u202Ex')).rejects.toMatchObject({ code: 'security_key' });
    const backend = new FakeBackend([], { accounts: [makeAccount()], securityKey: {} });
    await expect(backend.addSecurityKey('acct_nope', 'Desk \u202Ekey')).rejects.toEqual({
      code: 'invalid',
      message: 'security key name refused: the name holds a control, bidi or invisible character',
    });
    await expect(backend.addSecurityKey('acct_1', '   ')).rejects.toMatchObject({ message: 'security key name refused: the name is empty' });
    await expect(backend.addSecurityKey('acct_nope', 'Desk key')).rejects.toMatchObject({ code: 'unknown_account' });
  });

  it('shows a PIN request that waited while the page was away', async () => {
    const backend = new FakeBackend([], { accounts: [makeAccount()], securityKey: { pin: '4739' } });
    const pending = backend.addSecurityKey('acct_1', 'Desk key');
    await vi.waitFor(async () => expect((await backend.appStatus()).security_key_pin?.step).toBe('pin'));
    render(App, { backend });
    const dialog = await screen.findByTestId('security-key-dialog');
    expect(within(dialog).getByTestId('security-key-text')).toHaveTextContent('to add it as "Desk key" (8 tries left)');
    await fireEvent.input(within(dialog).getByTestId('security-key-pin'), { target: { value: '4739' } });
    await fireEvent.click(within(dialog).getByTestId('security-key-pin-submit'));
    await expect(pending).resolves.toHaveLength(1);
    expect((await backend.appStatus()).security_key_pin).toBeNull();
  });

  it('does not blame the app for a request it cannot approve for another reason', () => {
    const request = critical().item.request;
    expect(notApprovableReason(request, false, true, true)).toBe('This request cannot be approved here. You can still deny it.');
    expect(notApprovableReason(request, false, true, false)).toContain('this app cannot use one on this computer');
  });

  it('cannot approve where the app has no security key', async () => {
    const backend = new FakeBackend([critical(false)], { accounts: [makeAccount()] });
    render(App, { backend });
    await fireEvent.click(await screen.findByRole('button', { name: 'Review the request from Payments Agent' }));
    expect(await screen.findByTestId('not-approvable')).toHaveTextContent(
      'This request needs your security key, and this app cannot use one on this computer.',
    );
    expect(screen.queryByTestId('approve')).toBeNull();
  });
});
