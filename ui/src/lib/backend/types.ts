// Shapes exchanged with the Rust side. They are generated from the Rust types
// (`generated.ts`, written by src-tauri/ts_types.rs with ts-rs and checked by
// `cargo test`): this file only gives some of them the UI's names and adds what
// the UI itself needs. Never declare a wire shape here by hand.

import type * as Wire from './generated';

export type {
  Risk,
  Requirement,
  RequestUser,
  RequestContext,
  ApproverRequest,
  LocalStatus,
  InboxItem,
  Severity,
  DetailRisk,
  Renderer,
  LabelSource,
  JsonType,
  CharFinding,
  Warning,
  WarningCode,
  Format,
  FieldValue,
  Field,
  SummaryPart,
  Summary,
  DetailView,
  DisplayModel,
  DisplayStatus,
  WorstWarning,
  RequestView,
  VerificationStep,
  TextFinding,
  AccessView,
  ScopeView,
  ConnectionState,
  EnrolledUser,
  Account,
  KeyStoreKind,
  PublicJwk,
  AccountView,
  EnrollPreview,
  EnrollOutcome,
  Theme,
  SettingsView,
  SettingsPatch,
  Decision,
  DenyReason,
  DecisionResult,
  Delivery,
  HistoryEntry,
  HistoryView,
  DeliveryReport,
  DecisionOutcome,
  ReceiptCheck,
  DecisionClaims,
  ExportReport,
  AppStatus,
  PassphrasePurpose,
  UnverifiedBlock,
  WebauthnCredential,
  SecurityKeyStep,
  SecurityKeyPrompt,
  SecurityKeyView,
  ApproverEvent,
  ShellEvent,
  UiEvent,
  AdminList,
  AdminAction,
  AdminPageView,
  AdminItem,
  AdminText,
  AdminJson,
} from './generated';
export type * from './admin-wire';
export { AUDIT_ACTIONS } from './admin-wire';

type CharFinding = Wire.CharFinding;

/** Risk as assessed by the server. Always shown as text, never by colour alone. */
export const RISKS: readonly Wire.Risk[] = ['low', 'medium', 'high', 'critical'];

export const DENY_REASONS: readonly Wire.DenyReason[] = ['not_me', 'wrong_details', 'other'];

/** The agent asking, as the request names it. */
export type RequestClient = Wire.ClientInfo;

/** One RFC 9396 authorization_details entry exactly as sent (opaque here). */
export type AuthorizationDetail = Wire.ApproverRequest['authorization_details'][number];

// --- Errors -------------------------------------------------------------------

/**
 * Every backend failure. The Rust commands send `Wire.BackendError` (`code`,
 * `message`, `characters`); a failure of the IPC itself may lack `characters`.
 * `code` is a stable, machine-readable identifier; `message` is human-readable
 * and shown as text.
 */
export type BackendError = Omit<Wire.BackendError, 'characters'> & {
  /** Characters of `message` to mark where they stand (it may quote untrusted text). */
  characters?: CharFinding[];
};

function isCharFinding(value: unknown): value is CharFinding {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.code_point === 'string' &&
    typeof c.name === 'string' &&
    Number.isInteger(c.position) &&
    Number.isInteger(c.utf16_offset)
  );
}

/** Only the four fields of a finding, copied. */
function charFinding(c: CharFinding): CharFinding {
  return { code_point: c.code_point, name: c.name, position: c.position, utf16_offset: c.utf16_offset };
}

/** Code used when a failure does not arrive in the BackendError shape. */
export const INTERNAL_ERROR_CODE = 'internal';

export function isBackendError(value: unknown): value is BackendError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.code === 'string' && typeof candidate.message === 'string';
}

/**
 * Turns anything thrown or rejected into a BackendError. Only `code`, `message` and the
 * characters to mark in it are kept, so nothing else from the error object travels into the UI.
 */
export function toBackendError(value: unknown): BackendError {
  if (isBackendError(value)) {
    const found = (value as { characters?: unknown }).characters;
    const characters = Array.isArray(found) ? found.filter(isCharFinding).map(charFinding) : [];
    return { code: value.code, message: value.message, characters };
  }
  if (typeof value === 'string' && value.length > 0) {
    return { code: INTERNAL_ERROR_CODE, message: value };
  }
  if (value instanceof Error && value.message.length > 0) {
    return { code: INTERNAL_ERROR_CODE, message: value.message };
  }
  return { code: INTERNAL_ERROR_CODE, message: 'Something went wrong in the app backend.' };
}
