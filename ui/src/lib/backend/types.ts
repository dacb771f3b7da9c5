// Shapes exchanged with the Rust side, field names exactly as serialized there
// (snake_case): `countersign-protocol` (ApproverRequest), `countersign-approver`
// (InboxItem, RequestView, Account, HistoryEntry, ReceiptCheck, events) and
// `countersign-details` (DisplayModel, docs/display-schema.md).

/** Risk as assessed by the server. Always shown as text, never by colour alone. */
export type Risk = 'low' | 'medium' | 'high' | 'critical';

export const RISKS: readonly Risk[] = ['low', 'medium', 'high', 'critical'];

/** Step-up the approver must perform before it may sign an approval. */
export type Requirement = 'user_verification' | 'webauthn';

export interface RequestClient {
  client_id: string;
  client_name: string;
  logo_uri?: string;
  /** An admin of the server has verified this client. */
  verified: boolean;
}

export interface RequestUser {
  sub: string;
  name: string;
}

export interface RequestContext {
  ip?: string;
  user_agent?: string;
  location?: string;
}

/** One RFC 9396 authorization_details entry exactly as sent (opaque here). */
export type AuthorizationDetail = { type: string } & Record<string, unknown>;

/** A request as the approver receives it (device channel v1). */
export interface ApproverRequest {
  id: string;
  issuer: string;
  client: RequestClient;
  user: RequestUser;
  binding_message: string;
  scope: string[];
  authorization_details: AuthorizationDetail[];
  acr_values?: string;
  context: RequestContext;
  /** Unknown values may come from newer servers: they are shown, and treated as critical. */
  risk: Risk | (string & {});
  /** Unknown values may appear from newer servers; they must not be dropped. */
  requires: (Requirement | (string & {}))[];
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds. */
  expires_at: number;
  nonce: string;
}

export type LocalStatus =
  | 'pending'
  | 'sending'
  | 'approved'
  | 'denied'
  | 'expired'
  | 'cancelled'
  | 'decided_elsewhere'
  | 'withdrawn'
  | 'conflict'
  | 'rejected';

/** A stored request (countersign-approver `InboxItem`). */
export interface InboxItem {
  account_id: string;
  request: ApproverRequest;
  status: LocalStatus | (string & {});
  status_reason: string | null;
  received_at: number;
  updated_at: number;
}

// --- The display model (countersign-details) -------------------------------

export type Severity = 'info' | 'caution' | 'danger';
export type DetailRisk = Risk | 'unknown';
export type Renderer = 'schema' | 'auth0_guardian' | 'generic';
export type LabelSource = 'schema' | 'key' | 'index' | 'sender';
export type JsonType = 'string' | 'number' | 'boolean' | 'null';

export interface CharFinding {
  code_point: string;
  name: string;
  position: number;
  utf16_offset: number;
}

export interface Warning {
  code: string;
  severity: Severity;
  index: number | null;
  path: string | null;
  in_key: boolean;
  /** Quotes untrusted text exactly: show it with `message_characters` marked. */
  message: string;
  /** Characters of `message` to mark where they stand. */
  message_characters: CharFinding[];
  /** Characters of the value (or member name) the warning is about. */
  characters: CharFinding[];
}

export type FieldValue =
  | { kind: 'scalar'; json_type: JsonType; text: string; display: string | null; utc: string | null; wrap: boolean }
  | {
      kind: 'money';
      amount: string;
      currency: string;
      text: string;
      display: string;
      characters: CharFinding[];
      display_characters: CharFinding[];
    }
  | { kind: 'object'; fields: Field[] }
  | { kind: 'array'; items: Field[] };

export interface Field {
  path: string;
  key: string;
  label: string;
  label_source: LabelSource;
  /** Characters of `label` to mark where they stand, as the core found them. */
  label_characters: CharFinding[];
  /** Characters of `path` to mark where they stand (a path is made of member names as sent). */
  path_characters: CharFinding[];
  format: string;
  value: FieldValue;
  emphasis: boolean;
  sensitive: boolean;
  collapsed: boolean;
  description: string | null;
  /** Characters of `description` to mark where they stand. */
  description_characters: CharFinding[];
  warnings: Warning[];
}

