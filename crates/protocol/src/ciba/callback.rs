//! Client notification bodies: ping (CIBA Core §10.2) and push (§10.3.1,
//! errors §12).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::TokenResponse;
use crate::secret::AuthReqId;

/// CIBA Core §10.2 ping callback body: only `auth_req_id`. POSTed with
/// `Authorization: Bearer <client_notification_token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingCallback {
    /// The request that completed.
    pub auth_req_id: AuthReqId,
}

/// CIBA Core §10.3.1 push success body: the token response plus
/// `auth_req_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSuccessCallback {
    /// The request that completed.
    pub auth_req_id: AuthReqId,
    /// The tokens.
    #[serde(flatten)]
    pub token: TokenResponse,
}

/// What a push-mode client notification endpoint receives: tokens (§10.3.1)
/// or an error (§12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushCallback {
    /// §10.3.1.
    Success(Box<PushSuccessCallback>),
    /// §12.
    Error(crate::error::PushErrorResponse),
}

impl PushCallback {
    /// Parses a push body: an `error` member makes it a §12 error payload.
    ///
    /// # Errors
    /// The serde_json error of the chosen shape.
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        let probe: Map<String, Value> = serde_json::from_str(body)?;
        if probe.contains_key("error") {
            serde_json::from_str(body).map(PushCallback::Error)
        } else {
            serde_json::from_str(body).map(|s| PushCallback::Success(Box::new(s)))
        }
    }

    /// The request this callback is about.
    #[must_use]
    pub fn auth_req_id(&self) -> &AuthReqId {
        match self {
            PushCallback::Success(s) => &s.auth_req_id,
            PushCallback::Error(e) => e.auth_req_id(),
        }
    }
}

impl Serialize for PushCallback {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PushCallback::Success(v) => v.serialize(s),
            PushCallback::Error(v) => v.serialize(s),
        }
    }
}
