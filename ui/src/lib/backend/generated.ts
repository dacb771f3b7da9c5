// Generated from the Rust types by src-tauri/ts_types.rs (ts-rs). Do not edit:
// `UPDATE_UI_TYPES=1 cargo test -p countersign-desktop --lib ts_types`
// writes it again. Field names and shapes are exactly what serde sends.
// An open registered enum (one a newer peer may extend) is written
// `Name | (string & {})` where it is used.

export type Risk = "low" | "medium" | "high" | "critical";

export type Requirement = "user_verification" | "webauthn";

/**
 * The agent asking (`client`).
 */
export type ClientInfo = {
  /**
   * OAuth `client_id`.
   */
  client_id: string,
  /**
   * Registered `client_name` (agent-supplied text: untrusted).
   */
  client_name: string,
  /**
   * Registered `logo_uri`, if any.
   */
  logo_uri?: string | null,
  /**
   * `true` when an admin has verified this client.
   */
  verified: boolean, };

/**
 * The user asked (`user`).
 */
export type RequestUser = {
  /**
   * Subject identifier.
   */
  sub: string,
  /**
   * Display name.
   */
  name: string, };

/**
 * Where the request came from, as far as the server can tell (`context`).
 */
export type RequestContext = {
  /**
   * IP address of the agent's call.
   */
  ip?: string | null,
  /**
   * `User-Agent` of the agent's call.
   */
  user_agent?: string | null,
  /**
   * Coarse location derived by the server, e.g. "Paris, FR".
   */
  location?: string | null, };

/**
 * An approval request as the approver receives it (SSE `request` event,
 * `GET {device}/requests`, `GET {device}/requests/{id}`).
 *
 * Server-to-approver messages ignore unknown members (a newer server may
 * add some); nothing outside the approval statement is signed.
 */
export type ApproverRequest = {
  /**
   * Request id.
   */
  id: string,
  /**
   * The issuer the request belongs to.
   */
  issuer: string,
  /**
   * The agent.
   */
  client: ClientInfo,
  /**
   * The user.
   */
  user: RequestUser,
  /**
   * CIBA `binding_message`, shown on both sides.
   */
  binding_message: string,
  /**
   * Requested scopes, in request order.
   */
  scope: Array<string>,
  /**
   * The description of each requested scope the server's scope registry
   * knows, as it was when the request was made (operator text: shown as
   * text, checked like any other). A requested scope without an entry is
   * unknown to the server and shown flagged. Part of the statement.
   */
  scope_descriptions: { [key in string]: string },
  /**
   * The API the access token is for (its `aud`): the agent's `audience`,
   * else the server's default; absent when the token is for the issuer
   * itself. Part of the statement.
   */
  audience?: string | null,
  /**
   * RFC 9396 `authorization_details`, members in the order the agent
   * sent; `[]` for a scope-only request.
   */
  authorization_details: Array<{ type: string } & Record<string, unknown>>,
  /**
   * CIBA `acr_values` (space-separated, in order of preference), if sent.
   */
  acr_values?: string | null,
  /**
   * Request context.
   */
  context: RequestContext,
  /**
   * Risk as judged by the server.
   */
  risk: Risk | (string & {}),
  /**
   * Step-ups the decision needs.
   */
  requires: Array<Requirement | (string & {})>,
  /**
   * Created, unix seconds.
   */
  created_at: number,
  /**
   * Decisions are refused from this time on, unix seconds.
   */
  expires_at: number,
  /**
   * At least 128 random bits from the server; part of the statement.
   */
  nonce: string, };

/**
 * The enrolled user, as the server tells the approver.
 */
export type EnrolledUser = {
  /**
   * Subject identifier (the `sub` of tokens and statements).
   */
  sub: string,
  /**
   * Display name.
   */
  name: string,
  /**
   * Roles.
   */
  roles: Array<Role | (string & {})>, };

export type Role = "admin" | "user";

export type Decision = "approve" | "deny";

export type DenyReason = "not_me" | "wrong_details" | "other";

export type Amr = "face" | "fpt" | "geo" | "hwk" | "iris" | "kba" | "mca" | "mfa" | "otp" | "pin" | "pop" | "pwd" | "rba" | "retina" | "sc" | "sms" | "swk" | "tel" | "user" | "vbm" | "wia";

/**
 * Claims of a decision JWS (`typ: decision+jwt`, `kid` = device id).
 * Unknown claims are refused.
 */
export type DecisionClaims = {
  /**
   * The device id.
   */
  iss: string,
  /**
   * The issuer.
   */
  aud: string,
  /**
   * Issued at, unix seconds.
   */
  iat: number,
  /**
   * Expiry, unix seconds (at most 120 s after `iat`).
   */
  exp: number,
  /**
   * Unique id.
   */
  jti: string,
  /**
   * The request decided.
   */
  request_id: string,
  /**
   * The decision (also inside the statement).
   */
  decision: Decision,
  /**
   * Why, for a denial.
   */
  deny_reason?: DenyReason | (string & {}) | null,
  /**
   * Hash of the approval statement.
   */
  statement_hash: string,
  /**
   * How the approver verified the person before signing (RFC 8176
   * values, sorted, no repeats): `user` after an OS prompt; absent when
   * it did not verify them (`docs/protocol.md` §8.1).
   */
  amr?: Array<Amr | (string & {})>, };