export type SummaryPart =
  | { kind: 'text'; text: string; characters: CharFinding[] }
  | { kind: 'value'; path: string; text: string; flagged: boolean; characters: CharFinding[] }
  | { kind: 'missing'; path: string; text: string; characters: CharFinding[] };

export interface Summary {
  /** The line exactly (values as sent): show it with `characters` marked. */
  text: string;
  characters: CharFinding[];
  parts: SummaryPart[];
}

export interface DetailView {
  index: number;
  type: string;
  renderer: Renderer;
  schema_hash: string;
  title: string;
  /** Characters of `title` to mark where they stand. */
  title_characters: CharFinding[];
  summary: Summary | null;
  risk: DetailRisk;
  icon: string | null;
  valid: boolean;
  fields: Field[];
  undescribed: Field[];
  warnings: Warning[];
}

export interface DisplayModel {
  approvable: boolean;
  status: 'valid' | 'invalid' | 'refused';
  warnings: Warning[];
  details: DetailView[];
  display_schemas: Record<string, string>;
  warning_count: number;
  max_severity: Severity | null;
  /** The worst warning at any level, named by short views (inbox card, notifications). */
  worst_warning: WorstWarning | null;
}

export interface WorstWarning {
  code: string;
  severity: Severity;
  /** The kind in words: `lookalike letters`, `direction-changing characters`… */
  text: string;
}

/** What the UI shows of one request (countersign-approver `RequestView`). */
export interface RequestView {
  item: InboxItem;
  display: DisplayModel;
  /** The core's verdict: false means this request cannot be approved here. */
  approvable: boolean;
  /**
   * The core's verdict: approving needs the binding code typed (high or critical risk,
   * or a required user verification). The core checks what is typed; the UI only asks.
   */
  confirmation_required: boolean;
  /** Findings in the request's own strings (client name, binding code, scope…). */
  request_text: TextFinding[];
}

/** The findings of one request-level string (countersign-approver `TextFinding`). */
export interface TextFinding {
  /** JSON Pointer of the string within the request, e.g. `/client/client_name`, `/scope/0`. */
  field: string;
  warnings: Warning[];
}

// --- Accounts, decisions, history ------------------------------------------

export type ConnectionState =
  | { state: 'connecting' }
  | { state: 'push' }
  | { state: 'polling' }
  | { state: 'disconnected'; error: string; retry_in_ms: number };

export interface EnrolledUser {
  sub: string;
  name: string;
  roles: string[];
}

export interface Account {
  id: string;
  issuer: string;
  device_endpoint: string;
  device_id: string;
  user: EnrolledUser;
  poll_interval: number;
  key_store: 'keychain' | 'file' | 'memory' | (string & {});
  /** The device's public key (RFC 7517, P-256), for offline receipt checks. */
  public_jwk: PublicJwk;
  /** Last event id seen on the push channel. */
  last_event_id: string | null;
  created_at: number;
}

/** A P-256 public key (countersign-protocol `PublicJwk`); never a private member. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid?: string;
  alg?: 'ES256' | (string & {});
  use?: 'sig' | (string & {});
}

export interface AccountView extends Account {
  connection: ConnectionState | null;
  /** Hidden, bidi or control characters in the user's name or id. */
  user_text: TextFinding[];
}

/** What an enrollment link names, asked of its server (countersign-approver `EnrollPreview`). */
export interface EnrollPreview {
  issuer: string;
  plain_http: boolean;
  /** The user the device would be enrolled for. */
  user: EnrolledUser;
  /** When the link's ticket expires, unix seconds. */
  expires_at: number;
  /** Hidden, bidi or control characters in the user's name or id. */
  user_findings: TextFinding[];
}

/** A new account, and whether it replaced the account being re-enrolled. */
export interface EnrollOutcome {
  account: Account;
  /** Hidden, bidi or control characters in the user's name or id. */
  user_text: TextFinding[];
  replaced: boolean;
  /** Why the re-enrolled account was kept; it may quote names: show it with its characters marked. */
  kept_because: string | null;
  kept_because_characters: CharFinding[];
}

export type Theme = 'system' | 'light' | 'dark';

/** The settings page's state (src-tauri `SettingsView`). */
export interface SettingsView {
  theme: Theme;
  notifications: boolean;
  quick_actions: boolean;
  /** `null`: the OS setting could not be read (see `problems`). */
  start_at_login: boolean | null;
  notifications_paused_until: number | null;
  problems: string[];
}

