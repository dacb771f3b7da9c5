//! The admin API (`docs/protocol.md` §10) for an account whose user is an
//! administrator: lists across the organisation and the actions on them,
//! each call signed with the account's device key. The server checks the
//! role on every call; [`Approver::admin_endpoint`] reads where the API is
//! from the issuer's metadata.

use countersign_details::text::Revealed;
use countersign_details::CharFinding;
use countersign_protocol::admin::{self as wire, ActionResult, Page};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::approver::Approver;
use crate::enroll::{same_origin, server_metadata};
use crate::error::{Error, Result};
use crate::http::typed;
use crate::store::Account;

/// One of the admin API's lists (`"pending"`, `"grants"`… in JSON, as a
/// shell names it).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// An action of the admin API. In JSON (as a shell sends it) tagged by
/// `action`: `{"action": "revoke_grant", "grant_id": "…"}`; `sub` of a
/// block is `null` for everyone.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
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

/// `s` as one URL path segment: every byte but RFC 3986's unreserved
/// characters percent-encoded (form encoding would turn a space into `+`,
/// which a path keeps as a `+`).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl AdminAction {
    /// The names the action's path carries.
    fn names(&self) -> Vec<&str> {
        match self {
            AdminAction::Cancel { request_id } => vec![request_id],
            AdminAction::RevokeGrant { grant_id } => vec![grant_id],
            AdminAction::VerifyClient { client_id, .. } => vec![client_id],
            AdminAction::Block { client_id, sub } | AdminAction::Unblock { client_id, sub } => {
                std::iter::once(client_id.as_str()).chain(sub.as_deref()).collect()
            }
            AdminAction::RevokeDevice { device_id } => vec![device_id],
        }
    }

    /// [`AdminAction::path`], refusing a name that is empty or a dot
    /// segment: the URL would resolve it away (`..` naming the level above,
    /// another action).
    fn checked_path(&self) -> Result<String> {
        let names = self.names();
        if names.iter().any(|n| n.is_empty() || *n == "." || *n == "..") {
            return Err(Error::Protocol(format!("not a name for an admin action: {names:?}")));
        }
        Ok(self.path())
    }

    fn path(&self) -> String {
        let seg = path_segment;
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

/// One page of a list as a shell shows it: each item exactly as the
/// server sent it, with the characters to mark in its strings
/// ([`AdminItem`]). Everything in it comes from the server and the agents
/// and users it names: shells show it as text, marked.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminPageView {
    /// The items, newest first.
    pub items: Vec<AdminItem>,
    /// The cursor of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// One item of a list, with its flagged characters.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminItem {
    /// The item as the server sent it (`countersign_protocol::admin`:
    /// `PendingRequest`, `Grant`, `Client`, `User`, `Device`, `AuditEntry`).
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub item: Value,
    /// The flagged characters of each string in it (JSON Pointer, e.g.
    /// `/client_name`, `/scope/0`, `/data/reason`): only flagged strings
    /// are listed.
    pub text: Vec<AdminText>,
    /// Each top-level member that holds JSON (an object, or an array with
    /// anything but strings: `authorization_details`, `data`) as one line of
    /// compact JSON, with its flagged characters: how shells show it.
    pub json: Vec<AdminJson>,
}

/// The flagged characters of one string of an item.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminText {
    /// JSON Pointer of the string in the item.
    pub pointer: String,
    /// What to mark, where it stands.
    pub characters: Vec<CharFinding>,
}

/// A member of an item written as one line of JSON.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminJson {
    /// JSON Pointer of the member (`/authorization_details`, `/data`).
    pub pointer: String,
    /// Compact JSON (control characters escaped by JSON itself).
    pub text: String,
    /// What to mark in `text`.
    pub characters: Vec<CharFinding>,
}

impl AdminItem {
    /// `item` with the findings of the one classifier in every string and
    /// member name, and its JSON members written out.
    #[must_use]
    pub fn of(item: Value) -> Self {
        let mut text = Vec::new();
        strings(&item, &mut String::new(), &mut text);
        let mut json = Vec::new();
        if let Value::Object(map) = &item {
            for (name, value) in map {
                let structured = match value {
                    Value::Object(_) => true,
                    Value::Array(values) => values.iter().any(|v| !v.is_string()),
                    _ => false,
                };
                if structured {
                    let (line, characters) = Revealed::line(&value.to_string()).into_parts();
                    json.push(AdminJson { pointer: format!("/{}", escape_pointer(name)), text: line, characters });
                }
            }
        }
        AdminItem { item, text, json }
    }
}

