import { Channel, invoke, type InvokeArgs } from '@tauri-apps/api/core';
import type { Backend } from './backend';
import {
  toBackendError,
  type AccountView,
  type AdminAction,
  type AdminActionResult,
  type AdminList,
  type AdminPageView,
  type AppStatus,
  type DecisionOutcome,
  type DenyReason,
  type EnrollOutcome,
  type EnrollPreview,
  type ExportReport,
  type HistoryView,
  type PassphrasePurpose,
  type ReceiptCheck,
  type RequestView,
  type SecurityKeyView,
  type SettingsPatch,
  type SettingsView,
  type UiEvent,
  type UnverifiedBlock,
} from './types';

/** Tauri command names. They must match `commands::NAMES` in src-tauri/commands.rs. */
export const COMMANDS = {
  appStatus: 'app_status',
  subscribeEvents: 'subscribe_events',
  inboxViews: 'inbox_views',
  firstScreenShown: 'first_screen_shown',
  requestView: 'request_view',
  approve: 'approve',
  deny: 'deny',
  accounts: 'accounts',
  enrollPreview: 'enroll_preview',
  enroll: 'enroll',
  removeAccount: 'remove_account',
  history: 'history',
  verifyReceipt: 'verify_receipt',
  exportHistory: 'export_history',
  settings: 'settings',
  updateSettings: 'update_settings',
  decodeQrImage: 'decode_qr_image',
  submitKeyPassphrase: 'submit_key_passphrase',
  cancelKeyPassphrase: 'cancel_key_passphrase',
  unverifiedBlock: 'unverified_block',
  liftUnverifiedBlock: 'lift_unverified_block',
  securityKeys: 'security_keys',
  addSecurityKey: 'add_security_key',
  removeSecurityKey: 'remove_security_key',
  submitSecurityKeyPin: 'submit_security_key_pin',
  cancelSecurityKeyPin: 'cancel_security_key_pin',
  adminPage: 'admin_page',
  adminAction: 'admin_action',
} as const;

/**
 * At most this many entries in the page's timeline: the start-up's round
 * trips are what the benchmark reads, and a tray app runs for days.
 */
export const TIMELINE_MAX = 100;

/**
 * Records a command's round trip in the page's performance timeline
 * (`ipc <command>`), which the desktop benchmark reads to say where start-up
 * time goes. Names only: no arguments or answers.
 */
function measureCall(command: string, start: number): void {
  try {
    if (performance.getEntriesByType('measure').length >= TIMELINE_MAX) return;
    performance.measure(`ipc ${command}`, { start, end: performance.now() });
  } catch {
    // An engine without User Timing Level 3 records nothing.
  }
}

/** Invokes a command; any rejection becomes a BackendError. */
async function call<T>(command: string, args?: InvokeArgs): Promise<T> {
  const start = performance.now();
  try {
    return await invoke<T>(command, args);
  } catch (error: unknown) {
    throw toBackendError(error);
  } finally {
    measureCall(command, start);
  }
}

async function list<T>(command: string, args?: InvokeArgs): Promise<T[]> {
  const value = await call<unknown>(command, args);
  if (!Array.isArray(value)) {
    throw toBackendError({ code: 'internal', message: 'The app backend sent a malformed list.' });
  }
  return value as T[];
}

export class TauriBackend implements Backend {
  appStatus(): Promise<AppStatus> {
    return call<AppStatus>(COMMANDS.appStatus);
  }

  async subscribe(listener: (event: UiEvent) => void): Promise<() => void> {
    let active = true;
    const channel = new Channel<UiEvent>();
    channel.onmessage = (event) => {
      if (active) listener(event);
    };
    await call<void>(COMMANDS.subscribeEvents, { channel });
    return () => {
      active = false;
    };
  }

  inboxViews(limit?: number): Promise<RequestView[]> {
    return list<RequestView>(COMMANDS.inboxViews, limit === undefined ? undefined : { limit });
  }

  firstScreenShown(): Promise<void> {
    return call<void>(COMMANDS.firstScreenShown);
  }

  requestView(accountId: string, requestId: string): Promise<RequestView> {
    return call<RequestView>(COMMANDS.requestView, { account_id: accountId, request_id: requestId });
  }

  approve(accountId: string, requestId: string, typedBindingMessage?: string): Promise<DecisionOutcome> {
    return call<DecisionOutcome>(COMMANDS.approve, {
      account_id: accountId,
      request_id: requestId,
      typed_binding_message: typedBindingMessage ?? null,
    });
  }