/**
 * `POST {device}/requests/{id}/decision` success body (HTTP 200), also
 * returned unchanged for an identical resubmission.
 */
export type DecisionResult = {
  /**
   * The request.
   */
  request_id: string,
  /**
   * `approved` or `denied`.
   */
  status: RequestStatus | (string & {}),
  /**
   * When the decision was recorded, unix seconds.
   */
  decided_at: number, };

export type RequestStatus = "pending" | "approved" | "denied" | "expired" | "cancelled";

/**
 * `grant_revoked` event data: the tokens issued for an approved request
 * are revoked.
 */
export type GrantRevoked = {
  /**
   * The grant.
   */
  grant_id: string,
  /**
   * The request whose approval created it.
   */
  request_id: string,
  /**
   * The agent that held it.
   */
  client_id: string,
  /**
   * Why.
   */
  reason: RevocationReason | (string & {}),
  /**
   * When, unix seconds.
   */
  revoked_at: number, };

/**
 * `admin_notice` event data: something an administrator should look at.
 * Every string in it comes from the server's records (client ids, user
 * ids) and is shown as untrusted text.
 */
export type AdminNotice = {
  /**
   * What happened.
   */
  notice: AdminNoticeKind | (string & {}),
  /**
   * The client concerned (absent for [`AdminNoticeKind::UnverifiedBlocked`]).
   */
  client_id?: string | null,
  /**
   * The user concerned (absent for a block of a client for everyone).
   */
  sub?: string | null,
  /**
   * The request denied (for [`AdminNoticeKind::NotMe`]).
   */
  request_id?: string | null,
  /**
   * Who did it, as the audit log names actors (`device:<id>`,
   * `operator` or `operator:<name>`, `server`).
   */
  by: string,
  /**
   * When, unix seconds.
   */
  at: number, };

export type AdminNoticeKind = "not_me" | "client_blocked" | "unverified_blocked";

export type RevocationReason = "revoked_by_user" | "revoked_by_admin" | "client_blocked";

/**
 * `GET {device}/unverified-block` body, also the answer of
 * `POST {device}/unverified-block/lift`.
 */
export type UnverifiedBlock = {
  /**
   * Whether unverified agents are refused for this user.
   */
  blocked: boolean,
  /**
   * Since when, unix seconds (present when `blocked`).
   */
  since?: number | null, };

/**
 * One registered credential of the user.
 */
export type WebauthnCredential = {
  /**
   * The credential id, base64url.
   */
  credential_id: string,
  /**
   * Its name.
   */
  name: string,
  /**
   * Registered, unix seconds.
   */
  created_at: number,
  /**
   * Last approval made with it, unix seconds.
   */
  last_used_at?: number,
  /**
   * Set when its signature counter went backwards (a possible clone):
   * the server refuses it from then on, unix seconds.
   */
  flagged_at?: number, };

/**
 * The P-256 public key of a device as a JWK (RFC 7517, RFC 7518 §6.2):
 * `{"kty":"EC","crv":"P-256","x":…,"y":…}` plus optional `kid`, `alg`
 * (`ES256` only) and `use` (`sig` only).
 *
 * Every value of this type is a valid P-256 point: deserialization and the
 * constructors check the coordinate lengths and that the point is on the
 * curve. Members other than these (a private `d`, `key_ops`, `x5c`…) are
 * refused when deserializing.
 */
export type PublicJwk = { kty: KeyType | (string & {}), crv: Curve | (string & {}), x: string, y: string, kid?: string | null, alg?: JwsAlg | (string & {}) | null, use?: KeyUse | (string & {}) | null, };

export type KeyType = "EC" | "RSA" | "oct" | "OKP";

export type Curve = "P-256" | "P-384" | "P-521" | "Ed25519";

export type JwsAlg = "ES256" | "ES384" | "ES512" | "RS256" | "PS256" | "HS256" | "EdDSA" | "none";

export type KeyUse = "sig" | "enc";

/**
 * The rendering of a whole `authorization_details` array.
 */
export type DisplayModel = {
  /**
   * Whether the user may approve: `false` when the request was refused or
   * any detail breaks its schema.
   */
  approvable: boolean,
  /**
   * `valid`, `invalid` (a schema violation: shown, never approvable) or
   * `refused` (over a limit or unparseable: not rendered).
   */
  status: DisplayStatus,
  /**
   * Request-level warnings (limits, parse errors, many details).
   */
  warnings: Array<Warning>,
  /**
   * One view per detail, in request order (empty when refused).
   */
  details: Array<DetailView>,
  /**
   * The display schema hash of each type present: what the approval
   * statement's `display_schemas` must contain.
   */
  display_schemas: { [key in string]: string },
  /**
   * Number of warnings at every level (request, details, fields), for a
   * badge.
   */
  warning_count: number,
  /**
   * The highest severity among all warnings, `null` when there are none.
   */
  max_severity: Severity | null,
  /**
   * The worst warning at any level (severity first, then
   * [`WarningCode::BY_CONCERN`]), for a line that cannot list them all
   * (an inbox line, a notification); `null` when there are none.
   */
  worst_warning: WorstWarning | null, };

