import { isTauri } from '@tauri-apps/api/core';
import type { Backend } from './backend';
import { FakeBackend } from './fake';
import { TauriBackend } from './tauri';

export type { Backend } from './backend';
export * from './types';
export { FakeBackend, type FakeBackendOptions } from './fake';
export { TauriBackend, COMMANDS } from './tauri';

/** The Tauri backend inside the desktop app; an empty fake in a plain browser (`npm run dev`). */
export function createBackend(): Backend {
  return isTauri() ? new TauriBackend() : new FakeBackend();
}
