//! The admin API (`docs/protocol.md` §10) for an account whose user is an
//! administrator: lists across the organisation and the actions on them,
//! each call signed with the account's device key. The server checks the
//! role on every call; [`Approver::admin_endpoint`] reads where the API is
//! from the issuer's metadata.

use countersign_protocol::admin::{self as wire, ActionResult, Page};
use serde::de::DeserializeOwned;

use crate::approver::Approver;
use crate::enroll::{same_origin, server_metadata};
use crate::error::{Error, Result};
use crate::http::typed;
use crate::store::Account;

/// One of the admin API's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminList {
    /// Pending requests.
    Pending,
    /// Grants (issued tokens).
    Grants,
    /// Clients.
    Clients,
    /// Users.
    Users,
    /// Devices.
    Devices,
    /// The audit log.
    Audit,
}

impl AdminList {
    fn path(self) -> &'static str {
        match self {
            AdminList::Pending => wire::PATH_REQUESTS,
            AdminList::Grants => wire::PATH_GRANTS,
            AdminList::Clients => wire::PATH_CLIENTS,
            AdminList::Users => wire::PATH_USERS,
            AdminList::Devices => wire::PATH_DEVICES,
            AdminList::Audit => wire::PATH_AUDIT,
        }
    }
}

/// A query of a list: filters (`sub`, `client_id`, `type`, `risk`,
/// `older_than`, `status`, `action`, `actor`, `target`, as each list
/// takes), `limit` and `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminQuery(pub Vec<(String, String)>);

impl AdminQuery {
    /// Adds `name=value` when `value` is present.
    #[must_use]
    pub fn with(mut self, name: &str, value: Option<impl Into<String>>) -> Self {
        if let Some(v) = value {
            self.0.push((name.to_owned(), v.into()));
        }
        self
    }

    fn encode(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut q = url::form_urlencoded::Serializer::new(String::from("?"));
        for (k, v) in &self.0 {
            q.append_pair(k, v);
        }
        q.finish()
    }
}

/// An action of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAction {
    /// Cancel a pending request.
    Cancel {
        /// The request id.
        request_id: String,
    },
    /// Revoke a grant.
    RevokeGrant {
        /// The grant id (its access token's `jti`).
        grant_id: String,
    },
    /// Mark a client verified (or not).
    VerifyClient {
        /// The client.
        client_id: String,
        /// Verified or not.
        verified: bool,
    },
    /// Block a client for one user or everyone.
    Block {
        /// The client.
        client_id: String,
        /// The user (`sub`), or everyone.
        sub: Option<String>,
    },
    /// Lift a block.
    Unblock {
        /// The client.
        client_id: String,
        /// The user (`sub`), or everyone.
        sub: Option<String>,
    },
    /// Revoke a device.
    RevokeDevice {
        /// The device.
        device_id: String,
    },
}

impl AdminAction {
    fn path(&self) -> String {
        let seg = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        match self {
            AdminAction::Cancel { request_id } => format!("/requests/{}/cancel", seg(request_id)),
            AdminAction::RevokeGrant { grant_id } => format!("/grants/{}/revoke", seg(grant_id)),
            AdminAction::VerifyClient { client_id, verified: true } => format!("/clients/{}/verify", seg(client_id)),
            AdminAction::VerifyClient { client_id, verified: false } => {
                format!("/clients/{}/unverify", seg(client_id))
            }
            // One user's block names the user in the path, which the
            // device proof signs.
            AdminAction::Block { client_id, sub: None } => format!("/clients/{}/block", seg(client_id)),
            AdminAction::Block { client_id, sub: Some(sub) } => {
                format!("/clients/{}/users/{}/block", seg(client_id), seg(sub))
            }
            AdminAction::Unblock { client_id, sub: None } => format!("/clients/{}/unblock", seg(client_id)),
            AdminAction::Unblock { client_id, sub: Some(sub) } => {
                format!("/clients/{}/users/{}/unblock", seg(client_id), seg(sub))
            }
            AdminAction::RevokeDevice { device_id } => format!("/devices/{}/revoke", seg(device_id)),
        }
    }
}

impl Approver {
    /// The admin API's base URL of `account`'s server (its metadata's
    /// `countersign_admin_endpoint`, on the issuer's origin).
    ///
    /// # Errors
    /// The metadata cannot be read, names no admin endpoint, or one on
    /// another origin.
    pub async fn admin_endpoint(&self, account: &Account) -> Result<String> {
        let meta = server_metadata(&self.inner.http, &account.issuer).await?;
        let endpoint = meta
            .countersign_admin_endpoint
            .ok_or_else(|| Error::Metadata(format!("{} has no countersign_admin_endpoint", account.issuer)))?;
        same_origin(&account.issuer, &endpoint, "countersign_admin_endpoint")?;
        Ok(endpoint)
    }

    /// One page of `list`, as JSON values (each list's items have their
    /// own type: [`Approver::admin_page`]).
    ///
    /// # Errors
    /// [`Error::UnknownAccount`], the key store, the metadata, or the
    /// server (`forbidden` for a user who is not an administrator).
    pub async fn admin_list(
        &self,
        account_id: &str,
        list: AdminList,
        query: &AdminQuery,
    ) -> Result<Page<serde_json::Value>> {
        self.admin_page(account_id, list, query).await
    }

    /// One page of `list` with items of type `T`.
    ///
    /// # Errors
    /// As [`Approver::admin_list`]; the answer does not have that type.
    pub async fn admin_page<T: DeserializeOwned>(
        &self,
        account_id: &str,
        list: AdminList,
        query: &AdminQuery,
    ) -> Result<Page<T>> {
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        let url = format!("{}{}{}", self.admin_endpoint(&account).await?, list.path(), query.encode());
        typed(inner.http.device_get(&url, &inner.auth(&account, &key)).await?, "admin list")
    }

    /// Runs `action`; whether it changed anything.
    ///
    /// # Errors
    /// As [`Approver::admin_list`].
    pub async fn admin_action(&self, account_id: &str, action: &AdminAction) -> Result<ActionResult> {
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        let url = format!("{}{}", self.admin_endpoint(&account).await?, action.path());
        let (_, value) = inner.http.device_post_empty(&url, &inner.auth(&account, &key)).await?;
        typed(value, "admin action")
    }
}
