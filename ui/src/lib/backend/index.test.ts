import { describe, expect, it, vi } from 'vitest';

// `@tauri-apps/api/core` is mocked so each test can decide whether we "run inside Tauri".
vi.mock('@tauri-apps/api/core', () => ({
  invoke: vi.fn(),
  isTauri: vi.fn(() => false),
}));

import { isTauri } from '@tauri-apps/api/core';
import { createBackend, FakeBackend, TauriBackend } from './index';

describe('createBackend', () => {
  it('uses the Tauri backend inside the desktop app', () => {
    vi.mocked(isTauri).mockReturnValueOnce(true);
    expect(createBackend()).toBeInstanceOf(TauriBackend);
  });

  it('falls back to the fake in a plain browser', () => {
    vi.mocked(isTauri).mockReturnValueOnce(false);
    expect(createBackend()).toBeInstanceOf(FakeBackend);
  });
});
