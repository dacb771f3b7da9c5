//! The CIBA Core §7.3 acknowledgement of a backchannel authentication
//! request.

use serde::{Deserialize, Serialize};

use crate::secret::AuthReqId;

/// CIBA Core §7.3 successful acknowledgement (HTTP 200, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackchannelAuthenticationResponse {
    /// REQUIRED. ≥128 bits, 160 recommended (see
    /// [`crate::secret::AUTH_REQ_ID_BYTES`]).
    pub auth_req_id: AuthReqId,
    /// REQUIRED. Seconds until `auth_req_id` expires.
    pub expires_in: u64,
    /// OPTIONAL, poll and ping only: minimum seconds between token requests
    /// (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
}

/// The CIBA Core §7.3 default polling interval, in seconds.
pub const DEFAULT_INTERVAL: u64 = 5;