/** A settings change: absent fields stay as they are. */
export interface SettingsPatch {
  theme?: Theme;
  notifications?: boolean;
  quick_actions?: boolean;
  start_at_login?: boolean;
  notifications_paused?: boolean;
}

export type Decision = 'approve' | 'deny';
export type DenyReason = 'not_me' | 'wrong_details' | 'other';
export const DENY_REASONS: readonly DenyReason[] = ['not_me', 'wrong_details', 'other'];

export type Delivery = 'queued' | 'delivered' | 'expired' | 'conflict' | 'withdrawn' | 'rejected';

export interface HistoryEntry {
  id: number;
  account_id: string;
  request_id: string;
  decision: Decision;
  deny_reason: DenyReason | (string & {}) | null;
  statement_jcs: string;
  statement_hash: string;
  decision_jws: string;
  decided_at: number;
  delivery: Delivery | (string & {});
  server_status: number | null;
  server_answer: string | null;
  delivered_at: number | null;
}

export interface HistoryView extends HistoryEntry {
  /** The request decided, when still stored. */
  request: ApproverRequest | null;
  /** Findings in that request's own strings (see `RequestView.request_text`). */
  request_text: TextFinding[];
}

export type DeliveryReport =
  | { outcome: 'delivered'; result: unknown }
  | { outcome: 'retrying'; error: string; next_attempt_at: number }
  | { outcome: 'expired' }
  | { outcome: 'conflict'; status: string | null }
  | { outcome: 'withdrawn' }
  | { outcome: 'needs_review'; reason: string }
  | { outcome: 'rejected'; error: string }
  | { outcome: 'not_queued' };

export interface DecisionOutcome {
  history: HistoryEntry;
  delivery: DeliveryReport;
}

export interface ReceiptCheck {
  account_id: string;
  request_id: string;
  signature_valid: boolean;
  statement_hash_valid: boolean;
  request_matches: boolean;
  decision_matches: boolean;
  /** The claims of the decision JWS, when it verified. */
  claims: DecisionClaims | null;
  problems: string[];
}

/** The claims of a signed decision (countersign-protocol `DecisionClaims`). */
export interface DecisionClaims {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  request_id: string;
  decision: Decision;
  deny_reason?: DenyReason;
  statement_hash: string;
}

export interface ExportReport {
  path: string;
  decisions: number;
}

export interface AppStatus {
  name: string;
  version: string;
  key_store_warning: string | null;
  startup_error: BackendError | null;
  /** The encrypted key file waits for its passphrase (`null`: nothing waits). */
  passphrase_needed: PassphrasePurpose | null;
}

/** What the key file's passphrase is asked for: a new file (`create`) or existing ones (`open`). */
export type PassphrasePurpose = 'create' | 'open';

/** Whether unverified agents are blocked for an account's user (protocol §5.4). */
export interface UnverifiedBlock {
  blocked: boolean;
  /** Unix seconds; present when blocked. */
  since?: number;
}

// --- Events -------------------------------------------------------------------

export type UiEvent =
  | { event: 'new_request'; item: InboxItem }
  | { event: 'withdrawn'; account_id: string; request_id: string; reason: string }
  | {
      event: 'decided';
      account_id: string;
      request_id: string;
      decision: Decision;
      delivery: Delivery | (string & {});
      detail: string | null;
    }
  | { event: 'grant_revoked'; account_id: string; grant: unknown }
  | { event: 'connection'; account_id: string; state: ConnectionState }
  | { event: 'resync' }
  /** A notification was clicked: show this request. */
  | { event: 'open_request'; account_id: string; request_id: string }
  /** A notification of several requests was clicked: show the inbox. */
  | { event: 'open_inbox' }
  /** A countersign://enroll link was opened: show its enrollment preview. */
  | { event: 'open_enroll'; link: string }
  | { event: 'passphrase_needed'; purpose: PassphrasePurpose };

// --- Errors -------------------------------------------------------------------

/**
 * Every backend failure, as the Rust commands serialise it. `code` is a stable,
 * machine-readable identifier; `message` is human-readable and shown as text.
 */
export interface BackendError {
  code: string;
  message: string;
  /** Characters of `message` to mark where they stand (it may quote untrusted text). */
  characters?: CharFinding[];
}

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
