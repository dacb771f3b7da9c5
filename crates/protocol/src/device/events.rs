//! Server-Sent Events of `GET {device}/events`.

use super::ids::{EventId, GrantId, RequestId};
use super::registered::registered_enum;
use super::request::ApproverRequest;
use crate::jcs::{self, JcsError};
use serde::{Deserialize, Serialize};

/// SSE event name of a new request (data: [`ApproverRequest`]).
pub const EVENT_REQUEST: &str = "request";
/// SSE event name of a request no longer awaiting a decision (data: [`Withdrawn`]).
pub const EVENT_WITHDRAWN: &str = "withdrawn";
/// SSE event name of a revoked grant (data: [`GrantRevoked`]).
pub const EVENT_GRANT_REVOKED: &str = "grant_revoked";
/// SSE event name of a notice to administrators (data: [`AdminNotice`]);
/// sent only to the devices of users with the `admin` role.
pub const EVENT_ADMIN_NOTICE: &str = "admin_notice";
/// Seconds between heartbeat comments on an idle stream.
pub const HEARTBEAT_INTERVAL_SECS: u64 = 15;
/// The heartbeat: an SSE comment line and the blank line ending it.
pub const HEARTBEAT: &str = ": heartbeat\n\n";
/// Header a reconnecting client sends with the last event id it saw.
pub const LAST_EVENT_ID_HEADER: &str = "Last-Event-ID";
/// Media type of the stream.
pub const EVENT_STREAM_MEDIA_TYPE: &str = "text/event-stream";

registered_enum! {
    /// SSE event names. Approvers ignore `Extension` events (and reconcile
    /// with a poll as after every reconnect).
    pub enum EventKind {
        /// [`EVENT_REQUEST`].
        Request => "request",
        /// [`EVENT_WITHDRAWN`].
        Withdrawn => "withdrawn",
        /// [`EVENT_GRANT_REVOKED`].
        GrantRevoked => "grant_revoked",
        /// [`EVENT_ADMIN_NOTICE`].
        AdminNotice => "admin_notice",
    } extension
}

registered_enum! {
    /// Why a request was withdrawn (`reason`).
    pub enum WithdrawReason {
        /// The agent or an admin cancelled it.
        Cancelled => "cancelled",
        /// It expired without a decision.
        Expired => "expired",
        /// Another of the user's devices decided it.
        DecidedElsewhere => "decided_elsewhere",
    } extension
}

registered_enum! {
    /// Why a grant was revoked (`reason`).
    pub enum RevocationReason {
        /// The user revoked it.
        RevokedByUser => "revoked_by_user",
        /// An admin revoked it.
        RevokedByAdmin => "revoked_by_admin",
        /// The client was blocked (e.g. after repeated `not_me` denials).
        ClientBlocked => "client_blocked",
    } extension
}

/// `withdrawn` event data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawn {
    /// The request.
    pub id: RequestId,
    /// Why.
    pub reason: WithdrawReason,
}

/// `grant_revoked` event data: the tokens issued for an approved request
/// are revoked.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRevoked {
    /// The grant.
    pub grant_id: GrantId,
    /// The request whose approval created it.
    pub request_id: RequestId,
    /// The agent that held it.
    pub client_id: String,
    /// Why.
    pub reason: RevocationReason,
    /// When, unix seconds.
    pub revoked_at: u64,
}

registered_enum! {
    /// What an [`AdminNotice`] tells administrators.
    pub enum AdminNoticeKind {
        /// A user denied a request as "This wasn't me" (`not_me`).
        NotMe => "not_me",
        /// A client was blocked for a user (`sub`) or for everyone (no
        /// `sub`): by an administrator, or by fatigue control after the
        /// user's `not_me` denials of it (`by` is `server`).
        ClientBlocked => "client_blocked",
        /// Every unverified client was blocked for a user after their
        /// `not_me` denials.
        UnverifiedBlocked => "unverified_blocked",
    } extension
}

