//! The admin API (`docs/protocol.md` §10): wire types only. Every call is
//! made by an enrolled device whose user has the `admin` role, with the
//! device proof of §4 (`htu` under `countersign_admin_endpoint`). Lists are
//! paged newest first: `limit` (1 to [`MAX_PAGE`], default
//! [`DEFAULT_PAGE`]) and the opaque `cursor` of the previous page's
//! `next_cursor`.

//!
//! The server sends every type here; a later server may add members, which
//! a device ignores (§1, "Unknown members"), so none of them refuses
//! members it does not know. An audit export is read strictly by its
//! verifier instead (`countersign_server::audit::verify_export`); the
//! signed head ([`AuditHead`]) is strict.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::amr::Amr;
use crate::device::registered::registered_enum;
use crate::device::Risk;

/// The default base path of the admin API below the issuer.
pub const DEFAULT_BASE_PATH: &str = "/admin/v1";
/// Pending requests across the organisation.
pub const PATH_REQUESTS: &str = "/requests";
/// Issued tokens.
pub const PATH_GRANTS: &str = "/grants";
/// Clients (agents).
pub const PATH_CLIENTS: &str = "/clients";
/// Users.
pub const PATH_USERS: &str = "/users";
/// Devices (of one user: `?sub=`).
pub const PATH_DEVICES: &str = "/devices";
/// The audit log.
pub const PATH_AUDIT: &str = "/audit";

/// Items per page when `limit` is absent.
pub const DEFAULT_PAGE: u32 = 50;
/// The most items per page.
pub const MAX_PAGE: u32 = 500;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// The cursor of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A pending request, as an administrator reviews it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// The request id (the device channel's).
    pub id: String,
    /// The agent.
    pub client_id: String,
    /// Its display name when the request was made.
    pub client_name: String,
    /// Whether it was verified when the request was made.
    pub verified: bool,
    /// The user asked.
    pub sub: String,
    /// Their display name.
    pub user_name: String,
    /// `binding_message`.
    pub binding_message: String,
    /// `scope`.
    pub scope: Vec<String>,
    /// `authorization_details`, as received.
    pub authorization_details: Value,
    /// Risk.
    pub risk: Risk,
    /// Created, unix seconds.
    pub created_at: u64,
    /// Expires, unix seconds.
    pub expires_at: u64,
}

registered_enum! {
    /// The state of a grant.
    pub enum GrantStatus {
        /// Its access token is live, or its refresh token can still get a
        /// new one (`Grant::refreshable_until`).
        Active => "active",
        /// Its access token has expired and it has no refresh token left
        /// that can get another.
        Expired => "expired",
        /// Revoked (by the client, an administrator, or a disabled user or client).
        Revoked => "revoked",
    } extension
}

/// A grant: an issued access token and what it allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The access token's `jti` (the grant's id here).
    pub id: String,
    /// The approved request.
    pub request_id: String,
    /// The user.
    pub sub: String,
    /// The agent.
    pub client_id: String,
    /// `scope`.
    pub scope: Vec<String>,
    /// `authorization_details` as granted.
    pub authorization_details: Value,
    /// How the approver was verified (empty when the decision showed none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<Amr>,
    /// Issued, unix seconds.
    pub issued_at: u64,
    /// Expires, unix seconds.
    pub expires_at: u64,
    /// Its state now.
    pub status: GrantStatus,
    /// Revoked, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// Until when, unix seconds, the agent can still get new access tokens
    /// for this grant with its refresh token (the live token's idle end,
    /// capped by the family's absolute end); absent without a live one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshable_until: Option<u64>,
}

/// A client (agent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// `client_id`.
    pub client_id: String,
    /// `client_name`.
    pub client_name: String,
    /// CIBA delivery mode.
    pub delivery_mode: String,
    /// Verified by an operator or administrator.
    pub verified: bool,
    /// Who verified it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
    /// Blocked for everyone (disabled).
    pub blocked: bool,
    /// The users it is blocked for (one by one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_for: Vec<String>,
    /// Registered, unix seconds.
    pub created_at: u64,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// `sub`.
    pub sub: String,
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Roles (`admin`, `user`).
    pub roles: Vec<String>,
    /// Disabled.
    pub disabled: bool,
    /// Devices not revoked.
    pub active_devices: u32,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// `device_id`.
    pub device_id: String,
    /// Its user.
    pub sub: String,
    /// Its name.
    pub device_name: String,
    /// Its platform.
    pub platform: String,
    /// Enrolled, unix seconds.
    pub created_at: u64,
    /// Revoked, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