/**
 * Overall state of a request.
 */
export type DisplayStatus = "valid" | "invalid" | "refused";

/**
 * What a short view says of a request's warnings: the worst kind.
 */
export type WorstWarning = {
  /**
   * The code of the worst warning.
   */
  code: WarningCode,
  /**
   * Its severity.
   */
  severity: Severity,
  /**
   * What it is about, in words: `lookalike letters`,
   * `direction-changing characters` ([`WarningCode::kind`]).
   */
  text: string, };

/**
 * How serious a warning is.
 */
export type Severity = "info" | "caution" | "danger";

/**
 * Kinds of warning (see the catalogue in `docs/display-schema.md`).
 */
export type WarningCode = "bidi_control" | "invisible_character" | "hidden_text" | "control_character" | "unusual_whitespace" | "unusual_character" | "combining_marks" | "mixed_script" | "non_ascii_identifier" | "long_value" | "many_items" | "many_details" | "undescribed_field" | "no_schema" | "schema_violation" | "invalid_format" | "missing_value" | "hidden_by_sender" | "limit_exceeded" | "unparseable";

/**
 * One character a warning is about.
 */
export type CharFinding = {
  /**
   * `U+202E`.
   */
  code_point: string,
  /**
   * `RIGHT-TO-LEFT OVERRIDE`.
   */
  name: string,
  /**
   * 0-based position in the string, counted in Unicode code points.
   */
  position: number,
  /**
   * 0-based position counted in UTF-16 code units (JavaScript indices).
   */
  utf16_offset: number, };

/**
 * A visible warning.
 */
export type Warning = {
  /**
   * What kind of finding.
   */
  code: WarningCode,
  /**
   * How serious.
   */
  severity: Severity,
  /**
   * Index of the detail, `null` for the request as a whole.
   */
  index: number | null,
  /**
   * JSON Pointer within the detail (`""` = the detail itself), `null` when
   * not about one value.
   */
  path: string | null,
  /**
   * Whether the finding is in the member name rather than the value.
   */
  in_key: boolean,
  /**
   * Human-readable text, e.g. `U+202E RIGHT-TO-LEFT OVERRIDE at position
   * 12`. Untrusted text it quotes (a path, a member name, a decoded
   * hidden text) is quoted exactly (cut at 200 characters) and its
   * characters to reveal are in `message_characters`.
   */
  message: string,
  /**
   * The characters of `message` a consumer must reveal where they stand
   * (positions within `message`).
   */
  message_characters: Array<CharFinding>,
  /**
   * The characters concerned (at most [`crate::limits::MAX_FINDINGS`];
   * `message` gives the total), positions within the value (or member
   * name) the warning is about.
   */
  characters: Array<CharFinding>, };

/**
 * How a detail was rendered.
 */
export type Renderer = "schema" | "auth0_guardian" | "generic";

/**
 * Risk declared by the display schema.
 */
export type DetailRisk = "low" | "medium" | "high" | "critical" | "unknown";

/**
 * One authorization details object, rendered.
 */
export type DetailView = {
  /**
   * Position in the request.
   */
  index: number,
  /**
   * The `type` exactly as sent.
   */
  type: string,
  /**
   * Which renderer was used.
   */
  renderer: Renderer,
  /**
   * Hash of the display schema used (`SchemaHash::of_no_schema()` for none).
   */
  schema_hash: string,
  /**
   * Title from the schema, or the type itself when there is none.
   */
  title: string,
  /**
   * The characters of `title` a UI must mark where they stand (a
   * schema's title as prose, a type as an identifier).
   */
  title_characters: Array<CharFinding>,
  /**
   * The schema's summary template filled from the values; `null` when the
   * schema has no template.
   */
  summary: Summary | null,
  /**
   * Risk from the schema.
   */
  risk: DetailRisk,
  /**
   * Icon name from the schema.
   */
  icon: string | null,
  /**
   * `false` when the detail breaks its schema.
   */
  valid: boolean,
  /**
   * The fields the schema describes, in schema order (every field when
   * there is no schema).
   */
  fields: Array<Field>,
  /**
   * Fields present in the request that the schema does not describe, under
   * the heading "Not described by the schema"; each also has a warning.
   */
  undescribed: Array<Field>,
  /**
   * Detail-level warnings: schema violations, no schema, the type string.
   */
  warnings: Array<Warning>, };

/**
 * A summary line built from the schema's template.
 */
export type Summary = {
  /**
   * The whole line, exactly: the template's text and each value as sent
   * (or its reading form), nothing escaped.
   */
  text: string,
  /**
   * The characters of `text` a consumer must reveal where they stand, so
   * that none can reorder or hide the rest of the line: each value's
   * findings in its own context (a lookalike letter in a recipient, a
   * non-ASCII letter in a ticker), the template's in one line of prose,
   * and every control character (the summary is one line).
   */
  characters: Array<CharFinding>,
  /**
   * The same line in parts, so a UI can style values and missing ones.
   */
  parts: Array<SummaryPart>, };

/**
 * One piece of a summary line.
 */
