import type { AppInfo, ApproverRequest } from './types';

/**
 * The one interface the UI talks to. Implementations: `TauriBackend` (the desktop
 * app, via Tauri commands) and `FakeBackend` (browser dev and component tests).
 *
 * Every method rejects with a `BackendError` ({ code, message }) and nothing else.
 */
export interface Backend {
  /** Requests waiting for this approver's decision, newest first. */
  pendingRequests(): Promise<ApproverRequest[]>;
  /** Product name and version of the running app. */
  appInfo(): Promise<AppInfo>;
}
