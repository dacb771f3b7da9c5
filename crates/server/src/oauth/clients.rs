//! Registered clients and client authentication (RFC 6749 §2.3,
//! OIDC Core §9): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523, ES256 only).

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use countersign_protocol::ciba::{ClientAssertionType, ClientAuthParams, RequestError, Scope, TokenDeliveryMode};
use countersign_protocol::error::Endpoint;
use countersign_protocol::jws::{self, JwtType, PublicJwk};
use serde_json::{Map, Value};

use crate::error::{Internal, OAuthError};
use crate::state::AppState;
use crate::store;
use crate::store::portable::Columns;
use crate::util;

/// An endpoint that authenticates its client from a form body: where its
/// errors go and which `aud` values a client assertion may name.
pub trait ClientEndpoint {
    /// The endpoint, for the status codes of its errors.
    const ENDPOINT: Endpoint;
    /// The accepted `aud` values of a client assertion (RFC 7523 §3).
    fn audiences(state: &AppState) -> Vec<String>;
}

/// The client of a form-bodied OAuth endpoint, authenticated (RFC 6749
/// §2.3, OIDC Core §9), with the form's parameters for the endpoint to read.
/// The body is read within the size limit as
/// `application/x-www-form-urlencoded` (or one JSON object, as Auth0's
/// SDKs send: [`crate::body::oauth_params`]), the client authentication
/// parameters are taken with the duplicate-parameter rule, then the client
/// is authenticated; any failure is the endpoint's OAuth error response.
pub struct AuthenticatedClient<E> {
    /// The client.
    pub client: Client,
    /// Every parameter of the form, in order (client authentication's too).
    pub form: Vec<(String, String)>,
    endpoint: std::marker::PhantomData<E>,
}

impl<E: ClientEndpoint> axum::extract::FromRequest<AppState> for AuthenticatedClient<E> {
    type Rejection = axum::response::Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = bytes::Bytes::from_request(req, state).await;
        let run = async {
            let form = crate::body::oauth_params(&headers, body, state.config.max_body_bytes)?;
            let auth = ClientAuthParams::from_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            let client = authenticate(state, &headers, &auth, &E::audiences(state)).await?;
            Ok::<_, OAuthError>(Self { client, form, endpoint: std::marker::PhantomData })
        };
        run.await.map_err(|e| e.at(E::ENDPOINT))
    }
}

/// `token_endpoint_auth_method` values this server supports.
pub const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
/// Longest accepted lifetime of a client assertion or request object, seconds.
pub const MAX_JWT_LIFETIME_SECS: u64 = 3600;
/// Allowed clock skew for `iat`/`nbf`, seconds.
pub const CLOCK_SKEW_SECS: u64 = 30;

/// A registered client, as the endpoints need it.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub client_id: String,
    /// SHA-256 of the secret (secret methods).
    pub secret_hash: Option<String>,
    /// Registered `token_endpoint_auth_method`.
    pub auth_method: String,
    /// Registered `backchannel_token_delivery_mode`.
    pub delivery_mode: TokenDeliveryMode,
    /// `backchannel_authentication_request_signing_alg` (only `ES256`).
    pub request_signing_alg: Option<String>,
    /// `backchannel_user_code_parameter`.
    pub user_code_parameter: bool,
    /// Inline `jwks`.
    pub jwks: Option<Value>,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `client_name`.
    pub client_name: String,
    /// `logo_uri`.
    pub logo_uri: Option<String>,
    /// Registered `scope`, if any (requests must stay within it).
    pub scope: Option<Scope>,
    /// Registered `authorization_details_types`.
    pub details_types: Vec<String>,
    /// Verified by an admin.
    pub verified: bool,
    /// Disabled by the operator.
    pub disabled: bool,
    /// The operator's WebAuthn policy for this client (`client step-up`):
    /// `None` follows the server's.
    pub webauthn_at: Option<StepUpAt>,
    /// The operator's user verification policy for this client (`client
    /// user-verification`): from which risk, and the least class; `None`
    /// follows the server's.
    pub user_verification_at: Option<StepUpAt>,
    /// See [`Client::user_verification_at`].
    pub user_verification_class: Option<countersign_protocol::amr::VerificationClass>,
}

/// From which risk a client's approvals need WebAuthn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepUpAt {
    /// Never.
    Never,
    /// From this risk on.
    From(countersign_protocol::device::Risk),
}

