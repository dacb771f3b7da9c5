//! The server's secret key: 32 random bytes in a file beside the database
//! (`<database>.secret-key`, mode 0600, created at the first start), never in
//! the database itself, so that a copy of the database alone opens nothing.
//! Each use gets its own key, derived with HKDF-SHA-256 (RFC 5869) under a
//! label ([`Purpose`]). Back the file up with the database.

use countersign_protocol::jws::{b64url_decode, b64url_encode};
use ring::hkdf;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

use crate::error::Internal;
use crate::store::Db;

/// Bytes of the key.
const KEY_BYTES: usize = 32;

/// What a derived key is for (its HKDF `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// HMAC of stored `user_code`s ([`crate::crypto::user_code`]).
    UserCodes,
    /// Encryption of stored token responses (kept for a repeated token
    /// request).
    TokenResponses,
    /// The fingerprint recorded in the database ([`SecretKey::for_database`]).
    Fingerprint,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::UserCodes => b"countersign-server/v1/user-codes",
            Purpose::TokenResponses => b"countersign-server/v1/token-responses",
            Purpose::Fingerprint => b"countersign-server/v1/fingerprint",
        }
    }
}

/// The server's secret key. `Debug` shows nothing of it.
pub struct SecretKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// An HKDF output length of 32 bytes.
struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        KEY_BYTES
    }
}

impl SecretKey {
    /// The key file of the database at `db_path`: `<db_path>.secret-key`.
    #[must_use]
    pub fn path_for(db_path: &Path) -> PathBuf {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".secret-key");
        PathBuf::from(name)
    }

    /// Reads the key at `path`, creating it (random, mode 0600) if missing.
    ///
    /// # Errors
    /// The file cannot be read or written, or does not hold a key (a damaged
    /// file is an error, never replaced: that would lose what it protects).
    pub fn load_or_create(path: &Path) -> Result<Self, Internal> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = b64url_decode(text.trim())
                    .ok()
                    .filter(|b| b.len() == KEY_BYTES)
                    .ok_or_else(|| Internal::new(format!("{} does not hold a secret key", path.display())))?;
                Ok(Self(Zeroizing::new(bytes)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(Internal::new(format!("reading {}: {e}", path.display()))),
        }
    }

    /// Writes a new key to a private temporary file, synced, then links it
    /// into place: the key file appears whole or not at all (a crash or a
    /// concurrent first start never leaves an empty one), and an existing
    /// file is never replaced.
    fn create(path: &Path) -> Result<Self, Internal> {
        use std::io::Write as _;
        let mut bytes = Zeroizing::new(vec![0u8; KEY_BYTES]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| Internal::new("system random number generator failed"))?;
        let text = Zeroizing::new(b64url_encode(&bytes));
        let suffix = countersign_protocol::secret::generate_url_safe(16)?;
        let mut temp = path.as_os_str().to_owned();
        temp.push(format!(".{suffix}.tmp"));
        let temp = PathBuf::from(temp);
        let io = |what: &str, e: std::io::Error| Internal::new(format!("{what} {}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&temp).map_err(|e| io("creating a key file beside", e))?;
        let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
        drop(file);
        let linked = written.and_then(|()| std::fs::hard_link(&temp, path));
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                }
                Ok(Self(bytes))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(io("writing", e)),
        }
    }

    /// The key in `path` for the database `db`: the one whose fingerprint
    /// the database recorded at its first start (recorded now if none is).
    /// A missing file is created only for a database that has no key yet,
    /// so an instance never starts with a key of its own beside others
    /// (what it sealed, they could not open).
    ///
    /// # Errors
    /// As [`Self::load_or_create`]; the file is missing for a database
    /// that has a key, or holds another key; the database failed.
    pub async fn for_database(db: &Db, path: &Path, now: u64) -> Result<Self, Internal> {
        let recorded = recorded_fingerprint(db).await?;
        if recorded.is_some() && !path.exists() {
            return Err(Internal::new(format!(
                "the secret key file {} is missing, and this database already has a key: give the file the other \
                 instances use (or restore it from backup); a new key would leave the stored user codes and token \
                 responses unusable",
                path.display()
            )));
        }
        let key = Self::load_or_create(path)?;
        let fingerprint = key.fingerprint();
        if recorded.is_none() {
            sqlx::query(
                "INSERT INTO secret_key_check (id, fingerprint, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&fingerprint)
            .bind(crate::store::ts(now))
            .execute(db)
            .await?;
        }
        // Read again: another instance's first start may have won.
        match recorded_fingerprint(db).await? {
            Some(r) if crate::util::ct_eq(&r, &fingerprint) => Ok(key),
            _ => Err(Internal::new(format!(
                "the secret key in {} is not this database's: every instance on one database must be given the \
                 same --secret-key-file",
                path.display()
            ))),
        }
    }

    /// What the database records of the key: a value derived under its own
    /// label, which reveals nothing of the other derived keys.
    fn fingerprint(&self) -> String {
        b64url_encode(self.derive(Purpose::Fingerprint).as_ref())
    }

    /// The 32-byte key for `purpose` (HKDF-SHA-256, no salt, `info` = its label).
    #[must_use]
    pub fn derive(&self, purpose: Purpose) -> Zeroizing<[u8; KEY_BYTES]> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(&self.0);
        let mut out = Zeroizing::new([0u8; KEY_BYTES]);
        // Expanding 32 bytes from SHA-256 cannot fail (at most 255 × 32).
        if let Ok(okm) = prk.expand(&[purpose.label()], Len32) {
            let _ = okm.fill(out.as_mut());
        }
        out
    }
}

