import { describe, expect, it } from 'vitest';
import samples from '../../../tests/agreement/admin.json';
import { makeAccount } from '../../../tests/fixtures';
import { FakeBackend } from './fake';
import type { AdminList } from './types';

// The samples deserialize into the server's Rust types (src-tauri/admin_agreement.rs):
// the fake's items may use only their members, with the same JSON types.
const LISTS: AdminList[] = ['pending', 'grants', 'clients', 'users', 'devices', 'audit'];

function kind(value: unknown): string {
  return Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
}

describe('the fake admin API', () => {
  it.each(LISTS)('sends %s items of the server’s shape', async (list) => {
    const admin = makeAccount({ id: 'a', user: { sub: 'u', name: 'A', roles: ['admin'] } });
    const backend = new FakeBackend([], { accounts: [admin], admin: { grants: 40, auditEntries: 40 } });
    const sample = (samples as unknown as Record<string, Record<string, unknown>>)[list]!;
    const page = await backend.adminPage('a', list, [['limit', '40']]);
    expect(page.items.length).toBeGreaterThan(0);
    for (const { item } of page.items) {
      for (const [name, value] of Object.entries(item as Record<string, unknown>)) {
        expect(Object.keys(sample), `${list}: ${name}`).toContain(name);
        expect(kind(value), `${list}: ${name}`).toBe(kind(sample[name]));
      }
    }
  });
});