impl StepUpAt {
    /// Reads a stored or typed value: `never` or a risk.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self, String> {
        use countersign_protocol::device::Risk;
        match s {
            "never" => Ok(Self::Never),
            "low" => Ok(Self::From(Risk::Low)),
            "medium" => Ok(Self::From(Risk::Medium)),
            "high" => Ok(Self::From(Risk::High)),
            "critical" => Ok(Self::From(Risk::Critical)),
            other => Err(format!("`{other}` is not one of never, low, medium, high, critical")),
        }
    }

    /// The stored form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Never => "never",
            Self::From(r) => r.as_str(),
        }
    }
}

/// Columns of [`Client`] for `SELECT`.
pub const CLIENT_COLUMNS: &str = "client_id, secret_hash, auth_method, delivery_mode, \
     request_signing_alg, user_code_parameter, jwks, jwks_uri, client_name, logo_uri, scope, details_types, \
     verified, disabled, webauthn_at, user_verification_at, user_verification_class";

impl Client {
    /// Reads a row selected with [`CLIENT_COLUMNS`], in that order.
    ///
    /// # Errors
    /// A column is missing or malformed.
    fn from_row(row: &impl Columns) -> Result<Self, Internal> {
        let jwks = row.opt_text(6)?;
        let scope = row.opt_text(10)?;
        let types = row.text(11)?;
        let mode = row.text(3)?;
        Ok(Self {
            client_id: row.text(0)?,
            secret_hash: row.opt_text(1)?,
            auth_method: row.text(2)?,
            delivery_mode: mode.parse().map_err(|_| Internal::new("stored delivery mode is empty"))?,
            request_signing_alg: row.opt_text(4)?,
            user_code_parameter: row.int(5)? != 0,
            jwks: jwks.map(|j| serde_json::from_str(&j)).transpose()?,
            jwks_uri: row.opt_text(7)?,
            client_name: row.text(8)?,
            logo_uri: row.opt_text(9)?,
            scope: scope.map(|s| Scope::parse(&s)).transpose().map_err(|e| Internal::new(format!("scope: {e}")))?,
            details_types: serde_json::from_str(&types)?,
            verified: row.int(12)? != 0,
            disabled: row.int(13)? != 0,
            webauthn_at: row
                .opt_text(14)?
                .map(|s| StepUpAt::parse(&s))
                .transpose()
                .map_err(|e| Internal::new(format!("stored webauthn_at: {e}")))?,
            user_verification_at: row
                .opt_text(15)?
                .map(|s| StepUpAt::parse(&s))
                .transpose()
                .map_err(|e| Internal::new(format!("stored user_verification_at: {e}")))?,
            user_verification_class: row
                .opt_text(16)?
                .map(|s| {
                    countersign_protocol::amr::VerificationClass::parse(&s)
                        .ok_or_else(|| Internal::new(format!("stored user_verification_class: {s:?}")))
                })
                .transpose()?,
        })
    }

    /// Loads a client (on the hot-path reader: every authenticated call
    /// does, but those of `/bc-authorize` that take cached records).
    ///
    /// # Errors
    /// The database failed.
    pub async fn load(state: &AppState, client_id: &str) -> Result<Option<Self>, Internal> {
        let Some(reader) = &state.reader else {
            let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1");
            let row = sqlx::query(&sql).bind(client_id).fetch_optional(&state.db).await?;
            return row.as_ref().map(Self::from_row).transpose();
        };
        let client_id = client_id.to_owned();
        reader.read(move |conn| Self::read_on(conn, &client_id)).await
    }

