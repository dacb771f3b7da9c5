import { beforeEach, describe, expect, it, vi } from 'vitest';

// `@tauri-apps/api/core` is mocked: outside the Tauri webview there is no IPC, so
// `invoke` is replaced by a vi.fn() whose result each test sets, and Channel by a stub.
vi.mock('@tauri-apps/api/core', () => {
  class Channel<T> {
    onmessage: (message: T) => void = () => {};
  }
  return { invoke: vi.fn(), isTauri: vi.fn(() => false), Channel };
});

import { invoke } from '@tauri-apps/api/core';
import { makeView } from '../../../tests/fixtures';
import { COMMANDS, TauriBackend, TIMELINE_MAX } from './tauri';
import type { UiEvent } from './types';

const invokeMock = vi.mocked(invoke);

describe('TauriBackend', () => {
  beforeEach(() => {
    invokeMock.mockReset();
  });

  it('names exactly the commands of src-tauri/commands.rs', () => {
    expect(Object.values(COMMANDS).sort()).toEqual(
      [
        'app_status',
        'subscribe_events',
        'inbox_views',
        'first_screen_shown',
        'request_view',
        'approve',
        'deny',
        'accounts',
        'enroll_preview',
        'enroll',
        'remove_account',
        'history',
        'verify_receipt',
        'export_history',
        'settings',
        'update_settings',
        'decode_qr_image',
        'submit_key_passphrase',
        'cancel_key_passphrase',
        'unverified_block',
        'lift_unverified_block',
        'security_keys',
        'add_security_key',
        'remove_security_key',
        'submit_security_key_pin',
        'cancel_security_key_pin',
        'admin_page',
        'admin_action',
      ].sort(),
    );
  });

  it('passes snake_case arguments, as the commands declare them', async () => {
    invokeMock.mockResolvedValue({});
    const backend = new TauriBackend();
    await backend.requestView('a', 'r');
    await backend.approve('a', 'r');
    await backend.approve('a', 'r', 'CODE');
    await backend.deny('a', 'r', 'wrong_details');
    await backend.enrollPreview('link');
    await backend.enroll('link');
    await backend.enroll('link', 'old');
    await backend.removeAccount('a');
    await backend.verifyReceipt('a', 'r');
    await backend.updateSettings({ theme: 'dark' });
    await backend.submitKeyPassphrase('walrus quietly orbits saffron');
    await backend.cancelKeyPassphrase();
    await backend.unverifiedBlock('a');
    await backend.liftUnverifiedBlock('a');
    expect(invokeMock.mock.calls).toEqual([
      ['request_view', { account_id: 'a', request_id: 'r' }],
      ['approve', { account_id: 'a', request_id: 'r', typed_binding_message: null }],
      ['approve', { account_id: 'a', request_id: 'r', typed_binding_message: 'CODE' }],
      ['deny', { account_id: 'a', request_id: 'r', reason: 'wrong_details' }],
      ['enroll_preview', { link: 'link' }],
      ['enroll', { link: 'link', replaces: null }],
      ['enroll', { link: 'link', replaces: 'old' }],
      ['remove_account', { account_id: 'a' }],
      ['verify_receipt', { account_id: 'a', request_id: 'r' }],
      ['update_settings', { patch: { theme: 'dark' } }],
      ['submit_key_passphrase', { passphrase: 'walrus quietly orbits saffron' }],
      ['cancel_key_passphrase', undefined],
      ['unverified_block', { account_id: 'a' }],
      ['lift_unverified_block', { account_id: 'a' }],
    ]);
  });

  it('passes the security key commands their arguments and checks their lists', async () => {
    invokeMock.mockResolvedValue([]);
    const backend = new TauriBackend();
    await backend.securityKeys('a');
    await backend.addSecurityKey('a', 'Desk key');
    await backend.removeSecurityKey('a', 'cred_1');
    await backend.submitSecurityKeyPin(3, '4739');
    await backend.cancelSecurityKeyPin(4);
    expect(invokeMock.mock.calls).toEqual([
      ['security_keys', { account_id: 'a' }],
      ['add_security_key', { account_id: 'a', name: 'Desk key' }],
      ['remove_security_key', { account_id: 'a', credential_id: 'cred_1' }],
      ['submit_security_key_pin', { pin_id: 3, pin: '4739' }],
      ['cancel_security_key_pin', { pin_id: 4 }],
    ]);
    invokeMock.mockResolvedValue({});
    await expect(backend.securityKeys('a')).rejects.toEqual({ code: 'internal', message: 'The app backend sent a malformed list.', characters: [] });
  });

  it('passes the admin commands their arguments and checks the page', async () => {
    const backend = new TauriBackend();
    invokeMock.mockResolvedValueOnce({ items: [], next_cursor: null });
    await expect(backend.adminPage('a', 'grants', [['status', 'active'], ['cursor', 'c1']])).resolves.toEqual({
      items: [],
      next_cursor: null,
    });
    invokeMock.mockResolvedValueOnce({ changed: true });
    await expect(backend.adminAction('a', { action: 'revoke_grant', grant_id: 'jti_1' })).resolves.toEqual({ changed: true });
    expect(invokeMock.mock.calls).toEqual([
      ['admin_page', { account_id: 'a', list: 'grants', query: [['status', 'active'], ['cursor', 'c1']] }],
      ['admin_action', { account_id: 'a', action: { action: 'revoke_grant', grant_id: 'jti_1' } }],
    ]);
    invokeMock.mockResolvedValueOnce([]);
    await expect(backend.adminPage('a', 'audit', [])).rejects.toMatchObject({ code: 'internal' });
  });

  it('sends a QR image as raw bytes and checks the answer is a link', async () => {
    const image = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    invokeMock.mockResolvedValueOnce('countersign://enroll?x');
    await expect(new TauriBackend().decodeQrImage(image)).resolves.toBe('countersign://enroll?x');
    expect(invokeMock).toHaveBeenCalledWith('decode_qr_image', image);
    invokeMock.mockResolvedValueOnce({ not: 'a link' });
    await expect(new TauriBackend().decodeQrImage(image)).rejects.toMatchObject({ code: 'internal' });
    invokeMock.mockRejectedValueOnce({ code: 'invalid_qr_image', message: 'no QR code was found in the image' });
    await expect(new TauriBackend().decodeQrImage(image)).rejects.toEqual({
      code: 'invalid_qr_image',
      message: 'no QR code was found in the image',
      characters: [],
    });
  });

  it('returns lists and refuses answers that are not lists', async () => {
    const views = [makeView()];
    invokeMock.mockResolvedValueOnce(views);
    await expect(new TauriBackend().inboxViews()).resolves.toEqual(views);
    expect(invokeMock).toHaveBeenCalledWith('inbox_views', undefined);
    invokeMock.mockResolvedValueOnce(views);
    await expect(new TauriBackend().inboxViews(30)).resolves.toEqual(views);
    expect(invokeMock).toHaveBeenLastCalledWith('inbox_views', { limit: 30 });
    invokeMock.mockResolvedValueOnce({ not: 'a list' });
    await expect(new TauriBackend().history()).rejects.toMatchObject({ code: 'internal' });
  });

  it('records each round trip in the performance timeline by command name only, failed ones too', async () => {
    performance.clearMeasures();
    invokeMock.mockResolvedValueOnce([]);
    await new TauriBackend().inboxViews(12);
    invokeMock.mockRejectedValueOnce({ code: 'locked', message: 'secret-ish detail' });
    await expect(new TauriBackend().appStatus()).rejects.toMatchObject({ code: 'locked' });
    const measures = performance.getEntriesByType('measure');
    expect(measures.map((m) => m.name)).toEqual(['ipc inbox_views', 'ipc app_status']);
    for (const m of measures) expect(m.duration).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(measures)).not.toContain('secret-ish');

    // The start-up's only: the timeline stops growing.
    invokeMock.mockResolvedValue([]);
    for (let i = 0; i < TIMELINE_MAX + 5; i += 1) await new TauriBackend().inboxViews();
    expect(performance.getEntriesByType('measure')).toHaveLength(TIMELINE_MAX);
    performance.clearMeasures();
  });

  it('subscribes with a channel and stops delivering after unsubscribe', async () => {
    invokeMock.mockResolvedValueOnce(null);
    const received: UiEvent[] = [];
    const stop = await new TauriBackend().subscribe((e) => received.push(e));
    const [command, args] = invokeMock.mock.calls[0] as [string, { channel: { onmessage: (e: UiEvent) => void } }];
    expect(command).toBe('subscribe_events');
    args.channel.onmessage({ event: 'resync' });
    stop();
    args.channel.onmessage({ event: 'resync' });
    expect(received).toEqual([{ event: 'resync' }]);
  });

  it('maps a {code, message, characters} rejection to a BackendError, keeping only those fields', async () => {
    invokeMock.mockRejectedValueOnce({ code: 'store', message: 'The local store is locked.', stack: 'x' });
    await expect(new TauriBackend().inboxViews()).rejects.toStrictEqual({
      code: 'store',
      message: 'The local store is locked.',
      characters: [],
    });
    // The characters to mark in the message are kept, field by field; malformed entries are dropped.
    const rlo = { code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 12, utf16_offset: 12 };
    invokeMock.mockRejectedValueOnce({
      code: 'unknown_request',
      message: 'no request "r\u202e1" in the inbox',
      characters: [{ ...rlo, extra: '<img>' }, { code_point: 'U+200B' }, 'x', null],
    });
    await expect(new TauriBackend().inboxViews()).rejects.toStrictEqual({
      code: 'unknown_request',
      message: 'no request "r\u202e1" in the inbox',
      characters: [rlo],
    });
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object without code', { message: 'no code' }],
    ['an object with a non-string code', { code: 7, message: 'numeric code' }],
    ['an empty string', ''],
  ])('maps a rejection with %s to code "internal"', async (_label, rejection) => {
    invokeMock.mockRejectedValueOnce(rejection);
    const error: unknown = await new TauriBackend().appStatus().catch((e: unknown) => e);
    expect(error).toStrictEqual({ code: 'internal', message: 'Something went wrong in the app backend.' });
  });

  it('keeps the text of a plain string or Error rejection under code "internal"', async () => {
    invokeMock.mockRejectedValueOnce('Command approve not allowed by ACL');
    await expect(new TauriBackend().approve('a', 'r')).rejects.toStrictEqual({
      code: 'internal',
      message: 'Command approve not allowed by ACL',
    });
    invokeMock.mockRejectedValueOnce(new TypeError('IPC unavailable'));
    await expect(new TauriBackend().accounts()).rejects.toStrictEqual({ code: 'internal', message: 'IPC unavailable' });
  });
});
