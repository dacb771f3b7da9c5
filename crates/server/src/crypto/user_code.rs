//! CIBA `user_code`s (CIBA Core §7.1.2) are stored as HMAC-SHA-256 under a
//! key derived from the server's secret key, which is kept outside the
//! database ([`crate::crypto::secret_key`]). User codes are short and chosen by
//! people: a bare hash in a dumped database is turned back into the code by
//! trying every short string; without the key file, the HMAC is not.
//!
//! Stored form: `hmac-sha256:<base64url>`. Hashes stored by earlier versions
//! (bare SHA-256, no prefix) are still accepted, and replaced by the HMAC the
//! first time the right code is presented.

use countersign_protocol::jws::b64url_encode;
use ring::hmac;

use crate::crypto::secret_key::{Purpose, SecretKey};
use crate::error::Internal;
use crate::util;

/// The prefix of stored HMACs.
pub const PREFIX: &str = "hmac-sha256:";

/// The HMAC key of user codes. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct UserCodeKey(hmac::Key);

impl std::fmt::Debug for UserCodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCodeKey(<redacted>)")
    }
}

/// How a presented code compares with the stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The code is right.
    Match,
    /// The code is right and the stored value is a legacy bare hash: store
    /// [`UserCodeKey::seal`] of it instead.
    MatchLegacy,
    /// Wrong, or no code is set.
    NoMatch,
}

impl UserCodeKey {
    /// The user-code key of `secret`.
    #[must_use]
    pub fn new(secret: &SecretKey) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret.derive(Purpose::UserCodes).as_ref()))
    }

    /// The user-code key of the secret key in `file`, the database `db`'s
    /// ([`SecretKey::for_database`]).
    ///
    /// # Errors
    /// As [`SecretKey::for_database`].
    pub async fn for_database(db: &crate::store::Db, file: &std::path::Path, now: u64) -> Result<Self, Internal> {
        Ok(Self::new(&SecretKey::for_database(db, file, now).await?))
    }

    /// The stored form of `code`.
    #[must_use]
    pub fn seal(&self, code: &str) -> String {
        format!("{PREFIX}{}", b64url_encode(hmac::sign(&self.0, code.as_bytes()).as_ref()))
    }

    /// Compares `code` with `stored` in constant time.
    #[must_use]
    pub fn check(&self, code: &str, stored: Option<&str>) -> Check {
        match stored {
            Some(s) if s.starts_with(PREFIX) => {
                if util::ct_eq(&self.seal(code), s) {
                    Check::Match
                } else {
                    Check::NoMatch
                }
            }
            Some(s) if !s.is_empty() && util::ct_eq(&util::hash_secret(code), s) => Check::MatchLegacy,
            _ => Check::NoMatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sealed_with_the_key_and_legacy_hashes_still_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.secret-key");
        let key = UserCodeKey::new(&SecretKey::load_or_create(&path).unwrap());
        let again = UserCodeKey::new(&SecretKey::load_or_create(&path).unwrap());
        let sealed = key.seal("4711");
        assert!(sealed.starts_with(PREFIX));
        assert_eq!(again.seal("4711"), sealed, "the key persists");
        assert_ne!(sealed, format!("{PREFIX}{}", util::hash_secret("4711")), "not a bare hash");
        assert_eq!(key.check("4711", Some(&sealed)), Check::Match);
        assert_eq!(key.check("4712", Some(&sealed)), Check::NoMatch);
        assert_eq!(key.check("4711", Some(&util::hash_secret("4711"))), Check::MatchLegacy);
        assert_eq!(key.check("4712", Some(&util::hash_secret("4711"))), Check::NoMatch);
        assert_eq!(key.check("", None), Check::NoMatch);
        assert_eq!(key.check("", Some("")), Check::NoMatch);
        let other = UserCodeKey::new(&SecretKey::load_or_create(&dir.path().join("other")).unwrap());
        assert_eq!(other.check("4711", Some(&sealed)), Check::NoMatch, "another key does not open it");
        assert_eq!(format!("{key:?}"), "UserCodeKey(<redacted>)");
    }
}
