//! `POST /bc-authorize`: the CIBA backchannel authentication endpoint
//! (CIBA Core §7), with RAR (RFC 9396), signed request objects (§7.1.1),
//! `user_code` (§7.1.2), `audience` and fatigue control. A request without
//! `authorization_details` is a scope-only request: approvers show its
//! scopes with their descriptions ([`crate::scopes`]), and its risk comes
//! from them.

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_protocol::amr::VerificationClass;
use countersign_protocol::ciba::{
    Audience, BackchannelAuthenticationParams, BackchannelAuthenticationRequest, BackchannelAuthenticationResponse,
    BackchannelRequestBody, BindingMessage, ClientAuthParams, Hint, TokenDeliveryMode, UserHint, OPENID,
};
use countersign_protocol::device::{EventKind, Nonce, RequestContext, RequestId, RequestStatus, Requirement};
use countersign_protocol::error::Endpoint;
use countersign_protocol::rar::AuthorizationDetails;
use countersign_protocol::secret::{generate_url_safe, AUTH_REQ_ID_BYTES};
use serde_json::Value;
use std::net::SocketAddr;

use crate::error::OAuthError;
use crate::oauth::clients::{self, Client, ClientJwtError, ClientJwtUse, JwtRules, UNVERIFIABLE};
use crate::oauth::discovery::paths;
use crate::oauth::records::{RecordCache, Take};
use crate::state::AppState;
use crate::store::requests::{NewRequest, RequestColumns, StoredRequest};
use crate::store::users::{self, By, User};
use crate::util;

use super::fatigue::{
    check_blocks, check_blocks_on, check_fatigue, check_fatigue_on, check_user_code, record_refusal, record_refusal_on,
    Asking,
};

/// Longest `binding_message`, characters (Auth0's limit).
pub const MAX_BINDING_MESSAGE_CHARS: usize = 64;
/// Punctuation allowed in a `binding_message` besides letters, digits and
/// single spaces.
pub const BINDING_MESSAGE_PUNCTUATION: &str = "+-_.,:#";
/// `acr_values` member that asks the approver to verify the user locally.
pub const ACR_USER_VERIFICATION: &str = "urn:countersign:acr:uv";

/// Bytes a request may take, as sent to approvers, beyond its
/// `authorization_details` (scope, binding message, `acr_values`, names…).
pub const REQUEST_OVERHEAD_BYTES: usize = 8 * 1024;

/// Longest `User-Agent` kept in the request context, in characters.
const MAX_USER_AGENT_CHARS: usize = 200;

/// The `User-Agent` as kept in the request context (shown to the approver):
/// invalid UTF-8 becomes U+FFFD, then every character `countersign_text`
/// flags in one line of prose, every control character and every backslash
/// is written in its escape grammar (`\u{202E}`, `\t`, `\\`;
/// `countersign_text::unescape` reverses it), cut at 200 characters with `…`.
#[must_use]
pub fn user_agent(raw: &[u8]) -> String {
    countersign_text::escape_at_most(
        &String::from_utf8_lossy(raw),
        countersign_text::Context::Line,
        MAX_USER_AGENT_CHARS,
    )
}