    /// Reads a client on a SQLite connection of its own (the hot-path
    /// reader's).
    ///
    /// # Errors
    /// The database failed.
    pub(crate) fn read_on(conn: &rusqlite::Connection, client_id: &str) -> Result<Option<Self>, Internal> {
        let mut query = conn.prepare_cached(&format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = ?1"))?;
        let mut rows = query.query([client_id])?;
        rows.next()?.map(Self::from_row).transpose()
    }

    /// The client's usable ES256 keys (`kid` narrows a `jwks_uri` refetch).
    ///
    /// # Errors
    /// Fetching `jwks_uri` failed.
    pub async fn keys(&self, state: &AppState, kid: Option<&str>) -> Result<Vec<PublicJwk>, Internal> {
        if let Some(set) = &self.jwks {
            return Ok(crate::oauth::jwks::usable_keys(set));
        }
        if let Some(uri) = &self.jwks_uri {
            return state.jwks_cache.get(state, uri, kid).await;
        }
        Ok(Vec::new())
    }
}

/// Why a client-signed JWT was refused.
#[derive(Debug)]
pub enum ClientJwtError {
    /// Refused (the reason is safe to show).
    Invalid(&'static str),
    /// `exp` has passed.
    Expired,
    /// No key of the client verifies it: the keys could not be fetched, none
    /// is usable, none has the `kid`, or the signature is wrong. One answer
    /// for all of these ([`UNVERIFIABLE`]), so that a `jwks_uri` pointed at
    /// some service does not tell the caller whether the service answered.
    Unverifiable,
    /// The server failed.
    Internal(Internal),
}

/// The one description of [`ClientJwtError::Unverifiable`].
pub const UNVERIFIABLE: &str = "the JWT does not verify with the client's registered keys";

crate::error::internal_from!(ClientJwtError);

fn audience_matches(aud: Option<&Value>, accepted: &[String]) -> bool {
    match aud {
        Some(Value::String(s)) => accepted.iter().any(|a| a == s),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(|s| accepted.iter().any(|a| a == s)),
        _ => false,
    }
}

/// What a client-signed JWT is for. Each use has its own `typ` (RFC 7515
/// §4.1.9) where one is registered, so that a JWT made for one use cannot
/// stand in for another:
///
/// | use | `typ` accepted |
/// |---|---|
/// | client assertion (`private_key_jwt`, RFC 7523) | none, `JWT`, `client-authentication+jwt` (draft-ietf-oauth-rfc7523bis) |
/// | signed authentication request (CIBA Core §7.1.1) | `oauth-authz-req+jwt` (RFC 9101 §10.8), required |
/// | `login_hint_token` (CIBA Core §7.1) | none or `JWT` (no type is registered) |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientJwtUse {
    /// A client assertion.
    ClientAssertion,
    /// A signed authentication request (request object).
    RequestObject,
    /// A `login_hint_token`.
    LoginHintToken,
}

impl ClientJwtUse {
    /// Whether a JWT with header `typ` may be used for this.
    #[must_use]
    pub fn accepts_typ(self, typ: Option<&str>) -> bool {
        let is = |expected: &JwtType| typ.is_some_and(|t| jws::typ_matches(t, expected.as_str()));
        match self {
            ClientJwtUse::ClientAssertion => typ.is_none() || is(&JwtType::Jwt) || is(&JwtType::ClientAuthentication),
            ClientJwtUse::RequestObject => is(&JwtType::RequestObject),
            ClientJwtUse::LoginHintToken => typ.is_none() || is(&JwtType::Jwt),
        }
    }

    fn typ_error(self) -> &'static str {
        match self {
            ClientJwtUse::ClientAssertion => {
                "typ of a client assertion must be absent, JWT or client-authentication+jwt"
            }
            ClientJwtUse::RequestObject => "typ of a signed request must be oauth-authz-req+jwt (RFC 9101)",
            ClientJwtUse::LoginHintToken => "typ of a login_hint_token must be absent or JWT",
        }
    }
}

/// What a client-signed JWT must satisfy.
pub struct JwtRules<'a> {
    /// What the JWT is for (decides the accepted `typ`).
    pub used_as: ClientJwtUse,
    /// Accepted `aud` values (one must be present).
    pub audiences: &'a [String],
    /// Required `iss`, if any.
    pub iss: Option<&'a str>,
    /// Required `sub`, if any.
    pub sub: Option<&'a str>,
    /// Require a `jti` and refuse its replay.
    pub jti: bool,
    /// Require `iat`.
    pub iat: bool,
    /// Require `nbf`, no more than [`MAX_JWT_LIFETIME_SECS`] before `exp`
    /// (CIBA Core §7.1.1 for signed requests).
    pub nbf: bool,
}

impl<'a> JwtRules<'a> {
    /// What each use requires of a JWT signed by `client_id`: `iss` is the
    /// client everywhere; a client assertion also has it as `sub` and a
    /// `jti` (RFC 7523 §3); a request object has `jti`, `iat` and `nbf`
    /// (CIBA Core §7.1.1); a `login_hint_token` only what every JWT has.
    #[must_use]
    pub fn for_use(used_as: ClientJwtUse, client_id: &'a str, audiences: &'a [String]) -> Self {
        let (sub, jti, iat, nbf) = match used_as {
            ClientJwtUse::ClientAssertion => (Some(client_id), true, false, false),
            ClientJwtUse::RequestObject => (None, true, true, true),
            ClientJwtUse::LoginHintToken => (None, false, false, false),
        };
        Self { used_as, audiences, iss: Some(client_id), sub, jti, iat, nbf }
    }
}

