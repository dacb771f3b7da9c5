//! Stored CIBA requests and their approver view.

use countersign_protocol::amr::Amr;
use countersign_protocol::ciba::{Audience, TokenDeliveryMode};
use countersign_protocol::device::{
    ApproverRequest, ClientInfo, Decision, DenyReason, Issuer, Nonce, RequestContext, RequestId, RequestStatus,
    RequestUser, Requirement, Risk,
};
use countersign_protocol::rar::AuthorizationDetails;
use countersign_protocol::secret::{AuthReqId, ClientNotificationToken};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use crate::error::Internal;
use crate::store::from_ts;
use crate::store::portable::Param;

/// A request row joined with its client and user. The `auth_req_id` and the
/// `client_notification_token` are secret types: `Debug` redacts them.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    /// Request id (the device channel's `id`).
    pub request_id: RequestId,
    /// The agent.
    pub client_id: String,
    /// The user.
    pub sub: String,
    /// The client's delivery mode when the request was made.
    pub delivery_mode: TokenDeliveryMode,
    /// `auth_req_id`, kept for ping and push callbacks only.
    pub notify_auth_req_id: Option<AuthReqId>,
    /// `client_notification_token` (ping and push).
    pub notification_token: Option<ClientNotificationToken>,
    /// Scopes, in request order.
    pub scope: Vec<String>,
    /// The description of each scope the registry knew when the request
    /// was made (what approvers are sent and the statement covers).
    pub scope_descriptions: std::collections::BTreeMap<String, String>,
    /// The API the access token is for (its `aud`); `None`: the issuer.
    pub audience: Option<Audience>,
    /// `binding_message`.
    pub binding_message: String,
    /// `authorization_details`, member order as received; empty for a
    /// scope-only request.
    pub details: AuthorizationDetails,
    /// `acr_values`.
    pub acr_values: Option<String>,
    /// Where the request came from.
    pub context: RequestContext,
    /// Risk.
    pub risk: Risk,
    /// Step-ups.
    pub requires: Vec<Requirement>,
    /// Server nonce.
    pub nonce: Nonce,
    /// Created, unix seconds.
    pub created_at: u64,
    /// Expiry, unix seconds.
    pub expires_at: u64,
    /// Current minimum polling interval (grows with `slow_down`).
    pub poll_interval: u64,
    /// Last token request.
    pub last_poll_at: Option<u64>,
    /// Stored status (see [`Self::status_at`]).
    pub status: RequestStatus,
    /// Decision, once decided.
    pub decision: Option<Decision>,
    /// Deny reason.
    pub deny_reason: Option<DenyReason>,
    /// Decided, unix seconds.
    pub decided_at: Option<u64>,
    /// Deciding device.
    pub decided_by: Option<String>,
    /// Statement hash of the decision.
    pub statement_hash: Option<String>,
    /// How the person who decided was verified (RFC 8176 `amr`, sorted);
    /// empty when the decision showed none.
    pub amr: Vec<Amr>,
    /// When the tokens were issued (the `auth_req_id` is then dead).
    pub redeemed_at: Option<u64>,
    /// Who cancelled it (`device:<id>` for an administrator), if cancelled
    /// that way.
    pub cancelled_by: Option<String>,
    /// Client display name, as when the request was made (what approvers
    /// show and the statement binds).
    pub client_name: String,
    /// Client logo.
    pub logo_uri: Option<String>,
    /// Whether the client was verified when the request was made (what
    /// approvers show and the statement binds).
    pub verified: bool,
    /// User display name.
    pub user_name: String,
    /// The client is disabled now.
    pub client_disabled: bool,
    /// The user is disabled now.
    pub user_disabled: bool,
}

/// `SELECT` of [`StoredRequest`]; append a `WHERE`.
pub const SELECT: &str = "SELECT r.*, c.logo_uri, c.disabled AS client_disabled, u.name AS user_name, \
     u.disabled AS user_disabled \
     FROM auth_requests r JOIN clients c ON c.client_id = r.client_id JOIN users u ON u.sub = r.sub";

fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T, Internal> {
    let text: String = row.try_get(col)?;
    Ok(serde_json::from_str(&text)?)
}