export type SummaryPart = { "kind": "text",
  /**
   * The text.
   */
  text: string,
  /**
   * Its characters to reveal (positions within this part).
   */
  characters: Array<CharFinding>, } | { "kind": "value",
  /**
   * JSON Pointer of the value within the detail.
   */
  path: string,
  /**
   * The value as text (exact input for scalars).
   */
  text: string,
  /**
   * Whether that value has warnings of its own.
   */
  flagged: boolean,
  /**
   * Its characters to reveal (positions within this part).
   */
  characters: Array<CharFinding>, } | { "kind": "missing",
  /**
   * JSON Pointer of the absent value within the detail.
   */
  path: string,
  /**
   * What is shown instead, e.g. `[missing: Symbol]`.
   */
  text: string,
  /**
   * Its characters to reveal (positions within this part).
   */
  characters: Array<CharFinding>, };

/**
 * One value shown to the user, with its label.
 */
export type Field = {
  /**
   * JSON Pointer (RFC 6901) of the value within its detail, e.g.
   * `/instructedAmount` (the UI shows it beside undescribed fields).
   */
  path: string,
  /**
   * The member name (or the array index, as text) exactly as sent.
   */
  key: string,
  /**
   * The label: from the schema, else the member name exactly as sent.
   */
  label: string,
  /**
   * Where the label comes from.
   */
  label_source: LabelSource,
  /**
   * The characters of `label` a UI must mark where they stand (bidi,
   * invisible, lookalike…), as `countersign_text` finds them: a member
   * name or a sender's label as an identifier, a schema's label as prose.
   */
  label_characters: Array<CharFinding>,
  /**
   * The characters of `path` a UI must mark where they stand (the path is
   * made of member names as sent), found as in an identifier.
   */
  path_characters: Array<CharFinding>,
  /**
   * The display format.
   */
  format: Format,
  /**
   * The value.
   */
  value: FieldValue,
  /**
   * The schema asks for this field to stand out.
   */
  emphasis: boolean,
  /**
   * The value is sensitive (keep it out of notifications and logs; it is
   * still shown in the approval view).
   */
  sensitive: boolean,
  /**
   * Shown collapsed (Auth0 `display: false`): present, one click away.
   */
  collapsed: boolean,
  /**
   * Help text from the schema (or Auth0 `description`), exactly.
   */
  description: string | null,
  /**
   * The characters of `description` a UI must mark where they stand
   * (found as in one line of prose, every control character included).
   */
  description_characters: Array<CharFinding>,
  /**
   * Warnings about this value or its name.
   */
  warnings: Array<Warning>, };

/**
 * Where a field's label comes from.
 */
export type LabelSource = "schema" | "key" | "index" | "sender";

/**
 * JSON type of a scalar.
 */
export type JsonType = "string" | "number" | "boolean" | "null";

/**
 * Display format of a value, from the schema's `x-countersign.format`.
 */
export type Format = "text" | "multiline-text" | "money" | "currency" | "date-time" | "date" | "duration" | "email" | "url" | "account" | "iban" | "bic" | "ticker" | "path" | "code" | "identifier" | "percent";

/**
 * A field's value.
 */
export type FieldValue = { "kind": "scalar",
  /**
   * Its JSON type.
   */
  json_type: JsonType,
  /**
   * The value exactly: a string as sent; a number in its RFC 8785
   * form; `true`, `false`, `null`.
   */
  text: string,
  /**
   * A reading aid for the user's locale (local date, duration in words,
   * grouped digits), `null` when there is none; `text` stays the
   * reference.
   */
  display: string | null,
  /**
   * For a date-time, the same instant in UTC.
   */
  utc: string | null,
  /**
   * Long or unbroken: the UI must wrap it (it is never truncated).
   */
  wrap: boolean, } | { "kind": "money",
  /**
   * The decimal string exactly as sent.
   */
  amount: string,
  /**
   * The currency code exactly as sent.
   */
  currency: string,
  /**
   * `amount currency`, e.g. `123.50 EUR`.
   */
  text: string,
  /**
   * The amount with digit grouping for the locale, e.g.
   * `1,234,567.50 EUR`.
   */
  display: string,
  /**
   * The characters of `text` to reveal (both parts must be ASCII).
   */
  characters: Array<CharFinding>,
  /**
   * The characters of `display` to reveal.
   */
  display_characters: Array<CharFinding>, } | { "kind": "object",
  /**
   * The members.
   */
  fields: Array<Field>, } | { "kind": "array",
  /**
   * The items, labelled `#1`, `#2`…
   */
  items: Array<Field>, };

/**
 * Where a request stands on this approver.
 */
export type LocalStatus = "pending" | "sending" | "approved" | "denied" | "expired" | "cancelled" | "decided_elsewhere" | "withdrawn" | "conflict" | "rejected";

/**
 * A stored request.
 */
export type InboxItem = {
  /**
   * The account it came for.
   */
  account_id: string,
  /**
   * The request, parsed from [`InboxItem::request_json`].
   */
  request: ApproverRequest,
  /**
   * Local status.
   */
  status: LocalStatus,
  /**
   * Why, when the status says little (server error, withdraw reason).
   */
  status_reason: string | null,
  /**
   * When it was first received.
   */
  received_at: number,
  /**
   * Last status change.
   */
  updated_at: number, };

