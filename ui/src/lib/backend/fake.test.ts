import { describe, expect, it } from 'vitest';
import { makeRequest } from '../../../tests/fixtures';
import { FakeBackend } from './fake';

describe('FakeBackend', () => {
  it('returns the initial requests as copies', async () => {
    const initial = [makeRequest()];
    const backend = new FakeBackend(initial);
    initial[0]!.binding_message = 'changed by the caller';

    const first = await backend.pendingRequests();
    expect(first[0]?.binding_message).toBe('Buy 10 ACME at market');
    first.pop();
    await expect(backend.pendingRequests()).resolves.toHaveLength(1);
  });

  it('can be made to fail and to recover', async () => {
    const backend = new FakeBackend([]);
    backend.fail({ code: 'offline', message: 'No connection' });
    await expect(backend.pendingRequests()).rejects.toStrictEqual({ code: 'offline', message: 'No connection' });
    await expect(backend.appInfo()).rejects.toMatchObject({ code: 'offline' });

    backend.succeed();
    await expect(backend.pendingRequests()).resolves.toEqual([]);
  });

  it('replaces its requests', async () => {
    const backend = new FakeBackend();
    backend.setRequests([makeRequest({ id: 'x' })]);
    await expect(backend.pendingRequests()).resolves.toMatchObject([{ id: 'x' }]);
  });
});