/// The stored form of `amr`: space-separated, sorted (`None` when empty).
#[must_use]
pub fn amr_column(amr: &[Amr]) -> Option<String> {
    let amr = countersign_protocol::amr::normalized(amr.iter().cloned());
    (!amr.is_empty()).then(|| amr.iter().map(Amr::as_str).collect::<Vec<_>>().join(" "))
}

fn amr_from_column(stored: Option<&str>) -> Vec<Amr> {
    stored.map(|s| s.split_ascii_whitespace().map(Amr::from).collect()).unwrap_or_default()
}

fn opt_ts(row: &AnyRow, col: &str) -> Result<Option<u64>, Internal> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_ts))
}

impl StoredRequest {
    /// Reads a row selected with [`SELECT`].
    ///
    /// # Errors
    /// A column is missing or malformed.
    pub fn from_row(row: &AnyRow) -> Result<Self, Internal> {
        let id: String = row.try_get("request_id")?;
        let mode: String = row.try_get("delivery_mode")?;
        let details: String = row.try_get("authorization_details")?;
        let nonce: String = row.try_get("nonce")?;
        let status: String = row.try_get("status")?;
        let decision: Option<String> = row.try_get("decision")?;
        let deny_reason: Option<String> = row.try_get("deny_reason")?;
        let risk: String = row.try_get("risk")?;
        Ok(Self {
            request_id: RequestId::new(id).map_err(|e| Internal::new(format!("request id: {e}")))?,
            client_id: row.try_get("client_id")?,
            sub: row.try_get("sub")?,
            delivery_mode: mode.parse().map_err(|_| Internal::new("empty delivery mode"))?,
            notify_auth_req_id: row.try_get::<Option<String>, _>("notify_auth_req_id")?.map(AuthReqId::new),
            notification_token: row
                .try_get::<Option<String>, _>("notification_token")?
                .map(ClientNotificationToken::new),
            scope: json_col(row, "scope")?,
            scope_descriptions: json_col(row, "scope_descriptions")?,
            audience: row
                .try_get::<Option<String>, _>("audience")?
                .map(Audience::new)
                .transpose()
                .map_err(|e| Internal::new(format!("stored audience: {e}")))?,
            binding_message: row.try_get("binding_message")?,
            details: AuthorizationDetails::from_stored(&details)
                .map_err(|e| Internal::new(format!("stored details: {e}")))?,
            acr_values: row.try_get("acr_values")?,
            context: json_col(row, "context")?,
            risk: Risk::from(risk),
            requires: json_col(row, "requires")?,
            nonce: Nonce::new(nonce).map_err(|e| Internal::new(format!("nonce: {e}")))?,
            created_at: from_ts(row.try_get("created_at")?),
            expires_at: from_ts(row.try_get("expires_at")?),
            poll_interval: from_ts(row.try_get("poll_interval")?),
            last_poll_at: opt_ts(row, "last_poll_at")?,
            status: RequestStatus::from(status),
            decision: decision.as_deref().and_then(Decision::parse),
            deny_reason: deny_reason.map(DenyReason::from),
            decided_at: opt_ts(row, "decided_at")?,
            decided_by: row.try_get("decided_by")?,
            statement_hash: row.try_get("statement_hash")?,
            amr: amr_from_column(row.try_get::<Option<String>, _>("amr")?.as_deref()),
            redeemed_at: opt_ts(row, "redeemed_at")?,
            cancelled_by: row.try_get("cancelled_by")?,
            client_name: row.try_get("client_name")?,
            logo_uri: row.try_get("logo_uri")?,
            verified: row.try_get::<i64, _>("client_verified")? != 0,
            user_name: row.try_get("user_name")?,
            client_disabled: row.try_get::<i64, _>("client_disabled")? != 0,
            user_disabled: row.try_get::<i64, _>("user_disabled")? != 0,
        })
    }

    /// The status at `now`: a pending request past `expires_at` is expired,
    /// whether or not the sweeper has written it yet.
    #[must_use]
    pub fn status_at(&self, now: u64) -> RequestStatus {
        if self.status == RequestStatus::Pending && now >= self.expires_at {
            RequestStatus::Expired
        } else {
            self.status.clone()
        }
    }

    /// The access token's `aud` (RFC 9068 §2.2): the API the user was shown
    /// ([`Self::audience`]); for a request stored before audiences were
    /// (none), the configured default; else the issuer.
    #[must_use]
    pub fn token_audience<'a>(&'a self, cfg: &'a crate::config::Config) -> &'a str {
        self.audience
            .as_ref()
            .map(Audience::as_str)
            .or(cfg.access_token_audience.as_deref())
            .unwrap_or(cfg.issuer.as_str())
    }