/**
 * A stored request with its rendering: what a shell shows.
 */
export type RequestView = {
  /**
   * The stored request and its local status.
   */
  item: InboxItem,
  /**
   * The rendering of its `authorization_details` (`docs/display-schema.md`
   * §7): title, summary, risk, fields, warnings, and the `display_schemas`
   * an approval signs.
   */
  display: DisplayModel,
  /**
   * Whether "approve" may be offered: pending and not expired, the
   * rendering is approvable (no schema violation, not over a limit), and
   * every step-up the request requires is one this approver can perform
   * (`webauthn` where the approver announces the `webauthn` capability:
   * its shell offers a security key with the approval). Denying is
   * always possible while pending.
   */
  approvable: boolean,
  /**
   * Whether approving needs the user's security key (the request
   * `requires` `webauthn`): shells say so before the user approves.
   */
  security_key_required: boolean,
  /**
   * How approving verifies the person (the request `requires`
   * `user_verification`): shells say so before the user approves, and
   * when it is not possible here, why (then `approvable` is false).
   */
  user_verification: VerificationStep,
  /**
   * Whether approving needs the binding message typed
   * ([`crate::confirm`]: high or critical risk, or `requires:
   * user_verification`). Shells ask for it whenever this is true and
   * pass what was typed to [`Approver::decide`], which checks it.
   */
  confirmation_required: boolean,
  /**
   * Findings in the request's own strings (client name, binding message,
   * scope…), which come from the agent and its server like the details:
   * one entry per flagged string. Each also adds a request-level warning
   * to `display.warnings`.
   */
  request_text: Array<TextFinding>,
  /**
   * The access the agent asks for besides `authorization_details`: the
   * API the token is for and each scope with its description. For a
   * scope-only request it is everything the user approves.
   */
  access: AccessView, };

/**
 * The findings of one request-level string.
 */
export type TextFinding = {
  /**
   * JSON Pointer of the string within the request, e.g.
   * `/client/client_name`, `/scope/0`.
   */
  field: string,
  /**
   * The `countersign_details` checks on it (`index` and `path` `null`);
   * their `characters` are what the UI marks in the string.
   */
  warnings: Array<Warning>, };

/**
 * The access request block: what a token for this request opens. Every
 * string in it comes from the server (the scope registry, the operator's
 * API names) or the agent (scope names): shown as text, checked like the
 * others ([`request_text`]: `/audience`, `/scope/{i}`,
 * `/scope_descriptions/{scope}`), each finding marked where it stands.
 */
export type AccessView = {
  /**
   * `true` when the request has no `authorization_details`: this block
   * is all it asks for ("access request").
   */
  scope_only: boolean,
  /**
   * The API the token is for (its `aud`); `null`: the server itself.
   */
  audience: string | null,
  /**
   * The requested scopes, in request order.
   */
  scopes: Array<ScopeView>, };

/**
 * One requested scope as shown.
 */
export type ScopeView = {
  /**
   * The scope, as requested.
   */
  scope: string,
  /**
   * JSON Pointer of the scope in the request (`/scope/{i}`), the key of
   * its findings in `request_text`.
   */
  field: string,
  /**
   * The server's description; `null`: the scope is unknown to the server
   * (flagged: nobody says what it grants).
   */
  description: string | null,
  /**
   * JSON Pointer of the description (`/scope_descriptions/{scope}`),
   * the key of its findings in `request_text`.
   */
  description_field: string, };

/**
 * How an approval verifies the person.
 */
export type VerificationStep = { "kind": "not_required" } | { "kind": "security_key" } | { "kind": "os_prompt",
  /**
   * Which: "polkit", "LocalAuthentication", "Windows Hello".
   */
  method: string, } | { "kind": "unavailable",
  /**
   * Why, and what would work.
   */
  reason: string, };

/**
 * An enrolled device of one user at one server.
 */
export type Account = {
  /**
   * Local id (random, base64url); also the key id in the key store.
   */
  id: string,
  /**
   * The server.
   */
  issuer: string,
  /**
   * `countersign_device_endpoint` from the server's metadata.
   */
  device_endpoint: string,
  /**
   * The server's id of this device.
   */
  device_id: string,
  /**
   * The user, as the server named it at enrollment.
   */
  user: EnrolledUser,
  /**
   * Seconds between polls when push is down.
   */
  poll_interval: number,
  /**
   * Where the private key is.
   */
  key_store: KeyStoreKind,
  /**
   * The device's public key (for offline receipt checks).
   */
  public_jwk: PublicJwk,
  /**
   * Last SSE event id seen (`Last-Event-ID` on reconnect).
   */
  last_event_id: string | null,
  /**
   * When it was enrolled.
   */
  created_at: number, };

/**
 * Which store holds a key (kept with the account).
 */
export type KeyStoreKind = "keychain" | "file" | "memory";

/**
 * What an invitation would enroll this approver as, read before the user
 * confirms ([`Approver::enroll_preview`]). Holds no secret: the ticket is
 * not part of it.
 */
