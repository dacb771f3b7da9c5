//! Secrets as newtypes.
//!
//! Every value here is a bearer credential or something that must not leak
//! into logs: `Debug` prints `TypeName(<redacted>)`, there is no `Display`,
//! the bytes are zeroized on drop (`zeroize`), and equality is constant time
//! (`subtle`). On the wire they are plain JSON strings (`serde(transparent)`).
//!
//! Reading the value takes an explicit [`ClientSecret::secret`] call (the same
//! method exists on every type), so every read is visible in review.
//!
//! [`generate_url_safe`] draws random tokens from the operating system
//! (`ring::rand::SystemRandom`) for `auth_req_id` (CIBA Core §7.3: at least
//! 128 bits, 160 recommended), enrollment tickets (256 bits) and nonces.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize as _, Zeroizing};

pub use ring::error::Unspecified;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// `Debug` is redacted, there is no `Display`, the value is zeroized on
        /// drop, and `==` is constant time ([`Self::ct_eq`]).
        #[derive(Clone, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value received or generated elsewhere.
            #[must_use]
            pub fn new(value: String) -> Self {
                Self(value)
            }

            /// The secret value. Every call is a deliberate read: keep it out
            /// of logs, errors and `format!`.
            #[must_use]
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// Constant-time comparison of the values. The time depends only
            /// on the lengths (which are not secret for generated tokens).
            #[must_use]
            pub fn ct_eq(&self, other: &Self) -> bool {
                bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.ct_eq(other)
            }
        }

        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }
    };
}

secret_type!(
    /// OAuth client secret (RFC 6749 §2.3.1; issued by RFC 7591 §3.2.1).
    ClientSecret
);
secret_type!(
    /// CIBA `auth_req_id` (CIBA Core §7.3): a bearer handle to redeem tokens.
    AuthReqId
);
secret_type!(
    /// OAuth access token (RFC 6749 §1.4, RFC 6750).
    AccessToken
);
secret_type!(
    /// OAuth refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_type!(
    /// CIBA `client_notification_token` (CIBA Core §7.1): the bearer token the
    /// OP presents to the client notification endpoint (§10.2, §10.3).
    ClientNotificationToken
);
secret_type!(
    /// One-time device enrollment ticket (DESIGN §4, 256 random bits).
    EnrollmentTicket
);
secret_type!(
    /// RFC 7591 §3 initial access token for the registration endpoint.
    InitialAccessToken
);
secret_type!(
    /// CIBA `user_code` (CIBA Core §7.1, §7.1.2): a secret known to the user.
    UserCode
);

/// Smallest accepted input of [`generate_url_safe`]: 16 bytes = 128 bits, the
/// CIBA Core §7.3 minimum for `auth_req_id` and the WebAuthn §13.4.3
/// recommendation for challenges.
pub const MIN_RANDOM_BYTES: usize = 16;

/// Bytes for an `auth_req_id`: 160 bits, the CIBA Core §7.3 recommendation.
pub const AUTH_REQ_ID_BYTES: usize = 20;

/// Bytes for an enrollment ticket or a client secret: 256 bits (DESIGN §3, §4).
pub const TICKET_BYTES: usize = 32;

/// `bytes` random bytes from the operating system RNG, base64url without
/// padding (RFC 4648 §5). The alphabet `A-Z a-z 0-9 - _` fits the CIBA
/// Core §7.3 `auth_req_id` charset and RFC 6750 §2.1 `b64token`.
///
/// # Errors
/// [`Unspecified`] if `bytes < MIN_RANDOM_BYTES` or the system RNG fails.
pub fn generate_url_safe(bytes: usize) -> Result<String, Unspecified> {
    if bytes < MIN_RANDOM_BYTES {
        return Err(Unspecified);
    }
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    SystemRandom::new().fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(&*buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = ClientSecret::new("hunter2-very-secret".into());
        let d = format!("{s:?}");
        assert_eq!(d, "ClientSecret(<redacted>)");
        assert!(!d.contains("hunter2"));
        let nested = format!("{:?}", Some(UserCode::new("1234".into())));
        assert_eq!(nested, "Some(UserCode(<redacted>))");
    }

    #[test]
    fn ct_eq_and_eq() {
        let a = AuthReqId::new("abc".into());
        assert!(a.ct_eq(&AuthReqId::new("abc".into())));
        assert!(!a.ct_eq(&AuthReqId::new("abd".into())));
        assert!(!a.ct_eq(&AuthReqId::new("abcd".into())));
        assert!(!a.ct_eq(&AuthReqId::new(String::new())));
        assert_eq!(a, a.clone());
        assert_ne!(a, AuthReqId::new("ABC".into()));
    }

    #[test]
    fn serde_is_a_plain_string() {
        let t = AccessToken::new("tok.en-_".into());
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, r#""tok.en-_""#);
        let back: AccessToken = serde_json::from_str(&j).unwrap();
        assert_eq!(back.secret(), "tok.en-_");
        assert!(serde_json::from_str::<AccessToken>("42").is_err());
    }

    #[test]
    fn generate_lengths_and_alphabet() {
        let a = generate_url_safe(AUTH_REQ_ID_BYTES).unwrap();
        assert_eq!(a.len(), 27); // ceil(20 * 4 / 3)
        let t = generate_url_safe(TICKET_BYTES).unwrap();
        assert_eq!(t.len(), 43);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(t, generate_url_safe(TICKET_BYTES).unwrap());
        assert!(generate_url_safe(MIN_RANDOM_BYTES - 1).is_err());
        assert!(generate_url_safe(0).is_err());
    }
}
