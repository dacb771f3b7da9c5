//! CIBA `user_code`s (CIBA Core §7.1.2) are stored as HMAC-SHA-256 under a
//! server key kept outside the database, in a file beside it
//! (`<database>.user-code-key`, mode 0600). User codes are short and chosen
//! by people: a bare hash in a dumped database is turned back into the code
//! by trying every short string; without the key file, the HMAC is not.
//!
//! Stored form: `hmac-sha256:<base64url>`. Hashes stored by earlier versions
//! (bare SHA-256, no prefix) are still accepted, and replaced by the HMAC the
//! first time the right code is presented.

use countersign_protocol::jws::{b64url_decode, b64url_encode};
use ring::hmac;
use std::path::{Path, PathBuf};

use crate::db::Db;
use crate::error::Internal;
use crate::util;

/// The prefix of stored HMACs.
pub const PREFIX: &str = "hmac-sha256:";
/// Bytes of the key.
const KEY_BYTES: usize = 32;

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
    /// The key file of the database at `db_path`.
    #[must_use]
    pub fn path_for(db_path: &Path) -> PathBuf {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".user-code-key");
        PathBuf::from(name)
    }

    /// Reads the key at `path`, creating it (random, mode 0600) if missing.
    ///
    /// # Errors
    /// The file cannot be read or written, or does not hold a key.
    pub fn load_or_create(path: &Path) -> Result<Self, Internal> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = b64url_decode(text.trim())
                    .ok()
                    .filter(|b| b.len() == KEY_BYTES)
                    .ok_or_else(|| Internal::new(format!("{} does not hold a user code key", path.display())))?;
                Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(Internal::new(format!("reading {}: {e}", path.display()))),
        }
    }

    fn create(path: &Path) -> Result<Self, Internal> {
        use std::io::Write as _;
        let text = countersign_protocol::secret::generate_url_safe(KEY_BYTES)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes())
                    .map_err(|e| Internal::new(format!("writing {}: {e}", path.display())))?;
                file.sync_all().map_err(|e| Internal::new(format!("writing {}: {e}", path.display())))?;
                Self::load_or_create(path)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(Internal::new(format!("creating {}: {e}", path.display()))),
        }
    }

    /// The key of the SQLite database behind `db`.
    ///
    /// # Errors
    /// As [`Self::load_or_create`].
    pub fn for_db(db: &Db) -> Result<Self, Internal> {
        Self::load_or_create(&Self::path_for(db.connect_options().get_filename()))
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
        let path = dir.path().join("db.user-code-key");
        let key = UserCodeKey::load_or_create(&path).unwrap();
        let again = UserCodeKey::load_or_create(&path).unwrap();
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
        let other = UserCodeKey::load_or_create(&dir.path().join("other")).unwrap();
        assert_eq!(other.check("4711", Some(&sealed)), Check::NoMatch, "another key does not open it");
        assert_eq!(format!("{key:?}"), "UserCodeKey(<redacted>)");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(UserCodeKey::load_or_create(&path).is_err(), "a damaged key file is an error, not a new key");
    }
}