export type EnrollPreview = {
  /**
   * The server: the invitation's issuer, which its metadata confirmed.
   */
  issuer: string,
  /**
   * The issuer is plain `http` (a loopback development server).
   */
  plain_http: boolean,
  /**
   * Whose device this approver would become.
   */
  user: EnrolledUser,
  /**
   * When the invitation's ticket expires (unix seconds).
   */
  expires_at: number,
  /**
   * Hidden, bidirectional and control characters (and the other text
   * checks of [`crate::display::request_text`]) in `user.name` and
   * `user.sub`, which come from the server: one entry per flagged string
   * (`field` `/user/name` or `/user/sub`).
   */
  user_findings: Array<TextFinding>, };

/**
 * What became of a decision.
 */
export type Delivery = "queued" | "delivered" | "expired" | "conflict" | "withdrawn" | "rejected";

/**
 * A decision made on this approver.
 */
export type HistoryEntry = {
  /**
   * Row id.
   */
  id: number,
  /**
   * The account.
   */
  account_id: string,
  /**
   * The request.
   */
  request_id: string,
  /**
   * The decision.
   */
  decision: Decision,
  /**
   * Why, for a denial.
   */
  deny_reason: DenyReason | (string & {}) | null,
  /**
   * The approval statement exactly as hashed (its JCS text).
   */
  statement_jcs: string,
  /**
   * Its hash.
   */
  statement_hash: string,
  /**
   * The signed decision (the receipt).
   */
  decision_jws: string,
  /**
   * When the user decided.
   */
  decided_at: number,
  /**
   * What became of it.
   */
  delivery: Delivery,
  /**
   * HTTP status of the server's final answer.
   */
  server_status: number | null,
  /**
   * The server's final answer (JSON text).
   */
  server_answer: string | null,
  /**
   * When the final answer came.
   */
  delivered_at: number | null, };

/**
 * A decision with the request it was about (when still stored).
 */
export type HistoryView = {
  /**
   * The request, while the inbox still holds it.
   */
  request: ApproverRequest | null,
  /**
   * Findings in that request's own strings (client name, binding code…).
   */
  request_text: Array<TextFinding>,
  /**
   * Row id.
   */
  id: number,
  /**
   * The account.
   */
  account_id: string,
  /**
   * The request.
   */
  request_id: string,
  /**
   * The decision.
   */
  decision: Decision,
  /**
   * Why, for a denial.
   */
  deny_reason: DenyReason | (string & {}) | null,
  /**
   * The approval statement exactly as hashed (its JCS text).
   */
  statement_jcs: string,
  /**
   * Its hash.
   */
  statement_hash: string,
  /**
   * The signed decision (the receipt).
   */
  decision_jws: string,
  /**
   * When the user decided.
   */
  decided_at: number,
  /**
   * What became of it.
   */
  delivery: Delivery,
  /**
   * HTTP status of the server's final answer.
   */
  server_status: number | null,
  /**
   * The server's final answer (JSON text).
   */
  server_answer: string | null,
  /**
   * When the final answer came.
   */
  delivered_at: number | null, };

/**
 * Where an export went.
 */
export type ExportReport = {
  /**
   * The file written.
   */
  path: string,
  /**
   * How many decisions it holds.
   */
  decisions: number, };

/**
 * How one delivery attempt ended.
 */
export type DeliveryReport = { "outcome": "delivered",
  /**
   * The server's answer.
   */
  result: DecisionResult, } | { "outcome": "retrying",
  /**
   * Why the attempt failed.
   */
  error: string,
  /**
   * Unix time of the next attempt.
   */
  next_attempt_at: number, } | { "outcome": "expired" } | { "outcome": "conflict",
  /**
   * The server's status of the request.
   */
  status: string | null, } | { "outcome": "withdrawn" } | { "outcome": "needs_review",
  /**
   * Why.
   */
  reason: string, } | { "outcome": "rejected",
  /**
   * The error.
   */
  error: string, } | { "outcome": "not_queued" };

/**
 * The result of [`Approver::decide`].
 */
export type DecisionOutcome = {
  /**
   * The recorded decision (with the signed JWS).
   */
  history: HistoryEntry,
  /**
   * The first delivery attempt.
   */
  delivery: DeliveryReport, };

/**
 * The result of a receipt check.
 */
export type ReceiptCheck = {
  /**
   * The account.
   */
  account_id: string,
  /**
   * The request.
   */
  request_id: string,
  /**
   * The JWS verifies with the enrolled key, with the right `typ`, `kid`,
   * `iss`, `aud`, `request_id` and lifetime.
   */
  signature_valid: boolean,
  /**
   * SHA-256 of the stored statement text equals the signed
   * `statement_hash`.
   */
  statement_hash_valid: boolean,
  /**
   * The statement rebuilt from the stored request hashes to the same
   * value (the decision covers exactly that request).
   */
  request_matches: boolean,
  /**
   * Decision and deny reason of the JWS equal the recorded ones.
   */
  decision_matches: boolean,
  /**
   * The claims of the JWS (when it verified).
   */
  claims: DecisionClaims | null,
  /**
   * What failed, in words.
   */
  problems: Array<string>, };

/**
 * How an account is connected.
 */
export type ConnectionState = { "state": "connecting" } | { "state": "push" } | { "state": "polling" } | { "state": "disconnected",
  /**
   * Why.
   */
  error: string,
  /**
   * Delay before the next attempt.
   */
  retry_in_ms: number, };