/// Checks the server's `binding_message` policy: 1 to 64 characters;
/// letters, digits, `+ - _ . , : #` and single inner spaces.
///
/// # Errors
/// The reason, for `invalid_binding_message`.
pub fn check_binding_message(m: &BindingMessage) -> Result<(), String> {
    let s = m.as_str();
    let n = s.chars().count();
    if n > MAX_BINDING_MESSAGE_CHARS {
        return Err(format!("binding_message is longer than {MAX_BINDING_MESSAGE_CHARS} characters"));
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.contains("  ") {
        return Err("binding_message has leading, trailing or repeated spaces".into());
    }
    if let Some(c) = s.chars().find(|c| !(c.is_alphanumeric() || *c == ' ' || BINDING_MESSAGE_PUNCTUATION.contains(*c)))
    {
        return Err(format!(
            "binding_message may contain letters, digits, spaces and {BINDING_MESSAGE_PUNCTUATION} only (found U+{:04X})",
            u32::from(c)
        ));
    }
    Ok(())
}

/// `POST /bc-authorize`.
pub async fn bc_authorize(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<bytes::Bytes, BytesRejection>,
) -> Response {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    match run(&state, peer, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.at(Endpoint::BackchannelAuthentication),
    }
}

/// The client authenticated, then the request: first with the record
/// cache's client and user where the request can take them, then, unless
/// that try's outcome stands, again from the database.
async fn run(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    body: Result<bytes::Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let form = crate::body::oauth_params(headers, body, state.config.max_body_bytes)?;
    let auth = ClientAuthParams::from_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let audiences = audiences(state);
    let cache = state.records.as_ref().filter(|_| takes_cached_records(headers, &auth, &form));
    if let Some(cache) = cache {
        let mut stands = false;
        let first = async {
            let taken = Some((cache, Take::Cached));
            let (client, at) = clients::authenticate_from(state, taken, headers, &auth, &audiences).await?;
            let at = at.ok_or_else(|| crate::error::Internal::new("a cached client without its generation"))?;
            handle(state, peer, headers, client, &form, Records::Cached(cache, at), &mut stands).await
        }
        .await;
        // Anything but an outcome the writer's job reached with the records
        // unchanged (a refusal may come from a record since changed: a
        // client enabled again, a secret replaced) is done again from the
        // database; nothing before the writer's job writes.
        match first {
            Ok(r) => return Ok(r),
            Err(e) if stands => return Err(e),
            Err(_) => {}
        }
    }
    // The records read again replace those in the cache.
    let records = cache.map_or(Records::Database, Records::Refreshed);
    let taken = cache.map(|c| (c, Take::Refreshed));
    let (client, _) = clients::authenticate_from(state, taken, headers, &auth, &audiences).await?;
    handle(state, peer, headers, client, &form, records, &mut false).await
}

/// Where a try takes its client (already taken) and user from.
#[derive(Clone, Copy)]
enum Records<'a> {
    /// The record cache, with the generation of the cached client: the
    /// writer's job checks both records.
    Cached(&'a RecordCache, i64),
    /// The database, kept in the record cache in place of what it held.
    Refreshed(&'a RecordCache),
    /// The database.
    Database,
}

/// Whether a request may be tried with cached records first: its client
/// authenticates with a secret and names the user with `login_hint`, and
/// nothing before its writer job writes (a request object's or a
/// `login_hint_token`'s `jti` is recorded, a `user_code` failure counted)
/// or reads other records (`id_token_hint`'s signing keys).
fn takes_cached_records(headers: &HeaderMap, auth: &ClientAuthParams, form: &[(String, String)]) -> bool {
    const FIRST_FROM_THE_DATABASE: [&str; 4] = ["request", "login_hint_token", "id_token_hint", "user_code"];
    clients::by_secret(headers, auth)
        && form.iter().any(|(k, _)| k == "login_hint")
        && !form.iter().any(|(k, _)| FIRST_FROM_THE_DATABASE.contains(&k.as_str()))
}

/// When a request made at `now_ms` (unix milliseconds) with `expires_in`
/// seconds expires, in unix seconds: rounded up, so that it never expires
/// before `expires_in` seconds from when it was made (rounded down, it
/// expired up to a second early, and an agent counting from its answer
/// met `expired_token` before its own deadline); a request is expired once
/// the clock's whole seconds reach this.
fn expires_at(now_ms: u64, expires_in: u64) -> u64 {
    now_ms.div_ceil(1000).saturating_add(expires_in)
}

fn audiences(state: &AppState) -> Vec<String> {
    state.config.client_jwt_audiences(paths::BC_AUTHORIZE)
}

async fn request_object(
    state: &AppState,
    client: &Client,
    jwt: &str,
) -> Result<BackchannelAuthenticationParams, OAuthError> {
    let audiences = audiences(state);
    let rules = JwtRules::for_use(ClientJwtUse::RequestObject, &client.client_id, &audiences);
    let claims = match clients::verify_client_jwt(state, client, jwt, &rules).await {
        Ok(c) => c,
        Err(ClientJwtError::Invalid(why)) => return Err(OAuthError::InvalidRequestObject(why.into())),
        Err(ClientJwtError::Expired) => return Err(OAuthError::InvalidRequestObject("request object expired".into())),
        Err(ClientJwtError::Unverifiable) => return Err(OAuthError::InvalidRequestObject(UNVERIFIABLE.into())),
        Err(ClientJwtError::Internal(e)) => return Err(e.into()),
    };
    Ok(BackchannelAuthenticationParams::from_request_object(&claims)?)
}

/// The user a `login_hint` names, as `records` says (with the generation
/// it was read at when through the record cache).
async fn find_user(
    state: &AppState,
    records: Records<'_>,
    by: By<'_>,
) -> Result<Option<(Option<i64>, User)>, OAuthError> {
    let (cache, take) = match records {
        Records::Cached(cache, _) => (cache, Take::Cached),
        Records::Refreshed(cache) => (cache, Take::Refreshed),
        Records::Database => return Ok(users::find(state, by).await?.map(|u| (None, u))),
    };
    Ok(cache.user(state, by, take).await?.map(|(at, u)| (Some(at), u)))
}

/// The user the hint names, and with a cached one the generation it was
/// read at.
async fn resolve_user(
    state: &AppState,
    client: &Client,
    hint: &UserHint,
    records: Records<'_>,
) -> Result<(User, Option<i64>), OAuthError> {
    let issuer = state.config.issuer.as_str();
    let user = match hint {
        UserHint::LoginHint(Hint::Plain(login)) => find_user(state, records, By::Login(login)).await?,
        UserHint::LoginHint(Hint::IssSub { iss, sub }) => {
            // Auth0's SDKs send the issuer with a trailing slash
            // (`https://{domain}/`), as Auth0's issuers are.
            if !state.config.is_this_issuer(iss) {
                return Err(OAuthError::UnknownUserId);
            }
            find_user(state, records, By::Sub(sub)).await?
        }
        UserHint::IdTokenHint(jwt) => {
            let claims = state
                .keys
                .verify(&state.db, jwt.as_str(), Some("JWT"), state.now(), state.config.key_retention_secs())
                .await?
                .ok_or_else(|| OAuthError::InvalidRequest("id_token_hint was not issued by this server".into()))?;
            if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
                return Err(OAuthError::InvalidRequest("id_token_hint was not issued by this server".into()));
            }
            // An ID token is for its audience only: another client's cannot
            // name the user to this one (OIDC Core §2, `aud`).
            if !id_token_for(&claims, &client.client_id) {
                return Err(OAuthError::InvalidRequest("id_token_hint was not issued to this client".into()));
            }
            let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
            users::find(state, By::Sub(sub)).await?.map(|u| (None, u))
        }
        UserHint::LoginHintToken(token) => {
            let audiences = audiences(state);
            let rules = JwtRules::for_use(ClientJwtUse::LoginHintToken, &client.client_id, &audiences);
            let claims = match clients::verify_client_jwt(state, client, token, &rules).await {
                Ok(c) => c,
                Err(ClientJwtError::Expired) => return Err(OAuthError::ExpiredLoginHintToken),
                Err(ClientJwtError::Invalid(why)) => {
                    return Err(OAuthError::InvalidRequest(format!("login_hint_token: {why}")))
                }
                Err(ClientJwtError::Unverifiable) => {
                    return Err(OAuthError::InvalidRequest(format!("login_hint_token: {UNVERIFIABLE}")))
                }
                Err(ClientJwtError::Internal(e)) => return Err(e.into()),
            };
            let sub_id = claims
                .get("sub_id")
                .and_then(Value::as_object)
                .ok_or_else(|| OAuthError::InvalidRequest("login_hint_token needs a sub_id object".into()))?;
            let field = |name: &str| sub_id.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let found = match sub_id.get("format").and_then(Value::as_str) {
                Some("email") => users::find(state, By::Email(&field("email"))).await?,
                Some("username") => users::find(state, By::Username(&field("username"))).await?,
                Some("iss_sub") if state.config.is_this_issuer(&field("iss")) => {
                    users::find(state, By::Sub(&field("sub"))).await?
                }
                Some("iss_sub") => None,
                _ => {
                    return Err(OAuthError::InvalidRequest(
                        "login_hint_token sub_id format must be email, username or iss_sub".into(),
                    ))
                }
            };
            found.map(|u| (None, u))
        }
    };
    match user {
        Some((at, u)) if !u.disabled => Ok((u, at)),
        _ => Err(OAuthError::UnknownUserId),
    }
}

/// Whether ID token `claims` were issued to `client_id` (`aud` is it, or
/// an array holding it).
fn id_token_for(claims: &Value, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

/// The API the access token is for: the agent's `audience` if it is one of
/// the configured APIs (or the default), else the default
/// (`access_token_audience`; `None`: the issuer).
///
/// # Errors
/// `invalid_target` (RFC 8707 §2) for an `audience` the server does not
/// serve.
fn audience(cfg: &crate::config::Config, asked: Option<&Audience>) -> Result<Option<Audience>, OAuthError> {
    let default = cfg.access_token_audience.as_deref();
    match asked {
        None => Ok(default.and_then(|d| Audience::new(d).ok())),
        Some(a) if cfg.apis.contains(a) || default == Some(a.as_str()) => Ok(Some(a.clone())),
        Some(a) => Err(OAuthError::InvalidTarget(format!(
            "audience '{}' is not an API this server issues tokens for",
            crate::util::quoted(a.as_str())
        ))),
    }
}

/// The display schemas first (they name the index and JSON path of every
/// problem, unknown types included), then the client's registered types.
fn check_details(state: &AppState, client: &Client, details: &AuthorizationDetails) -> Result<(), OAuthError> {
    state
        .schemas
        .validate(details)
        .map_err(|r| OAuthError::InvalidAuthorizationDetails(crate::schemas::describe_rejections(&r)))?;
    for (index, detail) in details.iter().enumerate() {
        let t = detail.r#type();
        if !client.details_types.iter().any(|r| r == t) {
            return Err(OAuthError::InvalidAuthorizationDetails(format!(
                "authorization_details[{index}]/type: type '{}' is not registered for this client",
                crate::util::quoted(t)
            )));
        }
    }
    countersign_protocol::jcs::check_value(&details.to_value())
        .map_err(|e| OAuthError::InvalidAuthorizationDetails(e.to_string()))?;
    // Stored and sent to every approver of the user: bounded below what an
    // approver accepts in one response (docs/server.md, "Limits").
    let size = details.to_param().len();
    let max = state.config.max_details_bytes;
    if size > max {
        return Err(OAuthError::InvalidAuthorizationDetails(format!(
            "authorization_details is {size} bytes as JSON; this server accepts at most {max}"
        )));
    }
    Ok(())
}

/// One try of a request from an authenticated `client`, its user taken as
/// `records` says; `stands` is set once the outcome no longer depends on
/// cached records.
async fn handle(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    client: Client,
    pairs: &[(String, String)],
    records: Records<'_>,
    stands: &mut bool,
) -> Result<Response, OAuthError> {
    let request = BackchannelAuthenticationRequest::from_form(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let params = match request.body {
        BackchannelRequestBody::Params(p) => {
            if client.request_signing_alg.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "this client registered backchannel_authentication_request_signing_alg: send a signed request"
                        .into(),
                ));
            }
            *p
        }
        BackchannelRequestBody::Signed(jwt) => request_object(state, &client, jwt.as_str()).await?,
    };

    // Scope.
    if !params.scope.contains(OPENID) {
        return Err(OAuthError::InvalidScope("scope must contain openid".into()));
    }
    if let Some(allowed) = &client.scope {
        if !params.scope.is_subset(allowed) {
            return Err(OAuthError::InvalidScope("scope exceeds the client's registered scope".into()));
        }
    }
    // Delivery.
    let mode = client.delivery_mode.clone();
    let notifies = matches!(mode, TokenDeliveryMode::Ping | TokenDeliveryMode::Push);
    if notifies && params.client_notification_token.is_none() {
        return Err(OAuthError::InvalidRequest("client_notification_token is required for ping and push".into()));
    }
    // Binding message.
    let binding = params
        .binding_message
        .as_ref()
        .ok_or_else(|| OAuthError::InvalidRequest("binding_message is required".into()))?;
    check_binding_message(binding).map_err(OAuthError::InvalidBindingMessage)?;
    // Authorization details: optional (a scope-only request without them;
    // an empty array is refused by the parser, RFC 9396 §2).
    let details = match params.authorization_details.as_ref() {
        Some(d) => {
            check_details(state, &client, d.details())?;
            d.details().clone()
        }
        None => AuthorizationDetails::none(),
    };
    // The API the token is for.
    let audience = audience(&state.config, params.audience.as_ref())?;
    // The user.
    let (user, user_at) = resolve_user(state, &client, &params.hint, records).await?;
    // Cached records are used only if the writer's job finds both at the
    // generation they were read at.
    let records_at = match records {
        Records::Cached(_, client_at) => match user_at {
            Some(user_at) => Some((client_at, user_at)),
            None => return Err(crate::error::Internal::new("a cached user without its generation").into()),
        },
        Records::Refreshed(_) | Records::Database => None,
    };
    if client.user_code_parameter {
        let code = params.user_code.as_ref().ok_or(OAuthError::MissingUserCode)?;
        // Read-only, through the writer: the same checks as in the group that
        // stores the request.
        let (limits, client_w, user_w, now) = (state.config.limits.clone(), client.clone(), user.clone(), state.now());
        match &state.writer {
            Some(writer) => {
                writer
                    .run(move |conn| {
                        check_blocks(conn, Asking { limits: &limits, client: &client_w, user: &user_w, now })
                    })
                    .await?;
            }
            None => {
                let mut conn = state.db.acquire().await.map_err(crate::error::Internal::from)?;
                check_blocks_on(&mut conn, Asking { limits: &limits, client: &client_w, user: &user_w, now }).await?;
            }
        }
        check_user_code(state, &client, &user, code).await?;
    }

    let cfg = &state.config;
    // An unverified client's requests live at most `unverified_max_expiry_secs`.
    let max_expiry =
        if client.verified { cfg.max_expiry_secs } else { cfg.max_expiry_secs.min(cfg.unverified_max_expiry_secs) };
    let expires_in = params.requested_expiry.map_or(cfg.default_expiry_secs, |e| e.get()).min(max_expiry);
    let scope: Vec<String> = params.scope.iter().map(str::to_owned).collect();
    // A scope-only request's risk is its scopes' (unknown ones count high);
    // otherwise the details', raised to that of a described scope above it
    // (docs/server.md, "Scopes").
    let risk = if details.is_empty() {
        cfg.scopes.risk(&scope)
    } else {
        let of_details = state.schemas.risk(&details);
        match cfg.scopes.described_risk(&scope) {
            Some(r) if r.rank() > of_details.rank() => r,
            _ => of_details,
        }
    };
    let acr = params.acr_values.as_ref().map(|a| a.to_param());
    let mut requires = Vec::new();
    let wants_uv = params.acr_values.as_ref().is_some_and(|a| a.contains(ACR_USER_VERIFICATION));
    let uv_at = client.user_verification_at.as_ref();
    let needs_uv = wants_uv || crate::webauthn::policy::from_risk(cfg.user_verification_at.as_ref(), uv_at, &risk);
    if needs_uv {
        requires.push(Requirement::UserVerification);
    }
    // User verification of class `hwk` is a security key's: WebAuthn too.
    let uv_class = client.user_verification_class.unwrap_or(cfg.user_verification_class);
    if crate::webauthn::policy::needs_webauthn(cfg.webauthn_at.as_ref(), client.webauthn_at.as_ref(), &risk)
        || (needs_uv && uv_class == VerificationClass::Hwk)
    {
        requires.push(Requirement::Webauthn);
    }
    let context = RequestContext {
        ip: peer.map(|p| p.ip()),
        user_agent: headers.get(header::USER_AGENT).map(|v| user_agent(v.as_bytes())).filter(|s| !s.is_empty()),
        location: None,
    };

    let now_ms = state.clock.now_ms();
    let now = now_ms / 1000;
    let auth_req_id = crate::store::requests::new_auth_req_id(now_ms, AUTH_REQ_ID_BYTES)?;
    let request_id = RequestId::new(util::time_ordered_id("req_", now_ms, 16)?)
        .map_err(|e| crate::error::Internal::new(format!("request id: {e}")))?;
    let nonce = Nonce::new(generate_url_safe(16).map_err(crate::error::Internal::from)?)
        .map_err(|e| crate::error::Internal::new(format!("nonce: {e}")))?;
    let scope_descriptions = cfg.scopes.descriptions(&scope);

    let stored = StoredRequest {
        request_id: request_id.clone(),
        client_id: client.client_id.clone(),
        sub: user.sub.clone(),
        delivery_mode: mode.clone(),
        notify_auth_req_id: None,
        notification_token: None,
        scope,
        scope_descriptions,
        audience,
        binding_message: binding.as_str().to_owned(),
        details,
        acr_values: acr,
        context,
        risk,
        requires,
        nonce,
        created_at: now,
        expires_at: expires_at(now_ms, expires_in),
        poll_interval: cfg.poll_interval_secs,
        last_poll_at: None,
        status: RequestStatus::Pending,
        decision: None,
        deny_reason: None,
        decided_at: None,
        decided_by: None,
        statement_hash: None,
        amr: Vec::new(),
        redeemed_at: None,
        cancelled_by: None,
        client_name: client.client_name.clone(),
        logo_uri: client.logo_uri.clone(),
        verified: client.verified,
        user_name: user.name.clone(),
        client_disabled: false,
        user_disabled: false,
    };
    let size = util::json_len(&stored.to_approver(&cfg.issuer))?;
    // What every approver of the user receives, bounded as a whole (scope,
    // acr_values and the other strings as well as the details), so that a
    // page of requests stays below what an approver accepts.
    let max = cfg.max_details_bytes.saturating_add(REQUEST_OVERHEAD_BYTES);
    let auth_req_id_hash = crate::store::requests::auth_req_id_key(auth_req_id.secret());
    let notify_auth_req_id = notifies.then(|| auth_req_id.secret().to_owned());
    let notification_token =
        params.client_notification_token.as_ref().filter(|_| notifies).map(|t| t.secret().to_owned());
    let columns = RequestColumns::of(&stored)?;
    let audit = Storing::audit_record(&stored).prepare(now)?;
    let storing = Storing {
        records_at,
        columns,
        audit,
        limits: cfg.limits.clone(),
        clock: state.clock.clone(),
        refusals: state.refusals.clone(),
        client,
        user,
        now,
        size,
        max,
        stored,
        auth_req_id_hash,
        notify_auth_req_id,
        notification_token,
    };
    let (client_id, sub) = (storing.client.client_id.clone(), storing.user.sub.clone());
    // On a task of its own: a client that hangs up cancels this handler,
    // but a request the writer stores still wakes the user's approvers.
    let (task, delivery) = (state.clone(), mode.clone());
    let stored = tokio::spawn(async move {
        let written = match &task.writer {
            Some(writer) => {
                // The job's data comes back with its answer, to be freed
                // here rather than in the writer's turn. Its checks come
                // before its first write: no savepoint.
                let (answer, storing) =
                    writer.run_without_savepoint(move |conn| storing.on_writer(conn).map(|a| (a, storing))).await?;
                drop(storing);
                answer
            }
            None => storing.on_pool(&task.db).await?,
        };
        match written {
            Written::Stored => {}
            Written::Refused(e) => return Err(e),
            Written::Stale(now) => {
                if let Some(cache) = &task.records {
                    cache.older_than(now);
                }
                return Ok(false);
            }
        }
        task.hub.notify(&sub);
        tracing::info!(request_id = %request_id, client_id, mode = %delivery, "backchannel request accepted");
        Ok::<bool, OAuthError>(true)
    })
    .await;
    // Past the writer's check of the records, or with none to check; a
    // task that failed on its own (a panic) may have stored the request.
    *stands = !matches!(stored, Ok(Ok(false)));
    let stored = stored.map_err(|e| crate::error::Internal::new(format!("storing the request: {e}")))?;
    if !stored? {
        return Err(crate::error::Internal::new("the cached client or user changed").into());
    }

    let body = BackchannelAuthenticationResponse {
        auth_req_id,
        expires_in,
        interval: (!matches!(mode, TokenDeliveryMode::Push)).then_some(cfg.poll_interval_secs),
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// An accepted request's storing: the cached records' check, fatigue
/// control, then the request, its device event and its audit entry, all in
/// one transaction (the writer's group, or a transaction of its own on the
/// pool). `Err`: refused or failed, nothing kept.
struct Storing {
    /// The generations of the cached client and user: the writer's job
    /// stores nothing unless the records are still at them.
    records_at: Option<(i64, i64)>,
    limits: crate::config::Limits,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    refusals: std::sync::Arc<crate::oauth::fatigue::RefusalLog>,
    client: Client,
    user: User,
    now: u64,
    size: usize,
    max: usize,
    stored: StoredRequest,
    /// The request's JSON columns and its audit entry, made before the
    /// job: the writer's turn serializes every write.
    columns: RequestColumns,
    audit: crate::audit::Prepared,
    auth_req_id_hash: String,
    notify_auth_req_id: Option<String>,
    notification_token: Option<String>,
}

/// What a storing job came to.
enum Written {
    /// The request is stored.
    Stored,
    /// Refused by a limit; the refusal's audit entry (if any) kept.
    Refused(OAuthError),
    /// The cached client or user changed since it was read: nothing
    /// written; the generation now.
    Stale(i64),
}

type Stored = Result<Written, OAuthError>;

impl Storing {
    fn asking(&self) -> Asking<'_> {
        Asking { limits: &self.limits, client: &self.client, user: &self.user, now: self.now }
    }

    fn too_large(&self) -> Option<OAuthError> {
        (self.size > self.max).then(|| {
            OAuthError::InvalidRequest(format!(
                "the request is {} bytes as sent to the user's approvers; this server sends at most {}",
                self.size, self.max
            ))
        })
    }

    fn new_request(&self) -> NewRequest<'_> {
        NewRequest {
            request: &self.stored,
            columns: &self.columns,
            auth_req_id_hash: &self.auth_req_id_hash,
            notify_auth_req_id: self.notify_auth_req_id.as_deref(),
            notification_token: self.notification_token.as_deref(),
            // Read with the write held, so that requests are stored in
            // `created_ms` order (the device list pages on it).
            created_ms: self.clock.now_ms(),
        }
    }

    fn audit_record(stored: &StoredRequest) -> crate::audit::Record<'_> {
        crate::audit::Record::new(
            crate::audit::Actor::Client(&stored.client_id),
            countersign_protocol::admin::AuditAction::RequestCreated,
        )
        .target(stored.request_id.as_str())
        .user(&stored.sub)
        // What the log needs beside the request row, kept small: each byte
        // here is written for every accepted request.
        .data(serde_json::json!({
            "types": stored.details.iter().map(|d| d.r#type()).collect::<Vec<_>>(),
            "risk": stored.risk.as_str(),
        }))
    }

    /// On the request writer's connection, in its group, without a
    /// savepoint: every check and refusal, and the audit entry's place in
    /// the chain, come before the first write (a refusal's audit entry is
    /// its one write), so only a failed insert fails after writing, and it
    /// undoes the whole group.
    fn on_writer(&self, conn: &rusqlite::Connection) -> Stored {
        if let Some((client_at, user_at)) = self.records_at {
            // In the write transaction: no change to a client or a user
            // can come between this and the COMMIT.
            let now = crate::oauth::records::generation(conn).map_err(crate::error::Internal::from)?;
            if client_at != now || user_at != now {
                return Ok(Written::Stale(now));
            }
        }
        if let Err(refused) = check_fatigue(conn, self.asking()) {
            return record_refusal(conn, &self.refusals, self.asking(), refused).map(Written::Refused);
        }
        if let Some(e) = self.too_large() {
            return Err(e);
        }
        // Its place in the chain before the first write: what follows can
        // fail only in its inserts.
        let audit = crate::audit::link_sync(conn, &self.audit)?;
        crate::store::requests::insert(conn, &self.new_request())?;
        let stored = &self.stored;
        crate::device::events::append_sync(
            conn,
            &stored.sub,
            &EventKind::Request,
            Some(&stored.request_id),
            crate::device::events::REQUEST_BY_REFERENCE,
            self.now,
        )?;
        audit.insert_sync(conn)?;
        Ok(Written::Stored)
    }

    /// In a transaction of its own on the pool (any database).
    async fn on_pool(&self, db: &crate::store::Db) -> Stored {
        let mut tx = crate::store::begin(db).await?;
        if let Err(refused) = check_fatigue_on(&mut tx, self.asking()).await {
            let answer = record_refusal_on(&mut tx, &self.refusals, self.asking(), refused).await?;
            tx.commit().await.map_err(crate::error::Internal::from)?;
            return Ok(Written::Refused(answer));
        }
        if let Some(e) = self.too_large() {
            return Err(e);
        }
        crate::store::requests::insert_on(&mut tx, &self.new_request()).await?;
        let stored = &self.stored;
        crate::device::events::append(
            &mut tx,
            &stored.sub,
            &EventKind::Request,
            Some(&stored.request_id),
            crate::device::events::REQUEST_BY_REFERENCE,
            None,
            self.now,
        )
        .await?;
        crate::audit::append_prepared(&mut tx, &self.audit).await?;
        tx.commit().await.map_err(crate::error::Internal::from)?;
        Ok(Written::Stored)
    }
}

#[cfg(test)]
mod tests {
    use super::expires_at;

    // The store counts whole seconds: a request is expired once
    // `now_ms / 1000 >= expires_at`. Made at any millisecond, it must not
    // expire before `expires_in` seconds have passed (a client counting
    // from its answer would meet `expired_token` early), and it expires
    // within the following second.
    #[test]
    fn a_request_never_expires_before_the_expires_in_it_announced() {
        for made_ms in [1_000_000, 1_000_001, 1_000_500, 1_000_999] {
            let at = expires_at(made_ms, 2);
            let announced_end_ms = made_ms + 2_000;
            assert!((announced_end_ms - 1) / 1000 < at, "made at {made_ms} ms: expired before {announced_end_ms} ms");
            assert!((announced_end_ms + 1_000) / 1000 >= at, "made at {made_ms} ms: still pending a second late");
        }
        assert_eq!(expires_at(1_000_000, 2), 1_002);
        assert_eq!(expires_at(1_000_999, 2), 1_003);
        assert_eq!(expires_at(1_000, u64::MAX), u64::MAX, "saturates");
    }
}
