import { invoke, type InvokeArgs } from '@tauri-apps/api/core';
import type { Backend } from './backend';
import { toBackendError, type AppInfo, type ApproverRequest } from './types';

/** Tauri command names. They must match the `#[tauri::command]` functions in src-tauri/. */
export const COMMANDS = {
  pendingRequests: 'pending_requests',
  appInfo: 'app_info',
} as const;

/** Invokes a command; any rejection becomes a BackendError. */
async function call<T>(command: string, args?: InvokeArgs): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error: unknown) {
    throw toBackendError(error);
  }
}

export class TauriBackend implements Backend {
  async pendingRequests(): Promise<ApproverRequest[]> {
    const requests = await call<unknown>(COMMANDS.pendingRequests);
    if (!Array.isArray(requests)) {
      throw toBackendError({ code: 'internal', message: 'The app backend sent a malformed request list.' });
    }
    return requests as ApproverRequest[];
  }

  async appInfo(): Promise<AppInfo> {
    return call<AppInfo>(COMMANDS.appInfo);
  }
}