/**
 * Something shells show.
 */
export type ApproverEvent = { "event": "new_request",
  /**
   * The stored request.
   */
  item: InboxItem, } | { "event": "withdrawn",
  /**
   * The account.
   */
  account_id: string,
  /**
   * The request.
   */
  request_id: string,
  /**
   * Why.
   */
  reason: string, } | { "event": "decided",
  /**
   * The account.
   */
  account_id: string,
  /**
   * The request.
   */
  request_id: string,
  /**
   * The decision.
   */
  decision: Decision,
  /**
   * Where it stands.
   */
  delivery: Delivery,
  /**
   * Details (server error, expiry).
   */
  detail: string | null, } | { "event": "grant_revoked",
  /**
   * The account.
   */
  account_id: string,
  /**
   * The revocation.
   */
  grant: GrantRevoked, } | { "event": "admin_notice",
  /**
   * The account.
   */
  account_id: string,
  /**
   * The notice.
   */
  notice: AdminNotice, } | { "event": "schema_changed",
  /**
   * The server.
   */
  issuer: string,
  /**
   * The type.
   */
  detail_type: string,
  /**
   * The hash cached until now.
   */
  previous: string,
  /**
   * The new hash (`None`: no longer published).
   */
  current: string | null, } | { "event": "review_required",
  /**
   * The account.
   */
  account_id: string,
  /**
   * The request.
   */
  request_id: string,
  /**
   * Why.
   */
  reason: string, } | { "event": "connection",
  /**
   * The account.
   */
  account_id: string,
  /**
   * The new state.
   */
  state: ConnectionState, };

/**
 * What the key store asks the passphrase for.
 */
export type PassphrasePurpose = "create" | "open";

/**
 * One of the admin API's lists (`"pending"`, `"grants"`… in JSON, as a
 * shell names it).
 */
export type AdminList = "pending" | "grants" | "clients" | "users" | "devices" | "audit";

/**
 * An action of the admin API. In JSON (as a shell sends it) tagged by
 * `action`: `{"action": "revoke_grant", "grant_id": "…"}`; `sub` of a
 * block is `null` for everyone.
 */
export type AdminAction = { "action": "cancel",
  /**
   * The request id.
   */
  request_id: string, } | { "action": "revoke_grant",
  /**
   * The grant id (its access token's `jti`).
   */
  grant_id: string, } | { "action": "verify_client",
  /**
   * The client.
   */
  client_id: string,
  /**
   * Verified or not.
   */
  verified: boolean, } | { "action": "block",
  /**
   * The client.
   */
  client_id: string,
  /**
   * The user (`sub`), or everyone.
   */
  sub: string | null, } | { "action": "unblock",
  /**
   * The client.
   */
  client_id: string,
  /**
   * The user (`sub`), or everyone.
   */
  sub: string | null, } | { "action": "revoke_device",
  /**
   * The device.
   */
  device_id: string, };

/**
 * One page of a list as a shell shows it: each item exactly as the
 * server sent it, with the characters to mark in its strings
 * ([`AdminItem`]). Everything in it comes from the server and the agents
 * and users it names: shells show it as text, marked.
 */
export type AdminPageView = {
  /**
   * The items, newest first.
   */
  items: Array<AdminItem>,
  /**
   * The cursor of the next page; `null` on the last one.
   */
  next_cursor: string | null, };

/**
 * One item of a list, with its flagged characters.
 */
export type AdminItem = {
  /**
   * The item as the server sent it (`countersign_protocol::admin`:
   * `PendingRequest`, `Grant`, `Client`, `User`, `Device`, `AuditEntry`).
   */
  item: unknown,
  /**
   * The flagged characters of each string in it (JSON Pointer, e.g.
   * `/client_name`, `/scope/0`, `/data/reason`): only flagged strings
   * are listed.
   */
  text: Array<AdminText>,
  /**
   * Each top-level member that holds JSON (an object, or an array with
   * anything but strings: `authorization_details`, `data`) as one line of
   * compact JSON, with its flagged characters: how shells show it.
   */
  json: Array<AdminJson>, };

/**
 * The flagged characters of one string of an item.
 */
export type AdminText = {
  /**
   * JSON Pointer of the string in the item.
   */
  pointer: string,
  /**
   * What to mark, where it stands.
   */
  characters: Array<CharFinding>, };

/**
 * A member of an item written as one line of JSON.
 */
export type AdminJson = {
  /**
   * JSON Pointer of the member (`/authorization_details`, `/data`).
   */
  pointer: string,
  /**
   * Compact JSON (control characters escaped by JSON itself).
   */
  text: string,
  /**
   * What to mark in `text`.
   */
  characters: Array<CharFinding>, };

/**
 * An account with how it is connected right now (`null`: not known yet).
 */