/// A JSON Pointer reference token (RFC 6901).
fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The flagged strings under `value` (at `at`); a member name's findings
/// are listed at its member's pointer followed by `#name`.
fn strings(value: &Value, at: &mut String, out: &mut Vec<AdminText>) {
    let len = at.len();
    match value {
        Value::String(s) => {
            let (_, characters) = Revealed::line(s).into_parts();
            if !characters.is_empty() {
                out.push(AdminText { pointer: at.clone(), characters });
            }
        }
        Value::Array(values) => {
            for (i, v) in values.iter().enumerate() {
                at.push('/');
                at.push_str(&i.to_string());
                strings(v, at, out);
                at.truncate(len);
            }
        }
        Value::Object(map) => {
            for (name, v) in map {
                at.push('/');
                at.push_str(&escape_pointer(name));
                let (_, characters) = Revealed::line(name).into_parts();
                if !characters.is_empty() {
                    out.push(AdminText { pointer: format!("{at}#name"), characters });
                }
                strings(v, at, out);
                at.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
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

    /// One page of `list` as a shell shows it: each item with the
    /// characters to mark in its strings ([`AdminItem::of`]).
    ///
    /// # Errors
    /// As [`Approver::admin_list`].
    pub async fn admin_view(&self, account_id: &str, list: AdminList, query: &AdminQuery) -> Result<AdminPageView> {
        let page = self.admin_list(account_id, list, query).await?;
        Ok(AdminPageView { items: page.items.into_iter().map(AdminItem::of).collect(), next_cursor: page.next_cursor })
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
        let path = action.checked_path()?;
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        let url = format!("{}{path}", self.admin_endpoint(&account).await?);
        let (_, value) = inner.http.device_post_empty(&url, &inner.auth(&account, &key)).await?;
        typed(value, "admin action")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_actions_have_the_json_forms_shells_send() {
        let list: AdminList = serde_json::from_str("\"grants\"").unwrap();
        assert_eq!(list, AdminList::Grants);
        let action: AdminAction =
            serde_json::from_value(serde_json::json!({"action": "block", "client_id": "c_1", "sub": null})).unwrap();
        assert_eq!(action, AdminAction::Block { client_id: "c_1".into(), sub: None });
        let action: AdminAction =
            serde_json::from_value(serde_json::json!({"action": "revoke_grant", "grant_id": "jti/1"})).unwrap();
        assert_eq!(action.path(), "/grants/jti%2F1/revoke");
        // Nothing but what the action names.
        assert!(serde_json::from_value::<AdminAction>(
            serde_json::json!({"action": "revoke_device", "device_id": "d", "sub": "u"})
        )
        .is_err());
        assert!(serde_json::from_value::<AdminAction>(serde_json::json!({"action": "delete_all"})).is_err());
    }

    // Each name is one path segment, spaces and `+` and `/` included: the
    // server reads back exactly the name (a `+` from form encoding would
    // name another user).
    #[test]
    fn names_in_action_paths_are_percent_encoded_segments() {
        let block = AdminAction::Block { client_id: "agent a+b".into(), sub: Some("u 1/..?#%".into()) };
        assert_eq!(block.path(), "/clients/agent%20a%2Bb/users/u%201%2F..%3F%23%25/block");
        let unblock = AdminAction::Unblock { client_id: "Zoë~_.-".into(), sub: None };
        assert_eq!(unblock.path(), "/clients/Zo%C3%AB~_.-/unblock");
        // Dot segments and empty names are refused before anything is sent.
        assert_eq!(block.checked_path().unwrap(), block.path());
        for name in ["..", ".", ""] {
            let action = AdminAction::Block { client_id: "c".into(), sub: Some(name.into()) };
            assert!(matches!(action.checked_path(), Err(Error::Protocol(_))), "{name:?}");
            let action = AdminAction::RevokeGrant { grant_id: name.into() };
            assert!(action.checked_path().is_err(), "{name:?}");
        }
    }

    #[test]
    fn an_items_flagged_strings_and_json_members_are_listed() {
        let item = AdminItem::of(serde_json::json!({
            "id": "g_1",
            "client_name": "Pay\u{202E}moc.evil",
            "scope": ["openid", "a\u{200B}b"],
            "authorization_details": [{"type": "payment", "note\u{202E}": "x\u{0007}"}],
            "plain": "nothing here",
        }));
        let pointers: Vec<&str> = item.text.iter().map(|t| t.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/client_name",
                "/scope/1",
                "/authorization_details/0/note\u{202E}#name",
                "/authorization_details/0/note\u{202E}"
            ]
        );
        assert_eq!(item.text[0].characters[0].code_point, "U+202E");
        assert_eq!(item.text[0].characters[0].utf16_offset, 3);
        // `scope` holds only strings: shown item by item, not as JSON.
        assert_eq!(item.json.len(), 1);
        let json = &item.json[0];
        assert_eq!(json.pointer, "/authorization_details");
        assert_eq!(json.text, "[{\"type\":\"payment\",\"note\u{202E}\":\"x\\u0007\"}]");
        assert_eq!(json.characters.len(), 1, "the bidi override is marked; JSON escaped the bell");
    }
}
