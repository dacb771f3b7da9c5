//! The admin API (`docs/protocol.md` §10) under `{issuer}/admin/v1`: the
//! device proof of §4 (its `htu` under the admin endpoint), then the
//! `admin` role of the device's user, read from the database on every call
//! (a role taken away takes effect at the next call). Lists in [`lists`],
//! actions in [`actions`], both delegating to [`crate::ops`] and
//! [`crate::audit`].

mod actions;
mod lists;
pub mod notices;

use axum::routing::{get, post};
use axum::Router;
use countersign_protocol::admin as wire;
use countersign_protocol::device::HttpMethod;
use sqlx::Row as _;

use crate::device::Device;
use crate::error::DeviceError;
use crate::state::AppState;

/// The role that opens the admin API.
pub const ADMIN_ROLE: &str = "admin";

/// The admin routes, relative to the admin base path.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(wire::PATH_REQUESTS, get(lists::pending))
        .route("/requests/{id}/cancel", post(actions::cancel))
        .route(wire::PATH_GRANTS, get(lists::grants))
        .route("/grants/{id}/revoke", post(actions::revoke_grant))
        .route(wire::PATH_CLIENTS, get(lists::clients))
        .route("/clients/{id}/verify", post(actions::verify_client))
        .route("/clients/{id}/unverify", post(actions::unverify_client))
        .route("/clients/{id}/block", post(actions::block_client))
        .route("/clients/{id}/unblock", post(actions::unblock_client))
        // One user's block is in the path, so the signed `htu` says whom
        // it is for (the proof does not cover a body).
        .route("/clients/{id}/users/{sub}/block", post(actions::block_client_for_user))
        .route("/clients/{id}/users/{sub}/unblock", post(actions::unblock_client_for_user))
        .route(wire::PATH_USERS, get(lists::users))
        .route(wire::PATH_DEVICES, get(lists::devices))
        .route("/devices/{id}/revoke", post(actions::revoke_device))
        .route(wire::PATH_AUDIT, get(lists::audit))
}

/// An administrator's device: its proof verified for this call, its user an
/// `admin` now.
pub struct AdminCaller(pub Device);

impl axum::extract::FromRequestParts<AppState> for AdminCaller {
    type Rejection = DeviceError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, DeviceError> {
        // Inside the nested admin router, `uri` is the path below its base.
        let htu = format!("{}{}", state.config.admin_endpoint(), parts.uri.path());
        let htm = HttpMethod::from(parts.method.as_str());
        let device = crate::device::authenticate(state, &parts.headers, htm, &htu).await?;
        let roles: String = sqlx::query("SELECT roles FROM users WHERE sub = $1")
            .bind(&device.sub)
            .fetch_one(&state.db)
            .await?
            .try_get("roles")?;
        let roles: Vec<String> = serde_json::from_str(&roles).map_err(crate::error::Internal::from)?;
        if !roles.iter().any(|r| r == ADMIN_ROLE) {
            tracing::info!(device_id = %device.device_id, "admin API refused: not an administrator");
            return Err(DeviceError::Forbidden);
        }
        Ok(AdminCaller(device))
    }
}

/// The query of a list: known parameters only, each at most once.
pub(crate) struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, DeviceError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if k != "limit" && k != "cursor" && !allowed.contains(&k.as_ref()) {
                return Err(DeviceError::InvalidRequest(format!(
                    "unknown parameter {:?}; this list takes limit, cursor{}",
                    k.as_ref(),
                    allowed.iter().map(|a| format!(", {a}")).collect::<String>()
                )));
            }
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(DeviceError::InvalidRequest(format!("parameter {:?} given twice", k.as_ref())));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self { pairs })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn limit(&self) -> Result<u32, DeviceError> {
        match self.get("limit") {
            None => Ok(wire::DEFAULT_PAGE),
            Some(v) => v.parse().ok().filter(|n| (1..=wire::MAX_PAGE).contains(n)).ok_or_else(|| {
                DeviceError::InvalidRequest(format!("limit must be a number from 1 to {}", wire::MAX_PAGE))
            }),
        }
    }
}

/// Where a page ends: a number (time or `seq`) and an id, opaque to clients
/// (`<n>:<id>`, base64url).
pub(crate) struct Cursor {
    pub n: i64,
    pub id: String,
}

impl Cursor {
    pub(crate) fn encode(n: i64, id: &str) -> String {
        countersign_protocol::jws::b64url_encode(format!("{n}:{id}").as_bytes())
    }

    fn parse(text: &str) -> Result<Self, DeviceError> {
        let bad = || DeviceError::InvalidRequest("cursor is not a next_cursor this server gave".into());
        let bytes = countersign_protocol::jws::b64url_decode(text).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (n, id) = text.split_once(':').ok_or_else(bad)?;
        Ok(Self { n: n.parse().map_err(|_| bad())?, id: id.to_owned() })
    }
}
