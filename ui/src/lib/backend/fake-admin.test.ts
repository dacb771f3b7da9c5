import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS } from './admin-wire';
import { makeAccount, NOW } from '../../../tests/fixtures';
import { FakeBackend } from './fake';
import { fakeAdminItem } from './fake-admin';
import type { AdminAuditEntry, AdminGrant } from './types';

const ADMIN = makeAccount({ id: 'a', user: { sub: 'u_admin', name: 'Ada', roles: ['admin'] } });
const USER = makeAccount({ id: 'u', user: { sub: 'u_1', name: 'Bob', roles: ['user'] } });

describe('FakeBackend admin API', () => {
  it('answers administrators only', async () => {
    const backend = new FakeBackend([], { accounts: [ADMIN, USER] });
    await expect(backend.adminPage('u', 'grants', [])).rejects.toMatchObject({ code: 'server_refused' });
    await expect(backend.adminAction('u', { action: 'revoke_grant', grant_id: 'jti_000000' })).rejects.toMatchObject({
      code: 'server_refused',
    });
    await expect(backend.adminPage('a', 'grants', [])).resolves.toMatchObject({ next_cursor: '50' });
  });

  it('pages 100,000 audit entries by cursor, newest first, without making them all', async () => {
    const backend = new FakeBackend([], { accounts: [ADMIN], now: () => NOW, admin: { auditEntries: 100_000 } });
    const first = await backend.adminPage('a', 'audit', [['limit', '500']]);
    expect(first.items).toHaveLength(500);
    expect((first.items[0]!.item as AdminAuditEntry).seq).toBe(100_000);
    const next = await backend.adminPage('a', 'audit', [['limit', '500'], ['cursor', first.next_cursor!]]);
    expect((next.items[0]!.item as AdminAuditEntry).seq).toBe(99_500);
    const last = await backend.adminPage('a', 'audit', [['limit', '500'], ['cursor', '99900']]);
    expect(last.items).toHaveLength(100);
    expect(last.next_cursor).toBeNull();
  });

  it('filters, refuses unknown parameters, and records actions in the audit log', async () => {
    const backend = new FakeBackend([], { accounts: [ADMIN], now: () => NOW, admin: { grants: 1_000 } });
    const revoked = await backend.adminPage('a', 'grants', [['status', 'revoked']]);
    expect(revoked.items.every((i) => (i.item as AdminGrant).status === 'revoked')).toBe(true);
    await expect(backend.adminPage('a', 'grants', [['action', 'x']])).rejects.toMatchObject({ code: 'server_refused' });
    await expect(backend.adminAction('a', { action: 'revoke_grant', grant_id: 'jti_000001' })).resolves.toEqual({ changed: true });
    await expect(backend.adminAction('a', { action: 'revoke_grant', grant_id: 'jti_000001' })).resolves.toEqual({ changed: false });
    const audit = await backend.adminPage('a', 'audit', [['action', 'token.revoked'], ['limit', '1']]);
    expect(audit.items[0]!.item).toMatchObject({ action: 'token.revoked', target: 'jti_000001', actor: 'device:dev_fake_admin' });
  });

  it('marks hidden characters and writes JSON members out, as the core does', () => {
    const item = fakeAdminItem({ client_name: 'a\u202eb', scope: ['x'], data: { 'k\u200b': 'v' } });
    expect(item.text.map((t) => t.pointer)).toEqual(['/client_name', '/data/k\u200b#name']);
    expect(item.text[0]!.characters).toEqual([{ code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 1, utf16_offset: 1 }]);
    expect(item.json).toEqual([
      { pointer: '/data', text: '{"k\u200b":"v"}', characters: [{ code_point: 'U+200B', name: 'ZERO WIDTH SPACE', position: 3, utf16_offset: 3 }] },
    ]);
  });

  it('knows every audit action of the protocol crate (the action filter suggests them)', () => {
    const rust = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../../../crates/protocol/src/admin.rs'), 'utf8');
    const start = rust.indexOf('pub enum AuditAction');
    expect(start).toBeGreaterThan(0);
    const body = rust.slice(start, rust.indexOf('} extension', start));
    const actions = [...body.matchAll(/=> "([^"]+)"/g)].map((m) => m[1]);
    expect(actions.length).toBeGreaterThan(15);
    expect([...AUDIT_ACTIONS]).toEqual(actions);
  });
});
