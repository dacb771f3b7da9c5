//! The event stream shells subscribe to ([`crate::Approver::subscribe`]).

use crate::store::{Delivery, InboxItem};
use countersign_protocol::device::{AdminNotice, Decision, GrantRevoked, SchemaHash};
use serde::Serialize;

/// How an account is connected.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Opening the event stream.
    Connecting,
    /// Receiving by push (the event stream is open).
    Push,
    /// Receiving by polling (push off or unavailable); the last poll worked.
    Polling,
    /// Not connected; retrying after `retry_in_ms`.
    Disconnected {
        /// Why.
        error: String,
        /// Delay before the next attempt.
        retry_in_ms: u64,
    },
}

/// Something shells show.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ApproverEvent {
    /// A request was received and stored.
    NewRequest {
        /// The stored request.
        item: Box<InboxItem>,
    },
    /// A request no longer awaits a decision (cancelled, expired, decided
    /// elsewhere).
    Withdrawn {
        /// The account.
        account_id: String,
        /// The request.
        request_id: String,
        /// Why.
        reason: String,
    },
    /// A decision was recorded here, or its delivery ended.
    Decided {
        /// The account.
        account_id: String,
        /// The request.
        request_id: String,
        /// The decision.
        decision: Decision,
        /// Where it stands.
        delivery: Delivery,
        /// Details (server error, expiry).
        detail: Option<String>,
    },
    /// Tokens issued for an approved request were revoked.
    GrantRevoked {
        /// The account.
        account_id: String,
        /// The revocation.
        grant: GrantRevoked,
    },
    /// A notice to an administrator (sent by the server only to accounts
    /// whose user has the `admin` role): a `not_me` denial, a client
    /// blocked. Its strings are untrusted text.
    AdminNotice {
        /// The account.
        account_id: String,
        /// The notice.
        notice: AdminNotice,
    },
    /// A server changed (or withdrew) the display schema of a type: requests
    /// of that type render differently from now on. Logged as "display schema
    /// for <type> changed".
    SchemaChanged {
        /// The server.
        issuer: String,
        /// The type.
        detail_type: String,
        /// The hash cached until now.
        previous: SchemaHash,
        /// The new hash (`None`: no longer published).
        current: Option<SchemaHash>,
    },
    /// A decision was refused because the server's display schemas changed
    /// (`display_schema_mismatch`): the request is pending again and must be
    /// shown again before it is decided.
    ReviewRequired {
        /// The account.
        account_id: String,
        /// The request.
        request_id: String,
        /// Why.
        reason: String,
    },
    /// The connection state of an account changed.
    Connection {
        /// The account.
        account_id: String,
        /// The new state.
        state: ConnectionState,
    },
}
