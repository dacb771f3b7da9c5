//! The registered-claims checks a device proof (§4) and a decision JWS (§8.1)
//! share: signed by the device that is its `kid` and `iss`, for this issuer,
//! with a bounded lifetime that has begun and not ended. Each caller maps
//! these findings to its own error type, keeping its own order of checks.

use super::auth::MAX_CLOCK_SKEW_SECS;
use super::ids::DeviceId;
use super::issuer::Issuer;

/// A registered claim of a device-signed JWT that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClaimsFinding {
    /// Header `kid` missing or not the device id.
    Kid,
    /// `iss` is not the device id.
    Issuer,
    /// `aud` is not this issuer.
    Audience { expected: String, found: String },
    /// `exp` not after `iat`, or more than the allowed lifetime after it.
    Lifetime,
    /// `iat` beyond the allowed clock skew in the future.
    NotYetValid,
    /// `exp` has passed.
    Expired,
}

/// `kid` and `iss` both name `device_id`.
pub(crate) fn check_signer(kid: Option<&str>, iss: &DeviceId, device_id: &DeviceId) -> Result<(), ClaimsFinding> {
    if kid != Some(device_id.as_str()) {
        return Err(ClaimsFinding::Kid);
    }
    if iss != device_id {
        return Err(ClaimsFinding::Issuer);
    }
    Ok(())
}

/// `aud` is `expected`.
pub(crate) fn check_audience(aud: &Issuer, expected: &Issuer) -> Result<(), ClaimsFinding> {
    if aud == expected {
        Ok(())
    } else {
        Err(ClaimsFinding::Audience { expected: expected.as_str().to_owned(), found: aud.as_str().to_owned() })
    }
}

/// `iat` < `exp` ≤ `iat` + `max_lifetime`, `iat` not beyond the skew ahead
/// of `now`, `exp` after `now`.
pub(crate) fn check_times(iat: u64, exp: u64, now: u64, max_lifetime: u64) -> Result<(), ClaimsFinding> {
    if exp <= iat || exp - iat > max_lifetime {
        return Err(ClaimsFinding::Lifetime);
    }
    if iat > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(ClaimsFinding::NotYetValid);
    }
    if exp <= now {
        return Err(ClaimsFinding::Expired);
    }
    Ok(())
}

/// Declares the error of a device-signed JWT: the JWS itself, the
/// registered-claims findings above (each its own variant, so callers and
/// tests name them), then the kind's own checks; and `From<ClaimsFinding>`.
/// `$jws` names the JWS in messages, `$what` the thing that expires.
macro_rules! device_jwt_error {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($jws:literal, $what:literal, max lifetime $max:ident) {
            $($rest:tt)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum $name {
            /// The JWS itself (signature, alg, typ, encoding, claims shape).
            #[error("{jws}: {0}", jws = $jws)]
            Jws(#[from] JwsError),
            /// Header `kid` missing or not the device id.
            #[error("kid must be the device id")]
            Kid,
            /// `iss` is not the device id.
            #[error("iss must be the device id")]
            Issuer,
            /// `aud` is not this issuer.
            #[error("aud {found:?} is not this issuer {expected:?}")]
            Audience {
                /// Expected issuer.
                expected: String,
                /// `aud` found.
                found: String,
            },
            /// `exp` is not after `iat`, or later than the kind's maximum
            /// lifetime after it.
            #[error("exp must be after iat and at most {max} s after it", max = $max)]
            Lifetime,
            /// `iat` is more than the allowed skew in the future.
            #[error("iat is in the future")]
            NotYetValid,
            /// `exp` has passed.
            #[error("{what} expired", what = $what)]
            Expired,
            $($rest)*
        }

        impl From<$crate::device::claims::ClaimsFinding> for $name {
            fn from(f: $crate::device::claims::ClaimsFinding) -> Self {
                use $crate::device::claims::ClaimsFinding;
                match f {
                    ClaimsFinding::Kid => Self::Kid,
                    ClaimsFinding::Issuer => Self::Issuer,
                    ClaimsFinding::Audience { expected, found } => Self::Audience { expected, found },
                    ClaimsFinding::Lifetime => Self::Lifetime,
                    ClaimsFinding::NotYetValid => Self::NotYetValid,
                    ClaimsFinding::Expired => Self::Expired,
                }
            }
        }
    };
}

pub(crate) use device_jwt_error;
