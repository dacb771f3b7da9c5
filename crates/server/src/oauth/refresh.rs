//! Refresh tokens for the CIBA grant (RFC 6749 §6, RFC 9396 §7;
//! docs/server.md, "Refresh tokens").
//!
//! Opaque, `csrt_` + 256 random bits, stored only as SHA-256. A family is a
//! grant: every refresh token of one approved request shares its request id.
//! Each use rotates: the presented token is marked used and its successor
//! issued in the same transaction, with a new access token of the same
//! grant. A used token presented again revokes the family and the grant's
//! access tokens (reuse detection, audited `refresh_token.reused`). A refresh
//! may narrow `scope` and `authorization_details`, never widen them; the
//! family keeps what was originally granted.

use axum::response::Response;
use countersign_protocol::admin::AuditAction;
use countersign_protocol::ciba::{RefreshTokenRequest, Scope, REFRESH_TOKEN_PREFIX};
use countersign_protocol::rar::AuthorizationDetails;
use countersign_protocol::secret::{generate_url_safe, RefreshToken, TICKET_BYTES};
use serde_json::json;
use sqlx::{AnyConnection, Row as _};

use crate::audit::{Actor, Record};
use crate::config::Config;
use crate::error::{Internal, OAuthError};
use crate::oauth::clients::Client;
use crate::oauth::tokens::{self, Grant, Signer};
use crate::state::AppState;
use crate::store;
use crate::store::requests::StoredRequest;
use crate::util;

/// The scope that asks for a refresh token (OpenID Connect Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A client's token policy in force: its registered or operator-set
/// lifetimes, each capped by the server's (which are also the defaults),
/// and whether it may hold refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPolicy {
    /// Access token lifetime, seconds.
    pub access_ttl: u64,
    /// Absolute lifetime of a refresh token family, seconds.
    pub refresh_lifetime: u64,
    /// Idle lifetime of a refresh token, seconds.
    pub refresh_idle: u64,
    /// Whether the client may hold refresh tokens.
    pub refresh_tokens: bool,
}

/// `value` (the client's) capped by `max` (the server's), at least a second;
/// `max` when the client has none.
fn capped(value: Option<i64>, max: u64) -> u64 {
    value.map_or(max, |v| store::from_ts(v).min(max)).max(1)
}

impl ClientPolicy {
    /// The policy of `client_id` (the server's when the client is unknown).
    ///
    /// # Errors
    /// The database failed.
    pub async fn load(conn: &mut AnyConnection, cfg: &Config, client_id: &str) -> Result<Self, Internal> {
        let row = sqlx::query(
            "SELECT refresh_tokens, access_token_lifetime, refresh_token_lifetime, refresh_token_idle_lifetime \
             FROM clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&mut *conn)
        .await?;
        let get = |name: &str| -> Result<Option<i64>, Internal> {
            Ok(match &row {
                Some(r) => r.try_get(name)?,
                None => None,
            })
        };
        Ok(Self {
            access_ttl: capped(get("access_token_lifetime")?, cfg.access_token_ttl_secs),
            refresh_lifetime: capped(get("refresh_token_lifetime")?, cfg.refresh_token_lifetime_secs),
            refresh_idle: capped(get("refresh_token_idle_lifetime")?, cfg.refresh_token_idle_lifetime_secs),
            refresh_tokens: get("refresh_tokens")?.is_some_and(|v| v != 0),
        })
    }
}

/// The stored key of a refresh token: base64url SHA-256 of the whole token.
#[must_use]
pub fn key(token: &str) -> String {
    util::hash_secret(token)
}

/// What a rotated refresh token inherits from its predecessor.
pub struct Family {
    /// The scope originally granted.
    pub scope: String,
    /// The `authorization_details` originally granted (JSON).
    pub details: String,
    /// The family's absolute end.
    pub expires_at: u64,
}

/// A refresh token to issue (recorded with its access token).
pub struct NewRefresh {
    /// The token (sent once, then only its hash is kept).
    pub token: RefreshToken,
    /// Its end unless rotated before (within the family's absolute end).
    pub idle_expires_at: u64,
    /// The family's absolute end.
    pub expires_at: u64,
    family: Option<Family>,
}

impl NewRefresh {
    /// A fresh token: the first of a new family (`family` `None`, the
    /// absolute lifetime counted from `now`) or the successor in `family`.
    ///
    /// # Errors
    /// The system random number generator failed.
    pub fn new(policy: &ClientPolicy, now: u64, family: Option<Family>) -> Result<Self, Internal> {
        let token = RefreshToken::new(format!("{REFRESH_TOKEN_PREFIX}{}", generate_url_safe(TICKET_BYTES)?));
        let expires_at = family.as_ref().map_or_else(|| now.saturating_add(policy.refresh_lifetime), |f| f.expires_at);
        let idle_expires_at = now.saturating_add(policy.refresh_idle).min(expires_at);
        Ok(Self { token, idle_expires_at, expires_at, family })
    }

