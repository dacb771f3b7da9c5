import type {
  AccountView,
  ApproverRequest,
  DisplayModel,
  HistoryView,
  RequestView,
} from '../src/lib/backend/types';
import { FAKE_PUBLIC_JWK } from '../src/lib/backend/fake';
import { accessOf, accountFields, requestFields } from './fixture-fields.mjs';
import auth0Transfer from './models/auth0-transfer.model.json';
import hostileNames from './models/hostile-names.model.json';
import hostileText from './models/hostile-text.model.json';
import mixedRequest from './models/mixed-request.model.json';
import purchaseBidi from './models/purchase-bidi-undescribed.model.json';
import stockTradeInvalid from './models/stock-trade-invalid.model.json';

/**
 * Display models rendered by `countersign-details` from `tests/models/*.details.json`
 * (a Rust test in src-tauri checks they are still what the crate renders).
 */
export const MODELS = {
  mixed: mixedRequest as unknown as DisplayModel,
  bidi: purchaseBidi as unknown as DisplayModel,
  invalid: stockTradeInvalid as unknown as DisplayModel,
  auth0: auth0Transfer as unknown as DisplayModel,
  /** Member names, a sender's label and a type with bidi, invisible, lookalike and unusual characters. */
  names: hostileNames as unknown as DisplayModel,
  /**
   * Hostile text in every text slot: lookalike and bidi characters in summaries, an Auth0
   * description with an override, undescribed paths with ESC and TAB, a TAB in multi-line text.
   */
  text: hostileText as unknown as DisplayModel,
} as const;

export const NOW = 1_767_225_600;

/** A well-formed pending request; override any field per test. */
export function makeRequest(overrides: Partial<ApproverRequest> = {}): ApproverRequest {
  return {
    ...requestFields(),
    authorization_details: [{ type: 'urn:countersign:details:v1:stock_trade', action: 'buy' }],
    created_at: NOW - 30,
    expires_at: NOW + 270,
    nonce: 'n0nce-0123456789abcdef0123456789abcdef',
    ...overrides,
  };
}

export interface ViewOverrides {
  request?: Partial<ApproverRequest>;
  display?: DisplayModel;
  approvable?: boolean;
  /** Default: the core's verdict as `coreConfirmationRequired` approximates it. */
  confirmation_required?: boolean;
  account_id?: string;
  request_text?: RequestView['request_text'];
  /** Default: what the core says when the OS can verify the user (polkit). */
  user_verification?: RequestView['user_verification'];
}

/** A request view (what the inbox and the detail view show). */
export function makeView(overrides: ViewOverrides = {}): RequestView {
  const display = overrides.display ?? MODELS.mixed;
  const request = makeRequest(overrides.request);
  return {
    item: {
      account_id: overrides.account_id ?? 'acct_1',
      request,
      status: 'pending',
      status_reason: null,
      received_at: request.created_at,
      updated_at: request.created_at,
    },
    display: JSON.parse(JSON.stringify(display)) as DisplayModel,
    approvable: overrides.approvable ?? display.approvable,
    security_key_required: request.requires.includes('webauthn'),
    user_verification: overrides.user_verification ?? coreVerificationStep(request),
    confirmation_required: overrides.confirmation_required ?? coreConfirmationRequired(request),
    request_text: overrides.request_text ?? [],
    access: accessOf(request),
  };
}

/**
 * A fixture's default for how an approval verifies the user (`crates/approver/src/gate.rs`,
 * `verification_step`) on an approver whose OS can: the security key when one is required,
 * else the OS prompt. Test data only.
 */
export function coreVerificationStep(request: ApproverRequest): RequestView['user_verification'] {
  if (!request.requires.includes('user_verification')) return { kind: 'not_required' };
  if (request.requires.includes('webauthn')) return { kind: 'security_key' };
  return { kind: 'os_prompt', method: 'polkit' };
}

/**
 * A fixture's default for the core's verdict (`crates/approver/src/confirm.rs`): the code is
 * needed for `user_verification` or when the server's level is high, critical or unknown.
 * (The core also counts each detail's level; a test that needs that sets
 * `confirmation_required` itself.) Test data only: the UI never decides this.
 */
export function coreConfirmationRequired(request: ApproverRequest): boolean {
  return request.requires.includes('user_verification') || !['low', 'medium'].includes(request.risk);
}

export function makeAccount(overrides: Partial<AccountView> = {}): AccountView {
  return {
    ...accountFields(),
    public_jwk: { ...FAKE_PUBLIC_JWK },
    last_event_id: null,
    created_at: NOW - 86_400,
    user_text: [],
    ...overrides,
  };
}

export function makeHistory(overrides: Partial<HistoryView> = {}): HistoryView {
  return {
    id: 1,
    account_id: 'acct_1',
    request_id: 'req_old',
    decision: 'approve',
    deny_reason: null,
    statement_jcs: '{}',
    statement_hash: 'hash',
    decision_jws: 'a.b.c',
    decided_at: NOW - 600,
    delivery: 'delivered',
    server_status: 200,
    server_answer: '{}',
    delivered_at: NOW - 599,
    request_text: [],
    request: makeRequest({ id: 'req_old', binding_message: 'OLD-1', client: { client_id: 'c', client_name: 'Mail Agent', verified: false } }),
    ...overrides,
  };
}