  deny(accountId: string, requestId: string, reason: DenyReason): Promise<DecisionOutcome> {
    return call<DecisionOutcome>(COMMANDS.deny, { account_id: accountId, request_id: requestId, reason });
  }

  accounts(): Promise<AccountView[]> {
    return list<AccountView>(COMMANDS.accounts);
  }

  enrollPreview(link: string): Promise<EnrollPreview> {
    return call<EnrollPreview>(COMMANDS.enrollPreview, { link });
  }

  enroll(link: string, replaces?: string): Promise<EnrollOutcome> {
    return call<EnrollOutcome>(COMMANDS.enroll, { link, replaces: replaces ?? null });
  }

  async decodeQrImage(image: Uint8Array): Promise<string> {
    // Raw bytes as the request body: no JSON array of numbers for a photo.
    const link = await call<unknown>(COMMANDS.decodeQrImage, image);
    if (typeof link !== 'string') {
      throw toBackendError({ code: 'internal', message: 'The app backend sent a malformed link.' });
    }
    return link;
  }

  async removeAccount(accountId: string): Promise<void> {
    await call<void>(COMMANDS.removeAccount, { account_id: accountId });
  }

  history(): Promise<HistoryView[]> {
    return list<HistoryView>(COMMANDS.history);
  }

  verifyReceipt(accountId: string, requestId: string): Promise<ReceiptCheck> {
    return call<ReceiptCheck>(COMMANDS.verifyReceipt, { account_id: accountId, request_id: requestId });
  }

  exportHistory(): Promise<ExportReport> {
    return call<ExportReport>(COMMANDS.exportHistory);
  }

  settings(): Promise<SettingsView> {
    return call<SettingsView>(COMMANDS.settings);
  }

  updateSettings(patch: SettingsPatch): Promise<SettingsView> {
    return call<SettingsView>(COMMANDS.updateSettings, { patch });
  }

  submitKeyPassphrase(passphrase: string): Promise<PassphrasePurpose> {
    return call<PassphrasePurpose>(COMMANDS.submitKeyPassphrase, { passphrase });
  }

  async cancelKeyPassphrase(): Promise<void> {
    await call<void>(COMMANDS.cancelKeyPassphrase);
  }

  unverifiedBlock(accountId: string): Promise<UnverifiedBlock> {
    return call<UnverifiedBlock>(COMMANDS.unverifiedBlock, { account_id: accountId });
  }

  liftUnverifiedBlock(accountId: string): Promise<UnverifiedBlock> {
    return call<UnverifiedBlock>(COMMANDS.liftUnverifiedBlock, { account_id: accountId });
  }

  securityKeys(accountId: string): Promise<SecurityKeyView[]> {
    return list<SecurityKeyView>(COMMANDS.securityKeys, { account_id: accountId });
  }

  addSecurityKey(accountId: string, name: string): Promise<SecurityKeyView[]> {
    return list<SecurityKeyView>(COMMANDS.addSecurityKey, { account_id: accountId, name });
  }

  removeSecurityKey(accountId: string, credentialId: string): Promise<SecurityKeyView[]> {
    return list<SecurityKeyView>(COMMANDS.removeSecurityKey, { account_id: accountId, credential_id: credentialId });
  }

  async submitSecurityKeyPin(pinId: number, pin: string): Promise<void> {
    await call<void>(COMMANDS.submitSecurityKeyPin, { pin_id: pinId, pin });
  }

  async cancelSecurityKeyPin(pinId: number): Promise<void> {
    await call<void>(COMMANDS.cancelSecurityKeyPin, { pin_id: pinId });
  }

  async adminPage(accountId: string, list: AdminList, query: [string, string][]): Promise<AdminPageView> {
    const page = await call<unknown>(COMMANDS.adminPage, { account_id: accountId, list, query });
    if (typeof page !== 'object' || page === null || !Array.isArray((page as { items?: unknown }).items)) {
      throw toBackendError({ code: 'internal', message: 'The app backend sent a malformed page.' });
    }
    return page as AdminPageView;
  }

  adminAction(accountId: string, action: AdminAction): Promise<AdminActionResult> {
    return call<AdminActionResult>(COMMANDS.adminAction, { account_id: accountId, action });
  }
}
