import { beforeEach, describe, expect, it, vi } from 'vitest';

// `@tauri-apps/api/core` is mocked: outside the Tauri webview there is no IPC, so
// `invoke` is replaced by a vi.fn() whose result each test sets.
vi.mock('@tauri-apps/api/core', () => ({
  invoke: vi.fn(),
  isTauri: vi.fn(() => false),
}));

import { invoke } from '@tauri-apps/api/core';
import { makeRequest } from '../../../tests/fixtures';
import { COMMANDS, TauriBackend } from './tauri';

const invokeMock = vi.mocked(invoke);

describe('TauriBackend', () => {
  beforeEach(() => {
    invokeMock.mockReset();
  });

  it('calls the pending_requests command and returns its list', async () => {
    const requests = [makeRequest()];
    invokeMock.mockResolvedValueOnce(requests);

    await expect(new TauriBackend().pendingRequests()).resolves.toEqual(requests);
    expect(invokeMock).toHaveBeenCalledWith('pending_requests', undefined);
    expect(COMMANDS.pendingRequests).toBe('pending_requests');
  });

  it('calls the app_info command', async () => {
    invokeMock.mockResolvedValueOnce({ name: 'Countersign', version: '0.1.0' });

    await expect(new TauriBackend().appInfo()).resolves.toEqual({ name: 'Countersign', version: '0.1.0' });
    expect(invokeMock).toHaveBeenCalledWith('app_info', undefined);
  });

  it('maps a {code, message} rejection to a BackendError, keeping only those fields', async () => {
    invokeMock.mockRejectedValueOnce({ code: 'store_locked', message: 'The local store is locked.', stack: 'x' });

    await expect(new TauriBackend().pendingRequests()).rejects.toStrictEqual({
      code: 'store_locked',
      message: 'The local store is locked.',
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

    const error: unknown = await new TauriBackend().appInfo().catch((e: unknown) => e);
    expect(error).toStrictEqual({ code: 'internal', message: 'Something went wrong in the app backend.' });
  });

  it('keeps the text of a plain string or Error rejection under code "internal"', async () => {
    invokeMock.mockRejectedValueOnce('command pending_requests not found');
    await expect(new TauriBackend().pendingRequests()).rejects.toStrictEqual({
      code: 'internal',
      message: 'command pending_requests not found',
    });

    invokeMock.mockRejectedValueOnce(new TypeError('IPC unavailable'));
    await expect(new TauriBackend().pendingRequests()).rejects.toStrictEqual({
      code: 'internal',
      message: 'IPC unavailable',
    });
  });

  it('rejects a pending_requests answer that is not a list', async () => {
    invokeMock.mockResolvedValueOnce({ not: 'a list' });
    await expect(new TauriBackend().pendingRequests()).rejects.toMatchObject({ code: 'internal' });
  });
});