async fn recorded_fingerprint(db: &Db) -> Result<Option<String>, Internal> {
    Ok(sqlx::query_scalar("SELECT fingerprint FROM secret_key_check WHERE id = 1").fetch_optional(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database keeps the fingerprint of its first key: that key opens
    /// it again; another file, or none where one was, is refused (and no
    /// file is made in its place); the fingerprint is none of the keys.
    #[tokio::test]
    async fn a_database_accepts_only_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::open(&dir.path().join("cs.db")).await.unwrap();
        let first = dir.path().join("first");
        let key = SecretKey::for_database(&db, &first, 100).await.unwrap();
        let again = SecretKey::for_database(&db, &first, 200).await.unwrap();
        assert_eq!(key.derive(Purpose::UserCodes), again.derive(Purpose::UserCodes));
        let recorded = recorded_fingerprint(&db).await.unwrap().unwrap();
        assert_eq!(recorded, key.fingerprint());
        for purpose in [Purpose::UserCodes, Purpose::TokenResponses] {
            assert_ne!(recorded, b64url_encode(key.derive(purpose).as_ref()));
        }

        let other = dir.path().join("other");
        SecretKey::load_or_create(&other).unwrap();
        let err = SecretKey::for_database(&db, &other, 300).await.unwrap_err().to_string();
        assert!(err.contains("is not this database's") && err.contains("same --secret-key-file"), "{err}");
        let missing = dir.path().join("missing");
        let err = SecretKey::for_database(&db, &missing, 300).await.unwrap_err().to_string();
        assert!(err.contains("is missing, and this database already has a key"), "{err}");
        assert!(!missing.exists(), "no new key made in its place");
        assert!(!err.contains(&recorded), "{err}");
    }

    #[test]
    fn the_key_file_is_private_persistent_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = SecretKey::path_for(&dir.path().join("cs.db"));
        assert!(path.ends_with("cs.db.secret-key"));
        let key = SecretKey::load_or_create(&path).unwrap();
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(key.derive(Purpose::UserCodes), again.derive(Purpose::UserCodes));
        assert_ne!(key.derive(Purpose::UserCodes), key.derive(Purpose::TokenResponses), "one key per use");
        assert_ne!(*key.derive(Purpose::UserCodes), [0u8; KEY_BYTES]);
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
        // Two first starts at once: one key for both.
        let racing = SecretKey::path_for(&dir.path().join("race.db"));
        let keys: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| SecretKey::load_or_create(&racing).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap().derive(Purpose::UserCodes)).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "every racer got the same key");
        std::fs::write(&path, "short").unwrap();
        assert!(SecretKey::load_or_create(&path).is_err(), "a damaged key file is an error, not a new key");
    }
}