/// The answer of an action (revoke, cancel, block, ...): what it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// `false` when there was nothing to do (already revoked, not pending).
    pub changed: bool,
}

registered_enum! {
    /// What an audit entry records.
    pub enum AuditAction {
        /// An agent's request accepted (`/bc-authorize`).
        RequestCreated => "request.created",
        /// A user's decision (its JWS in `data`).
        RequestDecided => "request.decided",
        /// A pending request cancelled (by an administrator, or with its
        /// client or user disabled).
        RequestCancelled => "request.cancelled",
        /// Tokens issued for an approved request.
        TokenIssued => "token.issued",
        /// An access token revoked (RFC 7009, an administrator, a disabled
        /// client or user).
        TokenRevoked => "token.revoked",
        /// A device enrolled.
        DeviceEnrolled => "device.enrolled",
        /// A device revoked.
        DeviceRevoked => "device.revoked",
        /// A client marked verified or unverified.
        ClientVerification => "client.verification",
        /// A client blocked (for one user or everyone).
        ClientBlocked => "client.blocked",
        /// A client unblocked.
        ClientUnblocked => "client.unblocked",
        /// Unverified clients blocked for a user by fatigue control (after
        /// `not_me` denials).
        UnverifiedBlocked => "fatigue.unverified_blocked",
        /// That block lifted.
        UnverifiedUnblocked => "fatigue.unverified_unblocked",
        /// A user's roles changed.
        UserRoles => "user.roles",
        /// A user added.
        UserAdded => "user.added",
        /// A user disabled.
        UserDisabled => "user.disabled",
        /// A user's `user_code` set (the code itself is never logged).
        UserCodeSet => "user.code_set",
        /// A client's step-up or user verification policy changed.
        ClientPolicy => "client.policy",
        /// A security key (WebAuthn credential) registered for a user.
        SecurityKeyAdded => "security_key.added",
        /// A security key removed (by its user or an operator).
        SecurityKeyRemoved => "security_key.removed",
        /// The server's token signing key rotated (the new `kid` in `target`).
        SigningKeyRotated => "signing_key.rotated",
        /// A request refused by a fatigue limit (a per-minute rate or a
        /// pending cap): the first refusal under one limit in a minute, per
        /// what the limit counts (client, user, or both);
        /// `data.refused_before` counts the refusals in between that were
        /// not recorded one by one.
        FatigueRefused => "fatigue.refused",
        /// A refresh token presented again after it was rotated: its whole
        /// family and the grant's access tokens revoked (`target`: the
        /// family, i.e. the request id).
        RefreshTokenReused => "refresh_token.reused",
    } extension
}

/// One audit log entry. `hash` chains it to the one before: base64url of
/// SHA-256 of the JCS of `{seq, at, actor, action, target, sub, data,
/// prev}` (`prev`: the previous entry's hash, `""` for the first), members
/// absent when `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, no gaps.
    pub seq: u64,
    /// When, unix seconds.
    pub at: u64,
    /// Who: `client:<id>`, `device:<id>`, `operator`, `server`.
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// On what: a request, token, client or device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The user concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Details (a JSON object).
    pub data: Value,
    /// The chain hash.
    pub hash: String,
}

impl AuditEntry {
    /// The hashed form: the entry without `hash`, with `prev`.
    #[must_use]
    pub fn chained(&self, prev: &str) -> Value {
        let mut v = serde_json::json!({
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action.as_str(),
            "data": self.data,
            "prev": prev,
        });
        if let Some(map) = v.as_object_mut() {
            if let Some(t) = &self.target {
                map.insert("target".into(), Value::String(t.clone()));
            }
            if let Some(s) = &self.sub {
                map.insert("sub".into(), Value::String(s.clone()));
            }
        }
        v
    }

    /// The hash this entry must carry after `prev`.
    ///
    /// # Errors
    /// `data` holds a value JCS cannot represent (a non-finite number).
    pub fn chain_hash(&self, prev: &str) -> Result<String, crate::jcs::JcsError> {
        let bytes = crate::jcs::canonicalize(&self.chained(prev))?;
        Ok(crate::jcs::sha256_b64url(&bytes))
    }
}

/// An entry's hashed form canonicalized ahead of its append, without the
/// two members only the append knows (`prev` and `seq`, read from the last
/// entry while the database's write turn is held): the append then hashes
/// three byte strings instead of canonicalizing the entry in the turn that
/// serializes every write. [`Self::chain_hash`] equals
/// [`AuditEntry::chain_hash`] for the same entry.
#[derive(Debug, Clone)]
pub struct PreparedHash {
    /// JCS bytes up to and including `"prev":`.
    head: Vec<u8>,
    /// JCS bytes after the `seq` value (`,"sub":…,"target":…}`).
    tail: Vec<u8>,
}