/// Verifies an ES256 JWT signed by one of `client`'s keys and checks its
/// `typ` for its use, `aud`, `iss`, `sub`, `exp` (required, at most an hour
/// ahead), `iat`, `nbf` and the `jti` replay cache. The `typ` is checked
/// before any key is fetched.
///
/// # Errors
/// [`ClientJwtError`].
pub async fn verify_client_jwt(
    state: &AppState,
    client: &Client,
    jwt: &str,
    rules: &JwtRules<'_>,
) -> Result<Map<String, Value>, ClientJwtError> {
    let (header, _) = util::peek_jwt(jwt).ok_or(ClientJwtError::Invalid("not a JWS"))?;
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return Err(ClientJwtError::Invalid("typ must be a string")),
    };
    if !rules.used_as.accepts_typ(typ) {
        return Err(ClientJwtError::Invalid(rules.used_as.typ_error()));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let keys = match client.keys(state, kid).await {
        Ok(keys) => keys,
        Err(e) => {
            tracing::warn!(client_id = %client.client_id, error = %e, "client keys unavailable");
            return Err(ClientJwtError::Unverifiable);
        }
    };
    let claims = keys
        .iter()
        .filter(|k| kid.is_none() || k.kid() == kid)
        .find_map(|k| jws::verify(jwt, k, None).ok())
        .map(|(_, c)| c)
        .ok_or(ClientJwtError::Unverifiable)?;
    let Value::Object(claims) = claims else {
        return Err(ClientJwtError::Invalid("claims are not an object"));
    };
    let now = state.now();
    let num = |name: &str| claims.get(name).and_then(Value::as_u64);
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    if let Some(iss) = rules.iss {
        if string("iss") != Some(iss) {
            return Err(ClientJwtError::Invalid("iss must be the client_id"));
        }
    }
    if let Some(sub) = rules.sub {
        if string("sub") != Some(sub) {
            return Err(ClientJwtError::Invalid("sub must be the client_id"));
        }
    }
    if !audience_matches(claims.get("aud"), rules.audiences) {
        return Err(ClientJwtError::Invalid("aud must be the issuer"));
    }
    let exp = num("exp").ok_or(ClientJwtError::Invalid("exp is required"))?;
    if exp <= now {
        return Err(ClientJwtError::Expired);
    }
    if exp > now.saturating_add(MAX_JWT_LIFETIME_SECS) {
        return Err(ClientJwtError::Invalid("exp is too far in the future"));
    }
    match num("iat") {
        Some(iat) if iat > now.saturating_add(CLOCK_SKEW_SECS) => {
            return Err(ClientJwtError::Invalid("iat is in the future"))
        }
        None if rules.iat => return Err(ClientJwtError::Invalid("iat is required")),
        _ => {}
    }
    match claims.get("nbf") {
        Some(nbf) => match nbf.as_u64() {
            Some(nbf) if nbf > now.saturating_add(CLOCK_SKEW_SECS) => {
                return Err(ClientJwtError::Invalid("nbf is in the future"))
            }
            Some(nbf) if rules.nbf && exp.saturating_sub(nbf) > MAX_JWT_LIFETIME_SECS => {
                return Err(ClientJwtError::Invalid("exp must be at most 60 minutes after nbf"))
            }
            Some(_) => {}
            None => return Err(ClientJwtError::Invalid("nbf must be a number of seconds")),
        },
        None if rules.nbf => return Err(ClientJwtError::Invalid("nbf is required")),
        None => {}
    }
    if rules.jti {
        let jti = string("jti").filter(|j| !j.is_empty() && j.len() <= 256);
        let jti = jti.ok_or(ClientJwtError::Invalid("jti is required"))?;
        let mut tx = store::begin(&state.db).await?;
        let done =
            sqlx::query("INSERT INTO client_jtis (client_id, jti, exp) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(&client.client_id)
                .bind(jti)
                .bind(store::ts(exp))
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(ClientJwtError::Invalid("jti was already used"));
        }
    }
    Ok(claims)
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::InvalidClient("malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient("unsupported Authorization scheme"));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded.
    let dec = |s: &str| -> Option<String> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(format!("x={s}").as_bytes()).into_owned().collect();
        pairs.into_iter().next().map(|(_, v)| v)
    };
    let id = dec(id).ok_or_else(bad)?;
    let secret = dec(secret).ok_or_else(bad)?;
    Ok(Some((id, secret)))
}