    /// The request as the approver sees it (`docs/protocol.md` §5.1).
    #[must_use]
    pub fn to_approver(&self, issuer: &Issuer) -> ApproverRequest {
        ApproverRequest {
            id: self.request_id.clone(),
            issuer: issuer.clone(),
            client: ClientInfo {
                client_id: self.client_id.clone(),
                client_name: self.client_name.clone(),
                logo_uri: self.logo_uri.clone(),
                verified: self.verified,
            },
            user: RequestUser { sub: self.sub.clone(), name: self.user_name.clone() },
            binding_message: self.binding_message.clone(),
            scope: self.scope.clone(),
            scope_descriptions: self.scope_descriptions.clone(),
            audience: self.audience.clone(),
            authorization_details: self.details.clone(),
            acr_values: self.acr_values.clone(),
            context: self.context.clone(),
            risk: self.risk.clone(),
            requires: self.requires.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            nonce: self.nonce.clone(),
        }
    }
}

/// A new request to store: the request as the endpoints read it back, and
/// what only the row keeps (the `auth_req_id`'s hash, for ping and push its
/// value and the client's notification token, the creation time in ms).
pub struct NewRequest<'a> {
    /// The request.
    pub request: &'a StoredRequest,
    /// Its JSON columns, serialized before the write turn.
    pub columns: &'a RequestColumns,
    /// [`auth_req_id_key`]: how the token endpoint finds it.
    pub auth_req_id_hash: &'a str,
    /// The `auth_req_id` itself, for ping and push callbacks.
    pub notify_auth_req_id: Option<&'a str>,
    /// The client's `client_notification_token` (ping and push).
    pub notification_token: Option<&'a str>,
    /// Creation time in milliseconds (orders requests created in one second).
    pub created_ms: u64,
}

/// A new request's JSON columns, serialized ahead of its insert (off the
/// request writer's thread, whose turn every write waits for).
#[derive(Debug)]
pub struct RequestColumns {
    scope: String,
    details: String,
    context: String,
    requires: String,
    scope_descriptions: String,
}

impl RequestColumns {
    /// The columns of `r`.
    ///
    /// # Errors
    /// A value could not be serialized.
    pub fn of(r: &StoredRequest) -> Result<Self, Internal> {
        Ok(Self {
            scope: serde_json::to_string(&r.scope)?,
            details: r.details.to_param(),
            context: serde_json::to_string(&r.context)?,
            requires: serde_json::to_string(&r.requires)?,
            scope_descriptions: serde_json::to_string(&r.scope_descriptions)?,
        })
    }
}

/// How a request is found by its `auth_req_id` (the `auth_req_id_hash`
/// column): `base64url(SHA-256(auth_req_id))`, behind the 12 hex digits of
/// creation time that an `auth_req_id` made by [`new_auth_req_id`] starts
/// with, so that the column's unique index grows at its end. An
/// `auth_req_id` without them (made before, or not by this server) is
/// looked up by its hash alone.
#[must_use]
pub fn auth_req_id_key(auth_req_id: &str) -> String {
    let hash = crate::util::hash_secret(auth_req_id);
    match auth_req_id.split_once('.') {
        Some((time, _)) if time.len() == 12 && time.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
            format!("{time}.{hash}")
        }
        _ => hash,
    }
}

/// A new `auth_req_id`: the time in milliseconds as 12 hex digits, a dot,
/// then `bytes` random bytes in base64url (the secret part).
///
/// # Errors
/// The system RNG failed.
pub fn new_auth_req_id(now_ms: u64, bytes: usize) -> Result<countersign_protocol::secret::AuthReqId, Internal> {
    let secret = countersign_protocol::secret::generate_url_safe(bytes).map_err(Internal::from)?;
    Ok(countersign_protocol::secret::AuthReqId::new(format!("{now_ms:012x}.{secret}")))
}

/// Loads one request by id.
///
/// # Errors
/// The database failed.
pub async fn load(conn: &mut AnyConnection, request_id: &str) -> Result<Option<StoredRequest>, Internal> {
    let row = sqlx::query(&format!("{SELECT} WHERE r.request_id = $1")).bind(request_id).fetch_optional(conn).await?;
    row.as_ref().map(StoredRequest::from_row).transpose()
}