/// The largest integer JCS writes as its decimal digits (2^53; above it,
/// as the nearest double).
const JCS_EXACT_INTEGER: u64 = 1 << 53;

/// `n` as JCS writes it.
fn jcs_u64(n: u64) -> Result<Vec<u8>, crate::jcs::JcsError> {
    if n <= JCS_EXACT_INTEGER {
        Ok(n.to_string().into_bytes())
    } else {
        crate::jcs::canonicalize(&Value::from(n))
    }
}

/// `s` as JCS writes a string: serde_json escapes exactly what JCS does
/// (`"`, `\` and U+0000 to U+001F, the short forms `\b \t \n \f \r`,
/// others as `\u00xx` in lower-case hex) and nothing else.
fn jcs_str(out: &mut Vec<u8>, s: &str) -> Result<(), crate::jcs::JcsError> {
    serde_json::to_writer(&mut *out, s).map_err(|e| crate::jcs::JcsError::Canonicalize(e.to_string()))
}

impl PreparedHash {
    /// Canonicalizes `entry` (its `seq` and `hash` are ignored). JCS sorts
    /// members by name: `action`, `actor`, `at`, `data`, `prev`, `seq`,
    /// `sub`, `target`; only `data` needs the canonicalizer, the rest is
    /// written here (the test holds it to [`AuditEntry::chain_hash`]).
    ///
    /// # Errors
    /// `data` holds a value JCS cannot represent (a non-finite number).
    pub fn new(entry: &AuditEntry) -> Result<Self, crate::jcs::JcsError> {
        let data = crate::jcs::canonicalize(&entry.data)?;
        let mut head = Vec::with_capacity(96 + entry.actor.len() + data.len());
        head.extend_from_slice(br#"{"action":"#);
        jcs_str(&mut head, entry.action.as_str())?;
        head.extend_from_slice(br#","actor":"#);
        jcs_str(&mut head, &entry.actor)?;
        head.extend_from_slice(br#","at":"#);
        head.extend_from_slice(&jcs_u64(entry.at)?);
        head.extend_from_slice(br#","data":"#);
        head.extend_from_slice(&data);
        head.extend_from_slice(br#","prev":"#);
        let mut tail = Vec::new();
        if let Some(sub) = &entry.sub {
            tail.extend_from_slice(br#","sub":"#);
            jcs_str(&mut tail, sub)?;
        }
        if let Some(target) = &entry.target {
            tail.extend_from_slice(br#","target":"#);
            jcs_str(&mut tail, target)?;
        }
        tail.push(b'}');
        Ok(Self { head, tail })
    }

    /// The hash the entry carries at `seq`, after `prev`.
    ///
    /// # Errors
    /// Never for a `prev` made by this chain; JCS's errors otherwise.
    pub fn chain_hash(&self, seq: u64, prev: &str) -> Result<String, crate::jcs::JcsError> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut middle = Vec::with_capacity(prev.len() + 32);
        jcs_str(&mut middle, prev)?;
        middle.extend_from_slice(br#","seq":"#);
        middle.extend_from_slice(&jcs_u64(seq)?);
        ctx.update(&self.head);
        ctx.update(&middle);
        ctx.update(&self.tail);
        Ok(base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, ctx.finish()))
    }
}

/// The signed head of an audit export: the JWS payload (`typ`
/// [`crate::jws::JwtType::AuditHead`], signed with one of the server's
/// published ES256 keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    /// The issuer.
    pub iss: String,
    /// Exported, unix seconds.
    pub iat: u64,
    /// The last entry's `seq` (0 for an empty log).
    pub seq: u64,
    /// The last entry's hash (`""` for an empty log).
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    // The prepared hash is the entry's chain hash for every shape of entry:
    // with and without `target` and `sub`, `data` holding members named
    // like the placeholder (even its exact bytes), escapes, non-ASCII text
    // and numbers JCS writes its own way, at the first and a large `seq`.
    #[test]
    fn a_prepared_hash_is_the_entrys_chain_hash() {
        let datas = [
            serde_json::json!({}),
            serde_json::json!({"types": ["urn:countersign:details:v1:stock_trade"], "risk": "high"}),
            serde_json::json!({"prev": "", "seq": 0, "z": {"prev": "", "seq": 0}}),
            serde_json::json!({"q": "\"prev\":\"\",\"seq\":0", "n": 1e21, "f": 0.1, "neg": -0.0}),
            serde_json::json!({"€": "\u{202E}ab\n", "\u{1F600}": [1, 2.5, null, true]}),
        ];
        let mut n = 0;
        for data in datas {
            for target in [None, Some("req_1"), Some("\"prev\":\"\",\"seq\":0")] {
                for sub in
                    [None, Some("user-1"), Some("ü\"x\\"), Some("\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}\u{2028}/")]
                {
                    for (seq, prev) in [
                        (1, ""),
                        (2, "hq4l1Uj1Bwgk3o4D9ZfWhKXlIkRwTCXT3mwkLFLQZYc"),
                        ((1 << 53) + 1, "x\"y"),
                        (u64::MAX, "\u{1}"),
                    ] {
                        let entry = AuditEntry {
                            seq,
                            at: 1_700_000_000,
                            actor: "client:agent".into(),
                            action: AuditAction::RequestCreated,
                            target: target.map(str::to_owned),
                            sub: sub.map(str::to_owned),
                            data: data.clone(),
                            hash: String::new(),
                        };
                        let prepared = PreparedHash::new(&entry).unwrap();
                        assert_eq!(
                            prepared.chain_hash(seq, prev).unwrap(),
                            entry.chain_hash(prev).unwrap(),
                            "{entry:?} after {prev:?}"
                        );
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, 5 * 3 * 4 * 4);
    }

    #[test]
    fn every_action_and_status_round_trips() {
        for a in AuditAction::REGISTERED {
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(&serde_json::from_str::<AuditAction>(&json).unwrap(), a);
            assert_eq!(AuditAction::from(a.as_str()), *a);
        }
        for s in GrantStatus::REGISTERED {
            assert_eq!(&serde_json::from_str::<GrantStatus>(&serde_json::to_string(s).unwrap()).unwrap(), s);
        }
        assert_eq!(AuditAction::from("later.action"), AuditAction::Extension("later.action".into()));
    }

    // A later server's members are ignored, not refused (§1): an older
    // device still reads each list.
    #[test]
    fn a_member_this_version_does_not_know_is_ignored() {
        let grant: Grant = serde_json::from_value(serde_json::json!({
            "id": "jti_1", "request_id": "req_1", "sub": "u_1", "client_id": "c_1", "scope": ["openid"],
            "authorization_details": [], "issued_at": 1, "expires_at": 2, "status": "active",
            "refreshable_until": 3, "later_member": {"x": 1},
        }))
        .unwrap();
        assert_eq!(grant.refreshable_until, Some(3));
        let page: Page<Value> = serde_json::from_value(serde_json::json!({"items": [], "later_member": true})).unwrap();
        assert!(page.items.is_empty());
        let entry = serde_json::json!({"seq": 1, "at": 1, "actor": "operator", "action": "token.revoked",
            "data": {}, "hash": "h", "later_member": 1});
        assert!(serde_json::from_value::<AuditEntry>(entry).is_ok());
    }

    // The chain hash covers every member and the previous hash: changing
    // any of them changes it.
    #[test]
    fn the_chain_hash_covers_every_member_and_the_previous_hash() {
        let entry = AuditEntry {
            seq: 7,
            at: 1_767_225_600,
            actor: "device:dev_1".into(),
            action: AuditAction::TokenRevoked,
            target: Some("jti_1".into()),
            sub: Some("u_1".into()),
            data: serde_json::json!({"reason": "admin"}),
            hash: String::new(),
        };
        let base = entry.chain_hash("prev").unwrap();
        assert_eq!(base, entry.chain_hash("prev").unwrap());
        let mut changed = Vec::new();
        changed.push(entry.chain_hash("other").unwrap());
        changed.push(AuditEntry { seq: 8, ..entry.clone() }.chain_hash("prev").unwrap());
        changed.push(AuditEntry { at: 1, ..entry.clone() }.chain_hash("prev").unwrap());
        changed.push(AuditEntry { actor: "operator".into(), ..entry.clone() }.chain_hash("prev").unwrap());
        changed.push(AuditEntry { action: AuditAction::TokenIssued, ..entry.clone() }.chain_hash("prev").unwrap());
        changed.push(AuditEntry { target: None, ..entry.clone() }.chain_hash("prev").unwrap());
        changed.push(AuditEntry { sub: Some("u_2".into()), ..entry.clone() }.chain_hash("prev").unwrap());
        changed.push(AuditEntry { data: serde_json::json!({}), ..entry.clone() }.chain_hash("prev").unwrap());
        for (i, h) in changed.iter().enumerate() {
            assert_ne!(h, &base, "change {i} kept the hash");
        }
    }
}
