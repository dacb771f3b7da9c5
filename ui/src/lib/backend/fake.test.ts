import { describe, expect, it, vi } from 'vitest';
import { makeHistory, makeView, MODELS, NOW } from '../../../tests/fixtures';
import { FakeBackend } from './fake';
import type { UiEvent } from './types';

describe('FakeBackend', () => {
  it('hands out copies, newest first', async () => {
    const older = makeView({ request: { id: 'a', created_at: NOW - 100 } });
    const newer = makeView({ request: { id: 'b', created_at: NOW - 10 } });
    const backend = new FakeBackend([older, newer]);
    older.item.request.binding_message = 'changed by the caller';

    const first = await backend.inboxViews();
    expect(first.map((v) => v.item.request.id)).toEqual(['b', 'a']);
    expect(first[1]?.item.request.binding_message).toBe('TRADE-4F7Q');
    first.pop();
    await expect(backend.inboxViews()).resolves.toHaveLength(2);
  });

  it('can be made to fail and to recover, and records every call', async () => {
    const backend = new FakeBackend([]);
    backend.fail({ code: 'offline', message: 'No connection' });
    await expect(backend.inboxViews()).rejects.toStrictEqual({ code: 'offline', message: 'No connection' });
    await expect(backend.appStatus()).rejects.toMatchObject({ code: 'offline' });
    backend.succeed();
    await expect(backend.inboxViews()).resolves.toEqual([]);
    expect(backend.calls.map((c) => c.method)).toEqual(['inboxViews', 'appStatus', 'inboxViews']);
  });

  it('approves and denies like the core: history, event, gone from the inbox', async () => {
    const backend = new FakeBackend([makeView({ request: { id: 'x' } }), makeView({ request: { id: 'y' } })], {
      now: () => NOW,
    });
    const events: UiEvent[] = [];
    await backend.subscribe((e) => events.push(e));

    const approved = await backend.approve('acct_1', 'x');
    expect(approved.history).toMatchObject({ decision: 'approve', request_id: 'x', decided_at: NOW });
    const denied = await backend.deny('acct_1', 'y', 'not_me');
    expect(denied.history.deny_reason).toBe('not_me');
    await expect(backend.inboxViews()).resolves.toEqual([]);
    expect(events.map((e) => e.event)).toEqual(['decided', 'decided']);
    const history = await backend.history();
    expect(history.map((h) => h.request_id)).toEqual(['y', 'x']);
    await expect(backend.approve('acct_1', 'x')).rejects.toMatchObject({ code: 'unknown_request' });
  });

  it('refuses what the core refuses', async () => {
    const backend = new FakeBackend([
      makeView({ request: { id: 'bad' }, display: MODELS.invalid }),
      makeView({ request: { id: 'uv', requires: ['user_verification'] } }),
    ], { now: () => NOW });
    await expect(backend.approve('acct_1', 'bad')).rejects.toMatchObject({ code: 'not_approvable' });
    await expect(backend.approve('acct_1', 'uv')).rejects.toMatchObject({ code: 'confirmation_required' });
    await expect(backend.approve('acct_1', 'uv', 'trade-4f7q')).rejects.toMatchObject({ code: 'binding_message_mismatch' });
    await expect(backend.approve('acct_1', 'uv', 'TRADE-4F7Q')).resolves.toMatchObject({ delivery: { outcome: 'delivered' } });
    const risky = new FakeBackend([makeView({ request: { id: 'hi', risk: 'high' } })], { now: () => NOW });
    await expect(risky.approve('acct_1', 'hi', ' ')).rejects.toMatchObject({ code: 'risk_confirmation_required' });
  });

  it('announces received and withdrawn requests to subscribers until they unsubscribe', async () => {
    const backend = new FakeBackend();
    const listener = vi.fn();
    const stop = await backend.subscribe(listener);
    backend.receive(makeView({ request: { id: 'n' } }));
    backend.withdraw('acct_1', 'n', 'cancelled');
    expect(listener.mock.calls.map(([e]) => (e as UiEvent).event)).toEqual(['new_request', 'withdrawn']);
    stop();
    backend.receive(makeView());
    expect(listener).toHaveBeenCalledTimes(2);
    expect(backend.subscribers).toBe(0);
  });

  it('previews, enrolls and removes accounts', async () => {
    const backend = new FakeBackend([], { now: () => NOW });
    const link = 'countersign://enroll?issuer=http%3A%2F%2F127.0.0.1%3A8080&ticket=abc';
    await expect(backend.enrollPreview(link)).resolves.toMatchObject({
      issuer: 'http://127.0.0.1:8080',
      plain_http: true,
      user: { name: 'Demo User' },
    });
    await expect(backend.enrollPreview('https://example.com')).rejects.toMatchObject({ code: 'invalid_enrollment_link' });
    const { account, replaced } = await backend.enroll(link);
    expect(replaced).toBe(false);
    expect(account).not.toHaveProperty('connection');
    await expect(backend.accounts()).resolves.toHaveLength(1);
    await backend.removeAccount(account.id);
    await expect(backend.accounts()).resolves.toEqual([]);
    await expect(backend.removeAccount(account.id)).rejects.toMatchObject({ code: 'unknown_account' });
  });

  it('re-enrolling the same user replaces the account; an unknown account is refused', async () => {
    const backend = new FakeBackend([], { now: () => NOW });
    const link = 'countersign://enroll?issuer=http%3A%2F%2F127.0.0.1%3A8080&ticket=abc';
    const first = await backend.enroll(link);
    const second = await backend.enroll(link, first.account.id);
    expect(second.replaced).toBe(true);
    expect((await backend.accounts()).map((a) => a.id)).toEqual([second.account.id]);
    await expect(backend.enroll(link, 'acct_nope')).rejects.toMatchObject({ code: 'unknown_account' });
  });

  it('decodes fake QR images and keeps settings', async () => {
    const backend = new FakeBackend([], { now: () => NOW });
    const link = 'countersign://enroll?issuer=http%3A%2F%2F127.0.0.1%3A8080&ticket=abc';
    await expect(backend.decodeQrImage(new TextEncoder().encode(link))).resolves.toBe(link);
    await expect(backend.decodeQrImage(new Uint8Array([0x89, 0x50]))).rejects.toMatchObject({ code: 'invalid_qr_image' });
    expect((await backend.settings()).theme).toBe('system');
    const after = await backend.updateSettings({ theme: 'dark', notifications_paused: true });
    expect(after).toMatchObject({ theme: 'dark', notifications_paused_until: NOW + 3600 });
    expect((await backend.updateSettings({ notifications_paused: false })).notifications_paused_until).toBeNull();
  });

  it('verifies receipts and exports', async () => {
    const backend = new FakeBackend([], {
      history: [makeHistory(), makeHistory({ id: 2, request_id: 'bad', decision_jws: 'tampered' })],
      now: () => NOW,
    });
    await expect(backend.verifyReceipt('acct_1', 'req_old')).resolves.toMatchObject({ signature_valid: true, problems: [] });
    await expect(backend.verifyReceipt('acct_1', 'bad')).resolves.toMatchObject({ signature_valid: false });
    await expect(backend.verifyReceipt('acct_1', 'none')).rejects.toMatchObject({ code: 'no_receipt' });
    await expect(backend.exportHistory()).resolves.toMatchObject({ decisions: 2 });
  });
});