/// Loads one request by the hash of its `auth_req_id`.
///
/// # Errors
/// The database failed.
pub async fn load_by_auth_req_id(
    conn: &mut AnyConnection,
    auth_req_id_hash: &str,
) -> Result<Option<StoredRequest>, Internal> {
    let row = sqlx::query(&format!("{SELECT} WHERE r.auth_req_id_hash = $1"))
        .bind(auth_req_id_hash)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(StoredRequest::from_row).transpose()
}

pub(crate) const INSERT: &str = "INSERT INTO auth_requests (request_id, auth_req_id_hash, notify_auth_req_id, \
     notification_token, client_id, sub, delivery_mode, scope, binding_message, authorization_details, acr_values, \
     context, risk, requires, nonce, created_at, created_ms, expires_at, poll_interval, status, client_name, \
     client_verified, audience, scope_descriptions) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, \
     ?23, ?24)";

/// [`INSERT`]'s values.
fn insert_params<'a>(new: &'a NewRequest<'_>) -> Vec<Param<'a>> {
    let (r, c) = (new.request, new.columns);
    vec![
        r.request_id.as_str().into(),
        new.auth_req_id_hash.into(),
        new.notify_auth_req_id.into(),
        new.notification_token.into(),
        r.client_id.as_str().into(),
        r.sub.as_str().into(),
        r.delivery_mode.as_str().into(),
        c.scope.as_str().into(),
        r.binding_message.as_str().into(),
        c.details.as_str().into(),
        r.acr_values.as_deref().into(),
        c.context.as_str().into(),
        r.risk.as_str().into(),
        c.requires.as_str().into(),
        r.nonce.as_str().into(),
        crate::store::ts(r.created_at).into(),
        crate::store::ts(new.created_ms).into(),
        crate::store::ts(r.expires_at).into(),
        crate::store::ts(r.poll_interval).into(),
        r.status.as_str().into(),
        r.client_name.as_str().into(),
        crate::store::flag(r.verified).into(),
        r.audience.as_ref().map(Audience::as_str).into(),
        c.scope_descriptions.as_str().into(),
    ]
}

/// Stores a new pending request, on the request writer's connection.
///
/// # Errors
/// The database failed.
pub fn insert(conn: &rusqlite::Connection, new: &NewRequest<'_>) -> Result<(), Internal> {
    let params = insert_params(new);
    let values: Vec<&dyn rusqlite::ToSql> = params.iter().map(Param::sqlite).collect();
    conn.prepare_cached(INSERT)?.execute(values.as_slice())?;
    Ok(())
}

/// [`insert`] in the caller's transaction on a pool connection (any
/// database).
///
/// # Errors
/// The database failed.
pub async fn insert_on(conn: &mut AnyConnection, new: &NewRequest<'_>) -> Result<(), Internal> {
    let params = insert_params(new);
    let sql = crate::store::portable::dollar_placeholders(INSERT);
    crate::store::portable::query(&sql, &params).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auth_req_id_key_keeps_a_valid_time_prefix_only() {
        let id = new_auth_req_id(0x0123_4567_89ab, 32).expect("id");
        let (time, secret) = id.secret().split_once('.').expect("dot");
        assert_eq!(time, "0123456789ab");
        assert_eq!(secret.len(), 43);
        let hash = crate::util::hash_secret(id.secret());
        assert_eq!(auth_req_id_key(id.secret()), format!("0123456789ab.{hash}"));
        // Anything else is looked up by its bare hash: no prefix, a prefix
        // of another length, upper-case or non-hex digits.
        for other in ["abcdef", "0123456789a.x", "0123456789abc.x", "0123456789AB.x", "0123456789ag.x", ".x", ""] {
            assert_eq!(auth_req_id_key(other), crate::util::hash_secret(other), "{other:?}");
        }
    }

    #[test]
    fn time_ordered_ids_sort_by_time() {
        let ids: Vec<String> = [1u64, 2, 255, 256, 1 << 40]
            .iter()
            .map(|ms| crate::util::time_ordered_id("req_", *ms, 16).expect("id"))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert!(ids[0].starts_with("req_000000000001"), "{}", ids[0]);
        assert_eq!(ids[0].len(), "req_".len() + 12 + 22);
    }
}