/// Authenticates the client of a request with the method it registered.
/// `audiences` are the accepted `aud` values of a client assertion.
///
/// # Errors
/// `invalid_request` for several methods at once; `invalid_client` for
/// anything else wrong; `unauthorized_client` for a disabled client.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &ClientAuthParams,
    audiences: &[String],
) -> Result<Client, OAuthError> {
    authenticate_from(state, None, headers, params, audiences).await.map(|(client, _)| client)
}

/// Whether a request authenticates its client with a secret
/// (`client_secret_basic` or `client_secret_post`), the methods
/// [`authenticate_from`] takes a cached client for.
#[must_use]
pub fn by_secret(headers: &HeaderMap, params: &ClientAuthParams) -> bool {
    params.client_assertion.is_none() && (params.client_secret.is_some() || headers.contains_key(header::AUTHORIZATION))
}

/// [`authenticate`], taking the client from `cache` as it says (with the
/// generation it was read at) when there is one. A cached client authenticates by
/// secret only: a client assertion's `jti` is recorded when it is checked,
/// and a request done again from the database would find it replayed.
///
/// # Errors
/// As [`authenticate`].
pub async fn authenticate_from(
    state: &AppState,
    cache: Option<(&crate::oauth::records::RecordCache, crate::oauth::records::Take)>,
    headers: &HeaderMap,
    params: &ClientAuthParams,
    audiences: &[String],
) -> Result<(Client, Option<i64>), OAuthError> {
    let basic = basic_credentials(headers)?;
    if basic.is_some() && (params.client_secret.is_some() || params.client_assertion.is_some()) {
        return Err(RequestError::MultipleClientAuth.into());
    }
    let (method, client_id) = if let Some((id, _)) = &basic {
        if params.client_id.as_deref().is_some_and(|c| c != id) {
            return Err(OAuthError::InvalidRequest("client_id differs from the Basic credentials".into()));
        }
        ("client_secret_basic", id.clone())
    } else if params.client_secret.is_some() {
        let id = params.client_id.clone().ok_or(OAuthError::InvalidClient("client_id missing"))?;
        ("client_secret_post", id)
    } else if let Some(assertion) = &params.client_assertion {
        if params.client_assertion_type != Some(ClientAssertionType::JwtBearer) {
            return Err(OAuthError::InvalidClient("unsupported client_assertion_type"));
        }
        let peeked = util::peek_jwt(assertion.as_str())
            .and_then(|(_, c)| c.get("sub").and_then(Value::as_str).map(str::to_owned));
        let id = params.client_id.clone().or(peeked).ok_or(OAuthError::InvalidClient("client assertion has no sub"))?;
        ("private_key_jwt", id)
    } else {
        return Err(OAuthError::InvalidClient("client authentication required"));
    };

    let (generation, client) = match cache.filter(|_| method != "private_key_jwt") {
        Some((cache, take)) => cache.client(state, &client_id, take).await?.map(|(at, c)| (Some(at), c)),
        None => Client::load(state, &client_id).await?.map(|c| (None, c)),
    }
    .ok_or(OAuthError::InvalidClient("client authentication failed"))?;
    if client.auth_method != method {
        return Err(OAuthError::InvalidClient("not the client's registered token_endpoint_auth_method"));
    }
    match method {
        "client_secret_basic" | "client_secret_post" => {
            let presented = match (&basic, &params.client_secret) {
                (Some((_, s)), _) => util::hash_secret(s),
                (None, Some(s)) => util::hash_secret(s.secret()),
                (None, None) => return Err(OAuthError::InvalidClient("client secret missing")),
            };
            let stored = client.secret_hash.as_deref().unwrap_or("");
            if !util::ct_eq(&presented, stored) || stored.is_empty() {
                return Err(OAuthError::InvalidClient("client authentication failed"));
            }
        }
        _ => {
            let assertion = params.client_assertion.as_ref().ok_or(OAuthError::InvalidClient("assertion missing"))?;
            let rules = JwtRules::for_use(ClientJwtUse::ClientAssertion, &client.client_id, audiences);
            match verify_client_jwt(state, &client, assertion.as_str(), &rules).await {
                Ok(_) => {}
                Err(ClientJwtError::Internal(e)) => return Err(e.into()),
                Err(ClientJwtError::Unverifiable) => return Err(OAuthError::InvalidClient(UNVERIFIABLE)),
                Err(ClientJwtError::Expired) => return Err(OAuthError::InvalidClient("client assertion expired")),
                Err(ClientJwtError::Invalid(why)) => return Err(OAuthError::InvalidClient(why)),
            }
        }
    }
    if client.disabled {
        return Err(OAuthError::UnauthorizedClient("the client is disabled"));
    }
    Ok((client, generation))
}
