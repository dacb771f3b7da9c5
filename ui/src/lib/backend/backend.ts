import type {
  AccountView,
  AdminAction,
  AdminActionResult,
  AdminList,
  AdminPageView,
  AppStatus,
  DecisionOutcome,
  DenyReason,
  EnrollOutcome,
  EnrollPreview,
  ExportReport,
  HistoryView,
  PassphrasePurpose,
  ReceiptCheck,
  RequestView,
  SecurityKeyView,
  SettingsPatch,
  SettingsView,
  UiEvent,
  UnverifiedBlock,
} from './types';

/**
 * The one interface the UI talks to. Implementations: `TauriBackend` (the desktop
 * app, via Tauri commands) and `FakeBackend` (browser dev, component and browser tests).
 *
 * Every method rejects with a `BackendError` ({ code, message }) and nothing else.
 */
export interface Backend {
  /** Product name, version, key store warning, startup error. */
  appStatus(): Promise<AppStatus>;
  /** Delivers approver events to `listener`; resolves to an unsubscribe function. */
  subscribe(listener: (event: UiEvent) => void): Promise<() => void>;
  /** Pending requests across accounts, newest first; the newest `limit` only when given. */
  inboxViews(limit?: number): Promise<RequestView[]>;
  /** The first screen is painted: the app's background work (the event stream's connection and sync) may start. */
  firstScreenShown(): Promise<void>;
  /** One stored request as the user sees it. */
  requestView(accountId: string, requestId: string): Promise<RequestView>;
  /** Signs and sends an approval; `typedBindingMessage` is the deliberate confirmation. */
  approve(accountId: string, requestId: string, typedBindingMessage?: string): Promise<DecisionOutcome>;
  /** Signs and sends a denial. */
  deny(accountId: string, requestId: string, reason: DenyReason): Promise<DecisionOutcome>;
  /** Enrolled accounts with their connection state. */
  accounts(): Promise<AccountView[]>;
  /** The server and user an enrollment link names (asked of the server; the ticket is not used up). */
  enrollPreview(link: string): Promise<EnrollPreview>;
  /** Enrolls this device with the link's server; `replaces`: the account being re-enrolled. */
  enroll(link: string, replaces?: string): Promise<EnrollOutcome>;
  /** The enrollment link held by a QR code image (the file's bytes). */
  decodeQrImage(image: Uint8Array): Promise<string>;
  /** Removes an account and its key from this device. */
  removeAccount(accountId: string): Promise<void>;
  /** Decisions made here, newest first. */
  history(): Promise<HistoryView[]>;
  /** Offline check of a stored decision. */
  verifyReceipt(accountId: string, requestId: string): Promise<ReceiptCheck>;
  /** Writes the history as a JSON file. */
  exportHistory(): Promise<ExportReport>;
  /** Theme, notifications, start at login. */
  settings(): Promise<SettingsView>;
  /** Changes settings; resolves to what they now are. */
  updateSettings(patch: SettingsPatch): Promise<SettingsView>;
  /**
   * Hands the key file's passphrase to the core, which checks it (strong enough for a new
   * file, opens existing ones) and keeps it in memory only. Resolves to what it was for;
   * rejects with `weak_passphrase` (the reason) or `wrong_passphrase`.
   */
  submitKeyPassphrase(passphrase: string): Promise<PassphrasePurpose>;
  /** The user closed the passphrase dialog: the waiting operation fails. */
  cancelKeyPassphrase(): Promise<void>;
  /** Whether unverified agents are blocked for the account's user. */
  unverifiedBlock(accountId: string): Promise<UnverifiedBlock>;
  /** Lets unverified agents ask the account's user again. */
  liftUnverifiedBlock(accountId: string): Promise<UnverifiedBlock>;
  /** The account's security keys at its server, oldest first. */
  securityKeys(accountId: string): Promise<SecurityKeyView[]>;
  /**
   * Registers a security key under `name`. While the key works, its prompts arrive as
   * `security_key` events (plug in, touch, PIN). Resolves to the account's keys after.
   */
  addSecurityKey(accountId: string, name: string): Promise<SecurityKeyView[]>;
  /** Removes a security key at the server; resolves to the account's keys after. */
  removeSecurityKey(accountId: string, credentialId: string): Promise<SecurityKeyView[]>;
  /** Answers the PIN request `pinId` (a `security_key` event of step `pin`) with the key's PIN. */
  submitSecurityKeyPin(pinId: number, pin: string): Promise<void>;
  /** Cancels the PIN request `pinId`: the operation waiting for it fails as cancelled. */
  cancelSecurityKeyPin(pinId: number): Promise<void>;
  /**
   * One page of an admin list of the account's server (its user must be an administrator:
   * else `server_refused`, forbidden). `query`: the list's filters, `limit`, and `cursor` (a
   * previous page's `next_cursor`). Each item comes with the characters to mark in it.
   */
  adminPage(accountId: string, list: AdminList, query: [string, string][]): Promise<AdminPageView>;
  /** Runs an admin action at the account's server; resolves to whether it changed anything. */
  adminAction(accountId: string, action: AdminAction): Promise<AdminActionResult>;
}