/// `admin_notice` event data: something an administrator should look at.
/// Every string in it comes from the server's records (client ids, user
/// ids) and is shown as untrusted text.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminNotice {
    /// What happened.
    pub notice: AdminNoticeKind,
    /// The client concerned (absent for [`AdminNoticeKind::UnverifiedBlocked`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user concerned (absent for a block of a client for everyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The request denied (for [`AdminNoticeKind::NotMe`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    /// Who did it, as the audit log names actors (`device:<id>`,
    /// `operator` or `operator:<name>`, `server`).
    pub by: String,
    /// When, unix seconds.
    pub at: u64,
}

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The data is not strict JSON.
    #[error("event data is not valid JSON: {0}")]
    Json(#[from] JcsError),
    /// The data does not fit the event.
    #[error("event {event:?} data: {message}")]
    Shape {
        /// Event name.
        event: String,
        /// What is wrong.
        message: String,
    },
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A new request.
    Request(Box<ApproverRequest>),
    /// A request is no longer pending.
    Withdrawn(Withdrawn),
    /// A grant was revoked.
    GrantRevoked(GrantRevoked),
    /// A notice to administrators.
    AdminNotice(AdminNotice),
    /// An event this version does not know (ignore it).
    Unknown {
        /// Its name.
        event: String,
        /// Its data, unparsed.
        data: String,
    },
}

impl DeviceEvent {
    /// The event name.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            DeviceEvent::Request(_) => EventKind::Request,
            DeviceEvent::Withdrawn(_) => EventKind::Withdrawn,
            DeviceEvent::GrantRevoked(_) => EventKind::GrantRevoked,
            DeviceEvent::AdminNotice(_) => EventKind::AdminNotice,
            DeviceEvent::Unknown { event, .. } => EventKind::from(event.as_str()),
        }
    }

    /// Reads an event from its SSE `event` name and `data` (strict JSON).
    ///
    /// # Errors
    /// [`EventError`] for a known event whose data does not fit.
    pub fn parse(event: &str, data: &str) -> Result<Self, EventError> {
        fn typed<T: serde::de::DeserializeOwned>(event: &str, data: &str) -> Result<T, EventError> {
            let value = jcs::parse_strict(data)?;
            serde_json::from_value(value)
                .map_err(|e| EventError::Shape { event: event.to_owned(), message: e.to_string() })
        }
        Ok(match EventKind::from(event) {
            EventKind::Request => DeviceEvent::Request(Box::new(typed(event, data)?)),
            EventKind::Withdrawn => DeviceEvent::Withdrawn(typed(event, data)?),
            EventKind::GrantRevoked => DeviceEvent::GrantRevoked(typed(event, data)?),
            EventKind::AdminNotice => DeviceEvent::AdminNotice(typed(event, data)?),
            EventKind::Extension(name) => DeviceEvent::Unknown { event: name, data: data.to_owned() },
        })
    }

    /// The `data` JSON (one line: compact JSON never contains a raw newline).
    ///
    /// # Errors
    /// Serialization failure.
    pub fn data_json(&self) -> Result<String, serde_json::Error> {
        match self {
            DeviceEvent::Request(r) => serde_json::to_string(r),
            DeviceEvent::Withdrawn(w) => serde_json::to_string(w),
            DeviceEvent::GrantRevoked(g) => serde_json::to_string(g),
            DeviceEvent::AdminNotice(n) => serde_json::to_string(n),
            DeviceEvent::Unknown { data, .. } => Ok(data.replace(['\r', '\n'], " ")),
        }
    }

    /// The event framed for the stream: `id:`, `event:`, `data:` lines and a
    /// blank line.
    ///
    /// # Errors
    /// Serialization failure.
    pub fn to_sse(&self, id: &EventId) -> Result<String, serde_json::Error> {
        Ok(format!("id: {id}\nevent: {}\ndata: {}\n\n", self.kind(), self.data_json()?))
    }
}
