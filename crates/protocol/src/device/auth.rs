//! Device authentication: a DPoP-shaped proof (RFC 9449 §4) signed by the
//! device key on every device-channel call.

use super::claims::{check_audience, check_signer, check_times, device_jwt_error};
use super::ids::{DeviceId, Jti};
use super::issuer::Issuer;
use super::registered::registered_enum;
use crate::jws::{self, DeviceKeyPair, JwsError, JwtType, PublicJwk, SignHeader};
use serde::{Deserialize, Serialize};

/// `Authorization` scheme carrying the proof: `Authorization: Device <jws>`.
pub const AUTHORIZATION_SCHEME: &str = "Device";
/// Longest accepted `exp − iat`, seconds.
pub const MAX_PROOF_LIFETIME_SECS: u64 = 60;
/// How far in the future `iat` may be (clock skew), seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 30;

registered_enum! {
    /// HTTP method (`htm`), RFC 9110 §9.
    pub enum HttpMethod {
        /// GET.
        Get => "GET",
        /// POST.
        Post => "POST",
        /// PUT.
        Put => "PUT",
        /// PATCH.
        Patch => "PATCH",
        /// DELETE.
        Delete => "DELETE",
        /// HEAD.
        Head => "HEAD",
        /// OPTIONS.
        Options => "OPTIONS",
    } extension
}

device_jwt_error! {
    /// Why a device proof was refused.
    pub enum DeviceAuthError("proof JWS", "proof", max lifetime MAX_PROOF_LIFETIME_SECS) {
        /// `htm` is not the request's method.
        #[error("htm {found:?} is not the request method {expected:?}")]
        Method {
            /// The request's method.
            expected: String,
            /// `htm` found.
            found: String,
        },
        /// `htu` has a query or fragment, or is not an http(s) URL.
        #[error("htu must be an http(s) URL without query or fragment")]
        HtuForm,
        /// `htu` is not the request's URL.
        #[error("htu {found:?} is not the request URL {expected:?}")]
        Htu {
            /// The request's URL without query and fragment.
            expected: String,
            /// `htu` found.
            found: String,
        },
    }
}

/// Normalizes an `htu` or a request URL for comparison: parsed as a URL
/// (lowercase scheme and host, no default port), query and fragment dropped.
///
/// # Errors
/// [`DeviceAuthError::HtuForm`] if it is not an http(s) URL.
pub fn normalize_htu(url: &str) -> Result<String, DeviceAuthError> {
    let mut u = url::Url::parse(url).map_err(|_| DeviceAuthError::HtuForm)?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(DeviceAuthError::HtuForm);
    }
    u.set_query(None);
    u.set_fragment(None);
    Ok(u.into())
}

/// Claims of a device proof (`typ: device-auth+jwt`, `kid` = device id).
/// Unknown claims are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceAuthClaims {
    /// The device id.
    pub iss: DeviceId,
    /// The issuer the call goes to.
    pub aud: Issuer,
    /// HTTP method of the call.
    pub htm: HttpMethod,
    /// URL of the call without query and fragment.
    pub htu: String,
    /// Issued at, unix seconds.
    pub iat: u64,
    /// Expiry, unix seconds (at most 60 s after `iat`).
    pub exp: u64,
    /// Unique id; the server remembers it until `exp` and refuses a replay.
    pub jti: Jti,
}

impl DeviceAuthClaims {
    /// Claims for one call made `now`, valid [`MAX_PROOF_LIFETIME_SECS`],
    /// with a random `jti`. `request_url` may carry a query: it is dropped.
    ///
    /// # Errors
    /// [`DeviceAuthError::HtuForm`], or [`DeviceAuthError::Jws`] if the RNG fails.
    pub fn new(
        device_id: DeviceId,
        issuer: Issuer,
        htm: HttpMethod,
        request_url: &str,
        now: u64,
    ) -> Result<Self, DeviceAuthError> {
        let htu = normalize_htu(request_url)?;
        let jti = Jti::generate().map_err(|_| DeviceAuthError::Jws(JwsError::Signing))?;
        Ok(Self {
            iss: device_id,
            aud: issuer,
            htm,
            htu,
            iat: now,
            exp: now.saturating_add(MAX_PROOF_LIFETIME_SECS),
            jti,
        })
    }

    /// Checks audience, method, URL and times (pure; the signature, `kid`
    /// and `iss` are checked by [`verify_device_auth`], the `jti` replay
    /// cache is the server's).
    ///
    /// # Errors
    /// One [`DeviceAuthError`] per rule.
    pub fn validate(
        &self,
        now: u64,
        expected_aud: &Issuer,
        htm: &HttpMethod,
        htu: &str,
    ) -> Result<(), DeviceAuthError> {
        check_audience(&self.aud, expected_aud)?;
        if &self.htm != htm {
            return Err(DeviceAuthError::Method {
                expected: htm.as_str().to_owned(),
                found: self.htm.as_str().to_owned(),
            });
        }
        if self.htu.contains(['?', '#']) {
            return Err(DeviceAuthError::HtuForm);
        }
        let found = normalize_htu(&self.htu)?;
        let expected = normalize_htu(htu)?;
        if found != expected {
            return Err(DeviceAuthError::Htu { expected, found });
        }
        check_times(self.iat, self.exp, now, MAX_PROOF_LIFETIME_SECS)?;
        Ok(())
    }

    /// Signs the proof with the device key: header
    /// `{"alg":"ES256","typ":"device-auth+jwt","kid":<iss>}`.
    ///
    /// # Errors
    /// [`JwsError`].
    pub fn sign(&self, key: &DeviceKeyPair) -> Result<String, JwsError> {
        key.sign(&SignHeader { typ: Some(JwtType::DeviceAuth), kid: Some(self.iss.as_str().to_owned()) }, self)
    }
}

/// The server side of a device call: verifies the proof `jws` with the
/// stored key of `device_id`, checks `kid` = `iss` = `device_id`, then
/// [`DeviceAuthClaims::validate`]. The caller still checks the device is not
/// revoked and records `jti` until `exp`.
///
/// # Errors
/// [`DeviceAuthError`].
pub fn verify_device_auth(
    jws: &str,
    key: &PublicJwk,
    device_id: &DeviceId,
    now: u64,
    expected_aud: &Issuer,
    htm: &HttpMethod,
    htu: &str,
) -> Result<DeviceAuthClaims, DeviceAuthError> {
    let (header, claims): (_, DeviceAuthClaims) = jws::verify_claims(jws, key, Some(JwtType::DeviceAuth.as_str()))?;
    check_signer(header.kid.as_deref(), &claims.iss, device_id)?;
    claims.validate(now, expected_aud, htm, htu)?;
    Ok(claims)
}
