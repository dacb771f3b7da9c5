//! An approval request as the approver sees it, and the request endpoints.

use super::ids::{Nonce, RequestId};
use super::issuer::Issuer;
use super::registered::registered_enum;
use super::statement::Decision;
use crate::ciba::Audience;
use crate::rar::AuthorizationDetails;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

registered_enum! {
    /// How risky the server judges a request. An approver that meets an
    /// `Extension` value treats it as [`Risk::Critical`].
    pub enum Risk {
        /// Low.
        Low => "low",
        /// Medium.
        Medium => "medium",
        /// High.
        High => "high",
        /// Critical.
        Critical => "critical",
    } extension
}

impl Risk {
    /// 0 low, 1 medium, 2 high, 3 critical; an unknown level counts as
    /// critical. What "this risk or above" compares.
    #[must_use]
    pub fn rank(&self) -> u8 {
        match self {
            Risk::Low => 0,
            Risk::Medium => 1,
            Risk::High => 2,
            Risk::Critical | Risk::Extension(_) => 3,
        }
    }
}

registered_enum! {
    /// A step-up the decision needs (`requires`). An approver that meets an
    /// `Extension` value cannot satisfy it and MUST NOT offer "approve".
    pub enum Requirement {
        /// The approver verifies the user locally (OS prompt) before signing.
        UserVerification => "user_verification",
        /// The decision carries a WebAuthn assertion whose challenge is the
        /// statement hash.
        Webauthn => "webauthn",
    } extension
}

registered_enum! {
    /// Where a request stands (`status`).
    pub enum RequestStatus {
        /// Waiting for a decision.
        Pending => "pending",
        /// Approved.
        Approved => "approved",
        /// Denied.
        Denied => "denied",
        /// Expired before a decision.
        Expired => "expired",
        /// Cancelled (by the agent or an admin) before a decision.
        Cancelled => "cancelled",
    } extension
}

/// The agent asking (`client`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// OAuth `client_id`.
    pub client_id: String,
    /// Registered `client_name` (agent-supplied text: untrusted).
    pub client_name: String,
    /// Registered `logo_uri`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `true` when an admin has verified this client.
    pub verified: bool,
}

/// The user asked (`user`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestUser {
    /// Subject identifier.
    pub sub: String,
    /// Display name.
    pub name: String,
}

/// Where the request came from, as far as the server can tell (`context`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    /// IP address of the agent's call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::IpAddr>,
    /// `User-Agent` of the agent's call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Coarse location derived by the server, e.g. "Paris, FR".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// An approval request as the approver receives it (SSE `request` event,
/// `GET {device}/requests`, `GET {device}/requests/{id}`).
///
/// Server-to-approver messages ignore unknown members (a newer server may
/// add some); nothing outside the approval statement is signed.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverRequest {
    /// Request id.
    pub id: RequestId,
    /// The issuer the request belongs to.
    pub issuer: Issuer,
    /// The agent.
    pub client: ClientInfo,
    /// The user.
    pub user: RequestUser,
    /// CIBA `binding_message`, shown on both sides.
    pub binding_message: String,
    /// Requested scopes, in request order.
    pub scope: Vec<String>,
    /// The description of each requested scope the server's scope registry
    /// knows, as it was when the request was made (operator text: shown as
    /// text, checked like any other). A requested scope without an entry is
    /// unknown to the server and shown flagged. Part of the statement.
    #[serde(default)]
    pub scope_descriptions: BTreeMap<String, String>,
    /// The API the access token is for (its `aud`): the agent's `audience`,
    /// else the server's default; absent when the token is for the issuer
    /// itself. Part of the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    /// RFC 9396 `authorization_details`, members in the order the agent
    /// sent; `[]` for a scope-only request.
    pub authorization_details: AuthorizationDetails,
    /// CIBA `acr_values` (space-separated, in order of preference), if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
    /// Request context.
    pub context: RequestContext,
    /// Risk as judged by the server.
    pub risk: Risk,
    /// Step-ups the decision needs.
    pub requires: Vec<Requirement>,
    /// Created, unix seconds.
    pub created_at: u64,
    /// Decisions are refused from this time on, unix seconds.
    pub expires_at: u64,
    /// At least 128 random bits from the server; part of the statement.
    pub nonce: Nonce,
}

impl ApproverRequest {
    /// `true` if every requirement is one this version knows.
    #[must_use]
    pub fn requirements_understood(&self) -> bool {
        self.requires.iter().all(|r| !r.is_extension())
    }

    /// `true` for a scope-only request (no `authorization_details`): the
    /// approver shows the access request (scopes and their descriptions).
    #[must_use]
    pub fn is_scope_only(&self) -> bool {
        self.authorization_details.is_empty()
    }

    /// The description of `scope` from the server's registry, `None` for a
    /// scope the server does not know (shown flagged).
    #[must_use]
    pub fn scope_description(&self, scope: &str) -> Option<&str> {
        self.scope_descriptions.get(scope).map(String::as_str)
    }

    /// The risk to act on: an unknown level counts as critical.
    #[must_use]
    pub fn effective_risk(&self) -> Risk {
        if self.risk.is_extension() {
            Risk::Critical
        } else {
            self.risk.clone()
        }
    }

    /// `true` once decisions are refused (`now ≥ expires_at`).
    #[must_use]
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

/// `GET {device}/requests?status=pending[&limit=N][&cursor=C]` body: one
/// page of the user's pending requests, oldest first. `next_cursor`, when
/// present, fetches the next page (`cursor=<next_cursor>`); its absence
/// means this is the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestList {
    /// The requests of this page.
    pub requests: Vec<ApproverRequest>,
    /// The cursor of the next page (opaque), if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET {device}/requests/{id}` body: the request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestState {
    /// The request.
    pub request: ApproverRequest,
    /// Its status.
    pub status: RequestStatus,
    /// The decision, once decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// When it was decided, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<u64>,
}