    /// Records it in `req`'s family, inside the caller's transaction: the
    /// grant as approved for a new family, the inherited one otherwise.
    ///
    /// # Errors
    /// The database failed.
    pub async fn insert(&self, conn: &mut AnyConnection, req: &StoredRequest, now: u64) -> Result<(), Internal> {
        let (scope, details) = match &self.family {
            Some(f) => (f.scope.clone(), f.details.clone()),
            None => (req.scope.join(" "), serde_json::to_string(&req.details)?),
        };
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family, client_id, sub, scope, authorization_details, issued_at, \
             idle_expires_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(key(self.token.secret()))
        .bind(req.request_id.as_str())
        .bind(&req.client_id)
        .bind(&req.sub)
        .bind(scope)
        .bind(details)
        .bind(store::ts(now))
        .bind(store::ts(self.idle_expires_at))
        .bind(store::ts(self.expires_at))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// What ending a grant revoked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Access tokens revoked.
    pub access_tokens: u64,
    /// Refresh tokens revoked.
    pub refresh_tokens: u64,
}

impl Ended {
    /// Nothing was revoked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.access_tokens == 0 && self.refresh_tokens == 0
    }
}

/// Ends the grant of `request_id` inside the caller's transaction: its
/// refresh tokens and its access tokens not yet revoked. Not audited here
/// (the caller's entry says why).
///
/// # Errors
/// The database failed.
pub async fn revoke_family(conn: &mut AnyConnection, request_id: &str, now: u64) -> Result<Ended, Internal> {
    let refresh_tokens =
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
            .bind(store::ts(now))
            .bind(request_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    let access_tokens = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE request_id = $2 AND revoked_at IS NULL")
        .bind(store::ts(now))
        .bind(request_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(Ended { access_tokens, refresh_tokens })
}

/// Revokes every live refresh token matching `filter` (an SQL condition on
/// `refresh_tokens` with `$2` and, optionally, `$3`), inside the caller's
/// transaction: disabling a user or a client, blocking a client for a user.
///
/// # Errors
/// The database failed.
pub async fn revoke_where(
    conn: &mut AnyConnection,
    filter: &str,
    a: &str,
    b: Option<&str>,
    now: u64,
) -> Result<u64, Internal> {
    let sql = format!("UPDATE refresh_tokens SET revoked_at = $1 WHERE {filter} AND revoked_at IS NULL");
    let mut q = sqlx::query(&sql).bind(store::ts(now)).bind(a);
    if let Some(b) = b {
        q = q.bind(b);
    }
    Ok(q.execute(&mut *conn).await?.rows_affected())
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The family (the grant's request id).
    pub family: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub sub: String,
    /// The scope originally granted.
    pub scope: String,
    /// The `authorization_details` originally granted (JSON).
    pub details: String,
    /// Issued, unix seconds.
    pub issued_at: u64,
    /// End unless rotated before.
    pub idle_expires_at: u64,
    /// The family's absolute end.
    pub expires_at: u64,
    /// Rotated.
    pub used_at: Option<u64>,
    /// Revoked.
    pub revoked_at: Option<u64>,
    /// The user is disabled.
    pub user_disabled: bool,
    /// The client is disabled.
    pub client_disabled: bool,
}

impl Stored {
    /// Usable at `now`: not rotated, revoked or expired, user and client
    /// enabled.
    #[must_use]
    pub fn active_at(&self, now: u64) -> bool {
        self.used_at.is_none()
            && self.revoked_at.is_none()
            && now < self.idle_expires_at
            && now < self.expires_at
            && !self.user_disabled
            && !self.client_disabled
    }
}

/// The stored refresh token `token`, if it is one.
///
/// # Errors
/// The database failed.
pub async fn find(conn: &mut AnyConnection, token: &str) -> Result<Option<Stored>, Internal> {
    if !token.starts_with(REFRESH_TOKEN_PREFIX) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT r.family, r.client_id, r.sub, r.scope, r.authorization_details, r.issued_at, r.idle_expires_at, \
         r.expires_at, r.used_at, r.revoked_at, u.disabled AS user_disabled, c.disabled AS client_disabled \
         FROM refresh_tokens r JOIN users u ON u.sub = r.sub JOIN clients c ON c.client_id = r.client_id \
         WHERE r.token_hash = $1",
    )
    .bind(key(token))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let opt =
        |name: &str| -> Result<Option<u64>, Internal> { Ok(row.try_get::<Option<i64>, _>(name)?.map(store::from_ts)) };
    Ok(Some(Stored {
        family: row.try_get("family")?,
        client_id: row.try_get("client_id")?,
        sub: row.try_get("sub")?,
        scope: row.try_get("scope")?,
        details: row.try_get("authorization_details")?,
        issued_at: store::from_ts(row.try_get("issued_at")?),
        idle_expires_at: store::from_ts(row.try_get("idle_expires_at")?),
        expires_at: store::from_ts(row.try_get("expires_at")?),
        used_at: opt("used_at")?,
        revoked_at: opt("revoked_at")?,
        user_disabled: row.try_get::<i64, _>("user_disabled")? != 0,
        client_disabled: row.try_get::<i64, _>("client_disabled")? != 0,
    }))
}

/// The scope of a refresh: `requested` when every token of it was
/// `granted` (RFC 6749 §6), else `invalid_scope`; `granted` when absent.
///
/// # Errors
/// `invalid_scope` naming the first token not granted.
pub fn narrow_scope(granted: &[String], requested: Option<&Scope>) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else { return Ok(granted.to_vec()) };
    if let Some(extra) = requested.iter().find(|t| !granted.iter().any(|g| g == t)) {
        return Err(OAuthError::InvalidScope(format!(
            "scope must stay within the scope originally granted; not granted: {}",
            util::quoted(extra)
        )));
    }
    Ok(requested.iter().map(str::to_owned).collect())
}

/// The `authorization_details` of a refresh: `requested` when each of its
/// objects equals one granted object, each granted object matched at most
/// once (RFC 9396 §7), else `invalid_authorization_details`; `granted`
/// when absent.
///
/// # Errors
/// `invalid_authorization_details` naming the first object not granted.
pub fn narrow_details(
    granted: &AuthorizationDetails,
    requested: Option<&AuthorizationDetails>,
) -> Result<AuthorizationDetails, OAuthError> {
    let Some(requested) = requested else { return Ok(granted.clone()) };
    let mut free: Vec<bool> = vec![true; granted.len()];
    for (index, want) in requested.iter().enumerate() {
        let hit = granted.iter().enumerate().find(|(i, g)| free.get(*i).copied().unwrap_or(false) && *g == want);
        match hit.and_then(|(i, _)| free.get_mut(i)) {
            Some(slot) => *slot = false,
            None => {
                return Err(OAuthError::InvalidAuthorizationDetails(format!(
                    "authorization_details[{index}] (type {}) is not one of the authorization_details originally \
                     granted, or is asked for more often than granted; a refresh may only narrow them",
                    util::quoted(want.r#type())
                )))
            }
        }
    }
    Ok(requested.clone())
}

/// `grant_type=refresh_token` at the token endpoint for the authenticated
/// `client`.
///
/// # Errors
/// `unauthorized_client` for a client that may not hold refresh tokens;
/// `invalid_grant` for a token that is unknown, another client's, used
/// (which revokes its family), revoked or expired, or whose user is
/// disabled or for whom an administrator blocked the client;
/// `invalid_scope`, `invalid_authorization_details` for a widening.
pub async fn grant(state: &AppState, client: &Client, request: RefreshTokenRequest) -> Result<Response, OAuthError> {
    let unknown = OAuthError::InvalidGrant("unknown refresh token");
    // The signing key is looked up before the write transaction opens (no
    // second pool connection is taken while holding the write turn).
    let signer = Signer::active(state).await?;
    let now = state.now();
    let mut tx = store::begin(&state.db).await?;
    // A client that may not hold refresh tokens may not use the grant type
    // (RFC 6749 §5.2), whatever token it presents.
    let policy = ClientPolicy::load(&mut tx, &state.config, &client.client_id).await?;
    if !policy.refresh_tokens {
        return Err(OAuthError::UnauthorizedClient("this client may not use refresh tokens"));
    }
    let Some(stored) = find(&mut tx, request.refresh_token.secret()).await? else { return Err(unknown) };
    if !util::ct_eq(&stored.client_id, &client.client_id) {
        return Err(unknown);
    }
    if stored.revoked_at.is_some() {
        return Err(OAuthError::InvalidGrant("refresh token revoked"));
    }
    if stored.used_at.is_some() {
        reused(&mut tx, &stored, now).await?;
        tx.commit().await?;
        return Err(OAuthError::InvalidGrant(REUSED));
    }
    if now >= stored.expires_at {
        return Err(OAuthError::InvalidGrant("refresh token expired: the grant's lifetime has ended"));
    }
    if now >= stored.idle_expires_at {
        return Err(OAuthError::InvalidGrant("refresh token expired: unused for too long"));
    }
    if stored.user_disabled {
        return Err(OAuthError::InvalidGrant("the user's account is disabled"));
    }
    if crate::store::blocks::client_blocked_for_user(&mut tx, &stored.client_id, &stored.sub).await? {
        return Err(OAuthError::InvalidGrant("an administrator has blocked this client for this user"));
    }
    let granted_scope: Vec<String> = stored.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let granted_details: AuthorizationDetails = serde_json::from_str(&stored.details).map_err(Internal::from)?;
    let scope = narrow_scope(&granted_scope, request.scope.as_ref())?;
    let details = narrow_details(&granted_details, request.authorization_details.as_ref().map(|d| d.details()))?;

    // Rotation: the conditional mark comes first, so that of two refreshes
    // racing with one token (where writers are not serialised) the loser is
    // a reuse.
    let marked = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(store::ts(now))
    .bind(key(request.refresh_token.secret()))
    .execute(&mut *tx)
    .await?;
    if marked.rows_affected() != 1 {
        reused(&mut tx, &stored, now).await?;
        tx.commit().await?;
        return Err(OAuthError::InvalidGrant(REUSED));
    }
    let req = crate::store::requests::load(&mut tx, &stored.family)
        .await?
        .ok_or_else(|| Internal::new("a refresh token family without its request"))?;
    let family = Family { scope: stored.scope.clone(), details: stored.details.clone(), expires_at: stored.expires_at };
    let next = NewRefresh::new(&policy, now, Some(family))?;
    let grant = Grant { scope, details, access_ttl: policy.access_ttl, id_token: false, refresh: Some(next) };
    let issued = tokens::mint_grant(state, &signer, &req, grant, now, None)?;
    issued.record_refresh(&mut tx, &req, now).await?;
    let body = serde_json::to_vec(&issued.response).map_err(Internal::from)?;
    tx.commit().await?;
    tracing::info!(request_id = %req.request_id, client_id = %req.client_id, "tokens refreshed");
    Ok(crate::oauth::token::token_response(body))
}

const REUSED: &str = "refresh token already used: the grant is revoked (a rotated refresh token was presented again)";

/// A used refresh token presented again: the family and the grant's access
/// tokens revoked, audited.
async fn reused(conn: &mut AnyConnection, stored: &Stored, now: u64) -> Result<(), Internal> {
    let ended = revoke_family(conn, &stored.family, now).await?;
    crate::audit::append(
        conn,
        now,
        &Record::new(Actor::Client(&stored.client_id), AuditAction::RefreshTokenReused)
            .target(&stored.family)
            .user(&stored.sub)
            .data(json!({
                "used_at": stored.used_at,
                "access_tokens_revoked": ended.access_tokens,
                "refresh_tokens_revoked": ended.refresh_tokens,
            })),
    )
    .await?;
    tracing::warn!(request_id = %stored.family, client_id = %stored.client_id, "refresh token reused; grant revoked");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn details(v: Value) -> AuthorizationDetails {
        AuthorizationDetails::from_value(v).unwrap()
    }

    #[test]
    fn scope_narrows_and_never_widens() {
        let granted: Vec<String> = ["openid", "payments", "offline_access"].map(str::to_owned).into();
        assert_eq!(narrow_scope(&granted, None).unwrap(), granted);
        let s = Scope::parse("payments").unwrap();
        assert_eq!(narrow_scope(&granted, Some(&s)).unwrap(), vec!["payments".to_owned()]);
        let wide = Scope::parse("payments admin").unwrap();
        let Err(OAuthError::InvalidScope(m)) = narrow_scope(&granted, Some(&wide)) else { panic!("widened") };
        assert!(m.contains("admin"), "{m}");
    }

    #[test]
    fn details_narrow_object_by_object_each_granted_object_once() {
        let a = json!({"type": "payment_initiation", "amount": "1"});
        let b = json!({"type": "payment_initiation", "amount": "2"});
        let granted = details(json!([a, b]));
        assert_eq!(narrow_details(&granted, None).unwrap(), granted);
        // Member order does not matter; one object of two is a narrowing.
        let one = details(json!([{"amount": "2", "type": "payment_initiation"}]));
        assert_eq!(narrow_details(&granted, Some(&one)).unwrap(), one);
        assert_eq!(narrow_details(&granted, Some(&details(json!([b, a])))).unwrap().len(), 2);
        // An object not granted, a changed value, or one asked twice: refused.
        for wide in [
            json!([{"type": "payment_initiation", "amount": "3"}]),
            json!([a, a]),
            json!([a, b, a]),
            json!([{"type": "payment_initiation", "amount": "1", "extra": true}]),
        ] {
            let r = narrow_details(&granted, Some(&details(wide.clone())));
            assert!(matches!(r, Err(OAuthError::InvalidAuthorizationDetails(_))), "{wide}");
        }
    }

    // A scope-only grant (no details) keeps none on refresh, and a refresh
    // that asks for some widens it.
    #[test]
    fn a_scope_only_grant_gets_no_details_by_refresh() {
        let none = AuthorizationDetails::none();
        assert!(narrow_details(&none, None).unwrap().is_empty());
        let asked = details(json!([{"type": "payment_initiation", "amount": "1"}]));
        let r = narrow_details(&none, Some(&asked));
        assert!(matches!(r, Err(OAuthError::InvalidAuthorizationDetails(_))), "{r:?}");
    }

    #[test]
    fn client_lifetimes_are_capped_by_the_servers() {
        assert_eq!(capped(None, 600), 600);
        assert_eq!(capped(Some(60), 600), 60);
        assert_eq!(capped(Some(6000), 600), 600);
        assert_eq!(capped(Some(0), 600), 1);
    }

    #[test]
    fn a_new_token_is_prefixed_random_and_bounded_by_its_family() {
        let p = ClientPolicy { access_ttl: 60, refresh_lifetime: 1000, refresh_idle: 100, refresh_tokens: true };
        let a = NewRefresh::new(&p, 10, None).unwrap();
        let b = NewRefresh::new(&p, 10, None).unwrap();
        assert!(a.token.secret().starts_with(REFRESH_TOKEN_PREFIX));
        assert_eq!(a.token.secret().len(), REFRESH_TOKEN_PREFIX.len() + 43);
        assert_ne!(a.token.secret(), b.token.secret());
        assert_eq!((a.idle_expires_at, a.expires_at), (110, 1010));
        assert!(!format!("{:?}", a.token).contains(REFRESH_TOKEN_PREFIX));
        let fam = Family { scope: "openid".into(), details: "[]".into(), expires_at: 1010 };
        let c = NewRefresh::new(&p, 950, Some(fam)).unwrap();
        assert_eq!((c.idle_expires_at, c.expires_at), (1010, 1010));
    }
}
