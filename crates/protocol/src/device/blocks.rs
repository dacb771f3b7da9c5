//! The user's block of unverified agents (`docs/protocol.md` §5.4).
//!
//! When a user reports requests of unverified agents as "not me" often
//! enough, the server refuses every unverified agent for that user until the
//! block is lifted, by an operator or by the user from an approver.

use serde::{Deserialize, Serialize};

/// `GET {device}/unverified-block` body, also the answer of
/// `POST {device}/unverified-block/lift`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedBlock {
    /// Whether unverified agents are refused for this user.
    pub blocked: bool,
    /// Since when, unix seconds (present when `blocked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}
