// Shapes exchanged with the Rust side. They mirror DESIGN.md §4 ("Request as the
// approver sees it"); field names are the wire names (snake_case) on purpose.

/** Risk as assessed by the server. Always shown as text, never by colour alone. */
export type Risk = 'low' | 'medium' | 'high' | 'critical';

export const RISKS: readonly Risk[] = ['low', 'medium', 'high', 'critical'];

/** Step-up the approver must perform before it may sign an approval. */
export type Requirement = 'user_verification' | 'webauthn';

export interface RequestClient {
  client_id: string;
  client_name: string;
  logo_uri?: string;
  /** The server vouches for this client's identity. */
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

/**
 * One RFC 9396 authorization_details entry. Its content is described by a display
 * schema (DESIGN.md §6) and validated on the Rust side; here it stays opaque.
 */
export type AuthorizationDetail = { type: string } & Record<string, unknown>;

/** A pending request as the approver sees it (device channel v1). */
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
  risk: Risk;
  /** Unknown values may appear from newer servers; they must not be dropped. */
  requires: (Requirement | (string & {}))[];
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds. */
  expires_at: number;
  nonce: string;
}

export interface AppInfo {
  name: string;
  version: string;
}

/**
 * Every backend failure, as the Rust commands serialise it. `code` is a stable,
 * machine-readable identifier; `message` is human-readable and shown as text.
 */
export interface BackendError {
  code: string;
  message: string;
}

/** Code used when a failure does not arrive in the BackendError shape. */
export const INTERNAL_ERROR_CODE = 'internal';

export function isBackendError(value: unknown): value is BackendError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.code === 'string' && typeof candidate.message === 'string';
}

/**
 * Turns anything thrown or rejected into a BackendError. Only `code` and `message`
 * are kept, so nothing else from the error object travels into the UI.
 */
export function toBackendError(value: unknown): BackendError {
  if (isBackendError(value)) {
    return { code: value.code, message: value.message };
  }
  if (typeof value === 'string' && value.length > 0) {
    return { code: INTERNAL_ERROR_CODE, message: value };
  }
  if (value instanceof Error && value.message.length > 0) {
    return { code: INTERNAL_ERROR_CODE, message: value.message };
  }
  return { code: INTERNAL_ERROR_CODE, message: 'Something went wrong in the app backend.' };
}