export type AccountView = { connection: ConnectionState | null,
  /**
   * Hidden, bidi or control characters in the user's name or id.
   */
  user_text: Array<TextFinding>,
  /**
   * Local id (random, base64url); also the key id in the key store.
   */
  id: string,
  /**
   * The server.
   */
  issuer: string,
  /**
   * `countersign_device_endpoint` from the server's metadata.
   */
  device_endpoint: string,
  /**
   * The server's id of this device.
   */
  device_id: string,
  /**
   * The user, as the server named it at enrollment.
   */
  user: EnrolledUser,
  /**
   * Seconds between polls when push is down.
   */
  poll_interval: number,
  /**
   * Where the private key is.
   */
  key_store: KeyStoreKind,
  /**
   * The device's public key (for offline receipt checks).
   */
  public_jwk: PublicJwk,
  /**
   * Last SSE event id seen (`Last-Event-ID` on reconnect).
   */
  last_event_id: string | null,
  /**
   * When it was enrolled.
   */
  created_at: number, };

/**
 * A new account, and whether it replaced the one being re-enrolled.
 */
export type EnrollOutcome = { account: Account,
  /**
   * Hidden, bidi or control characters in the user's name or id.
   */
  user_text: Array<TextFinding>,
  /**
   * The re-enrolled account was removed (same server and user).
   */
  replaced: boolean,
  /**
   * Why the re-enrolled account was kept, if it was (it may quote the
   * users' names: shown with `kept_because_characters` marked).
   */
  kept_because: string | null, kept_because_characters: Array<CharFinding>, };

/**
 * Name, version, and what the UI must show about the app's own state.
 */
export type AppStatus = { name: string, version: string,
  /**
   * Keys are in the encrypted file because no keychain is reachable.
   */
  key_store_warning: string | null,
  /**
   * The approver could not be opened (every other command fails too).
   */
  startup_error: BackendError | null,
  /**
   * The encrypted key file waits for its passphrase: `create` (choose
   * one) or `open` (enter it); `null` when nothing waits.
   */
  passphrase_needed: PassphrasePurpose | null,
  /**
   * Why this app cannot use security keys (`null`: it can).
   */
  security_keys_unavailable: string | null,
  /**
   * The security key's PIN request waiting for the window (also sent
   * as a `security_key` event; here for a page that loads later).
   */
  security_key_pin: SecurityKeyPrompt | null, };

/**
 * Light, dark, or whatever the system says.
 */
export type Theme = "system" | "light" | "dark";

/**
 * What is stored. Unknown fields are ignored (a newer version may add some)
 * and missing ones take their defaults.
 */
export type Preferences = { theme: Theme,
  /**
   * Show a notification for new requests.
   */
  notifications: boolean,
  /**
   * Offer Approve and Deny inside the notification of a low-risk request
   * without warnings (everything else only offers Open).
   */
  quick_actions: boolean, };

/**
 * A change from the UI: absent fields stay as they are.
 */
export type SettingsPatch = { theme?: Theme, notifications?: boolean, quick_actions?: boolean, start_at_login?: boolean,
  /**
   * `true`: pause notifications for an hour; `false`: resume.
   */
  notifications_paused?: boolean, };

/**
 * Everything the settings page shows.
 */
export type SettingsView = {
  /**
   * Read from the OS; `null` when it cannot be read (see `problems`).
   */
  start_at_login: boolean | null,
  /**
   * Unix seconds until which notifications are paused; `null`: not paused.
   */
  notifications_paused_until: number | null,
  /**
   * What went wrong reading the settings (shown, never hidden).
   */
  problems: Array<string>, theme: Theme,
  /**
   * Show a notification for new requests.
   */
  notifications: boolean,
  /**
   * Offer Approve and Deny inside the notification of a low-risk request
   * without warnings (everything else only offers Open).
   */
  quick_actions: boolean, };

/**
 * What the window shows while a security key works.
 */
export type SecurityKeyStep = "connect" | "touch" | "processing" | "pin";

/**
 * A security key prompt: the sentence to show (it quotes the request's
 * binding message or the key's name, with `characters` to reveal), and
 * for a PIN, the number to answer with and the tries the key has left.
 */
export type SecurityKeyPrompt = { step: SecurityKeyStep, text: string, characters: Array<CharFinding>, pin_id: number | null, retries_left: number | null, };

/**
 * One of the account's security keys as the window lists it: the
 * server's record, and the characters to reveal in its name (names come
 * back from the server: shown as any other untrusted text).
 */
export type SecurityKeyView = { name_characters: Array<CharFinding>,
  /**
   * The credential id, base64url.
   */
  credential_id: string,
  /**
   * Its name.
   */
  name: string,
  /**
   * Registered, unix seconds.
   */
  created_at: number,
  /**
   * Last approval made with it, unix seconds.
   */
  last_used_at?: number,
  /**
   * Set when its signature counter went backwards (a possible clone):
   * the server refuses it from then on, unix seconds.
   */
  flagged_at?: number, };

export type ShellEvent = { "event": "resync" } | { "event": "open_request", account_id: string, request_id: string, } | { "event": "open_inbox" } | { "event": "open_admin" } | { "event": "open_enroll", link: string, } | { "event": "passphrase_needed", purpose: PassphrasePurpose, } | { "event": "security_key", prompt: SecurityKeyPrompt, };

/**
 * What the UI receives: the approver's events as they are
 * (`{"event": "new_request", ...}`), plus the shell's own.
 */
export type UiEvent = ApproverEvent | ShellEvent;

export type BackendError = { code: string, message: string,
  /**
   * The characters of `message` to reveal where they stand.
   */
  characters: Array<CharFinding>, };
