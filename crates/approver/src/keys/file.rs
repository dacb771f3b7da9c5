//! The encrypted-file fallback for machines without a reachable keychain.
//!
//! One file per key, `<data dir>/keys/<key id>.key`, mode 0600 on Unix:
//!
//! ```json
//! {"v":1,"kdf":"argon2id","m_kib":19456,"t":2,"p":1,"salt":"…","nonce":"…","ciphertext":"…"}
//! ```
//!
//! The file key is Argon2id(passphrase, salt) (RFC 9106; the defaults are
//! OWASP's minimum, 19 MiB and 2 passes), the key is sealed with AES-256-GCM
//! (`ring`) under a random 96-bit nonce with the associated data
//! `countersign-device-key-v1:<key id>`, so a file renamed to another
//! account's name does not open. Salt and nonce are fresh for every write.
//! Derived keys and plaintexts are zeroized after use. Never a plaintext key.

use super::passphrase::{check_new_passphrase, PassphrasePurpose};
use super::{KeyStore, KeyStoreError, KeyStoreKind, PassphraseSource};
use argon2::{Algorithm, Argon2, Params, Version};
use countersign_protocol::jws::{b64url_decode, b64url_encode};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use zeroize::Zeroizing;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self { m_kib: 19 * 1024, t: 2, p: 1 }
    }
}

/// Largest accepted memory cost when reading a file (1 GiB), so an altered
/// file cannot make the approver allocate without bound.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 64;
const MAX_P: u32 = 16;
const SALT_LEN: usize = 16;
const FORMAT_VERSION: u32 = 1;
const KDF_NAME: &str = "argon2id";
const AAD_PREFIX: &str = "countersign-device-key-v1:";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    v: u32,
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

/// The directory of the key files of an approver whose data is in
/// `data_dir`.
#[must_use]
pub fn key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// The ids of the key files in `dir`, sorted (a missing directory has none).
fn key_ids(dir: &Path) -> Result<Vec<String>, KeyStoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(KeyStoreError::Unavailable(format!("{}: {e}", dir.display()))),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".key")).map(str::to_owned))
        .filter(|id| valid_key_id(id))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Whether the key files in `dir` are created (none yet) or opened.
///
/// # Errors
/// The directory cannot be read.
pub fn purpose(dir: &Path) -> Result<PassphrasePurpose, KeyStoreError> {
    Ok(if key_ids(dir)?.is_empty() { PassphrasePurpose::Create } else { PassphrasePurpose::Open })
}

/// Whether `passphrase` may be used for the key files in `dir`: with none
/// yet, it must be strong ([`check_new_passphrase`]); otherwise it must
/// open them (one is decrypted to check, then wiped). Returns which check
/// it passed.
///
/// # Errors
/// [`KeyStoreError::WeakPassphrase`], [`KeyStoreError::WrongPassphrase`], a
/// file that cannot be read.
pub fn check_passphrase(dir: &Path, passphrase: &str) -> Result<PassphrasePurpose, KeyStoreError> {
    match key_ids(dir)?.first() {
        None => {
            check_new_passphrase(passphrase).map_err(KeyStoreError::WeakPassphrase)?;
            Ok(PassphrasePurpose::Create)
        }
        Some(id) => {
            open_file(&dir.join(format!("{id}.key")), id, passphrase)?;
            Ok(PassphrasePurpose::Open)
        }
    }
}

fn valid_key_id(key_id: &str) -> bool {
    !key_id.is_empty()
        && key_id.len() <= 128
        && key_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decrypts the key file at `path` (key id `key_id`) with `passphrase`.
fn open_file(path: &Path, key_id: &str, passphrase: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KeyStoreError::NotFound(key_id.to_owned())),
        Err(e) => return Err(KeyStoreError::Unavailable(format!("{}: {e}", path.display()))),
    };
    let file: KeyFile =
        serde_json::from_slice(&bytes).map_err(|e| KeyStoreError::Other(format!("key file unreadable: {e}")))?;
    if file.v != FORMAT_VERSION || file.kdf != KDF_NAME {
        return Err(KeyStoreError::Other(format!("unsupported key file version {} / kdf {:?}", file.v, file.kdf)));
    }
    if file.m_kib > MAX_M_KIB || file.t > MAX_T || file.p > MAX_P {
        return Err(KeyStoreError::Other("key file asks for excessive Argon2 costs".into()));
    }
    let bad = |_| KeyStoreError::Other("key file: bad base64url".into());
    let salt = b64url_decode(&file.salt).map_err(bad)?;
    let nonce = b64url_decode(&file.nonce).map_err(bad)?;
    let nonce: [u8; NONCE_LEN] =
        nonce.try_into().map_err(|_| KeyStoreError::Other("key file: bad nonce length".into()))?;
    let mut buf = Zeroizing::new(b64url_decode(&file.ciphertext).map_err(bad)?);
    let key = derive(passphrase, &salt, KdfParams { m_kib: file.m_kib, t: file.t, p: file.p })?;
    let opening = aead_key(&key)?;
    let aad = format!("{AAD_PREFIX}{key_id}");
    match opening.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf) {
        Ok(p) => Ok(Zeroizing::new(p.to_vec())),
        Err(_) => Err(KeyStoreError::WrongPassphrase),
    }
}

/// Keys in passphrase-encrypted files.
pub struct EncryptedFileStore {
    dir: PathBuf,
    params: KdfParams,
    source: PassphraseSource,
    passphrase: Mutex<Option<Zeroizing<String>>>,
}

impl std::fmt::Debug for EncryptedFileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedFileStore").field("dir", &self.dir).field("params", &self.params).finish()
    }
}

/// The warning every shell shows when keys go to the encrypted file.
pub const FALLBACK_WARNING: &str = "no OS keychain is reachable: device keys are stored in a passphrase-encrypted \
     file instead (Argon2id + AES-256-GCM). Anyone with the file and the passphrase can sign as this device; \
     choose a strong passphrase.";

impl EncryptedFileStore {
    /// A store in `dir` asking `source` for the passphrase when first needed.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>, source: PassphraseSource) -> Self {
        Self::with_params(dir, source, KdfParams::default())
    }

    /// The same with explicit Argon2id costs for new files (tests use small
    /// ones; files record their own costs).
    #[must_use]
    pub fn with_params(dir: impl Into<PathBuf>, source: PassphraseSource, params: KdfParams) -> Self {
        Self { dir: dir.into(), params, source, passphrase: Mutex::new(None) }
    }

    /// The directory of the key files.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key_id: &str) -> Result<PathBuf, KeyStoreError> {
        if !valid_key_id(key_id) {
            return Err(KeyStoreError::Other(format!("invalid key id {key_id:?}")));
        }
        Ok(self.dir.join(format!("{key_id}.key")))
    }

    fn passphrase(&self, purpose: PassphrasePurpose) -> Result<Zeroizing<String>, KeyStoreError> {
        let mut cached = self.passphrase.lock().map_err(|_| KeyStoreError::Other("poisoned".into()))?;
        if let Some(p) = cached.as_ref() {
            return Ok(p.clone());
        }
        let p = (self.source)(purpose).map_err(KeyStoreError::NoPassphrase)?;
        if p.is_empty() {
            return Err(KeyStoreError::NoPassphrase("an empty passphrase would not protect the key".into()));
        }
        *cached = Some(p.clone());
        Ok(p)
    }

    fn forget_passphrase(&self) {
        if let Ok(mut cached) = self.passphrase.lock() {
            *cached = None;
        }
    }
}

fn derive(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<Zeroizing<[u8; 32]>, KeyStoreError> {
    let p = Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|e| KeyStoreError::Other(format!("argon2 parameters: {e}")))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| KeyStoreError::Other(format!("argon2: {e}")))?;
    Ok(out)
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, KeyStoreError> {
    UnboundKey::new(&AES_256_GCM, key).map(LessSafeKey::new).map_err(|_| KeyStoreError::Other("aes key".into()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("key.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

impl KeyStore for EncryptedFileStore {
    fn kind(&self) -> KeyStoreKind {
        KeyStoreKind::File
    }

    fn put(&self, key_id: &str, pkcs8: &[u8]) -> Result<(), KeyStoreError> {
        let path = self.path(key_id)?;
        let passphrase = self.passphrase(purpose(&self.dir)?)?;
        let rng = SystemRandom::new();
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut salt).map_err(|_| KeyStoreError::Other("rng".into()))?;
        rng.fill(&mut nonce).map_err(|_| KeyStoreError::Other("rng".into()))?;
        let key = derive(&passphrase, &salt, self.params)?;
        let sealing = aead_key(&key)?;
        let mut buf = Zeroizing::new(pkcs8.to_vec());
        let aad = format!("{AAD_PREFIX}{key_id}");
        sealing
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut *buf)
            .map_err(|_| KeyStoreError::Other("encryption failed".into()))?;
        let file = KeyFile {
            v: FORMAT_VERSION,
            kdf: KDF_NAME.to_owned(),
            m_kib: self.params.m_kib,
            t: self.params.t,
            p: self.params.p,
            salt: b64url_encode(salt),
            nonce: b64url_encode(nonce),
            ciphertext: b64url_encode(&*buf),
        };
        let json = serde_json::to_vec(&file).map_err(|e| KeyStoreError::Other(e.to_string()))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| KeyStoreError::Unavailable(e.to_string()))?;
        write_private(&path, &json).map_err(|e| KeyStoreError::Unavailable(format!("{}: {e}", path.display())))
    }

    fn get(&self, key_id: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        let path = self.path(key_id)?;
        if !path.exists() {
            return Err(KeyStoreError::NotFound(key_id.to_owned()));
        }
        let passphrase = self.passphrase(PassphrasePurpose::Open)?;
        match open_file(&path, key_id, &passphrase) {
            Err(KeyStoreError::WrongPassphrase) => {
                self.forget_passphrase();
                Err(KeyStoreError::WrongPassphrase)
            }
            other => other,
        }
    }

    fn delete(&self, key_id: &str) -> Result<(), KeyStoreError> {
        let path = self.path(key_id)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(KeyStoreError::Unavailable(format!("{}: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const FAST: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    fn source(p: &'static str) -> PassphraseSource {
        Arc::new(move |_| Ok(Zeroizing::new(p.to_owned())))
    }

    #[test]
    fn round_trip_and_never_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let store = EncryptedFileStore::with_params(dir.path(), source("correct horse"), FAST);
        let key = countersign_protocol::jws::DeviceKeyPair::generate().unwrap();
        let der = key.pkcs8().secret_bytes();
        store.put("acct_1", der).unwrap();
        let raw = std::fs::read(dir.path().join("acct_1.key")).unwrap();
        assert!(!raw.windows(16).any(|w| der.windows(16).any(|d| d == w)), "plaintext key material in the file");
        assert!(!String::from_utf8_lossy(&raw).contains(&b64url_encode(der)[..20]));
        assert_eq!(store.get("acct_1").unwrap().as_slice(), der);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("acct_1.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.delete("acct_1").unwrap();
        assert!(matches!(store.get("acct_1"), Err(KeyStoreError::NotFound(_))));
    }

    #[test]
    fn wrong_passphrase_and_renamed_file_fail() {
        let dir = tempfile::tempdir().unwrap();
        let writer = EncryptedFileStore::with_params(dir.path(), source("right"), FAST);
        writer.put("a", b"pkcs8 bytes").unwrap();
        let reader = EncryptedFileStore::with_params(dir.path(), source("wrong"), FAST);
        assert_eq!(reader.get("a"), Err(KeyStoreError::WrongPassphrase));
        std::fs::copy(dir.path().join("a.key"), dir.path().join("b.key")).unwrap();
        assert_eq!(writer.get("b"), Err(KeyStoreError::WrongPassphrase), "AAD binds the key id");
    }

    #[test]
    fn tampered_ciphertext_fails_and_costs_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = EncryptedFileStore::with_params(dir.path(), source("pw"), FAST);
        store.put("a", b"pkcs8 bytes").unwrap();
        let path = dir.path().join("a.key");
        let mut file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mut ct = b64url_decode(file["ciphertext"].as_str().unwrap()).unwrap();
        ct[0] ^= 1;
        file["ciphertext"] = b64url_encode(&ct).into();
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        assert_eq!(store.get("a"), Err(KeyStoreError::WrongPassphrase));
        file["m_kib"] = (MAX_M_KIB + 1).into();
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        assert!(matches!(store.get("a"), Err(KeyStoreError::Other(_))));
    }

    #[test]
    fn passphrase_asked_once_and_empty_refused() {
        let dir = tempfile::tempdir().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let src: PassphraseSource = Arc::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(Zeroizing::new("pw".to_owned()))
        });
        let store = EncryptedFileStore::with_params(dir.path(), src, FAST);
        store.put("a", b"x").unwrap();
        store.get("a").unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let empty = EncryptedFileStore::with_params(dir.path(), source(""), FAST);
        assert!(matches!(empty.put("z", b"x"), Err(KeyStoreError::NoPassphrase(_))));
        assert!(matches!(store.put("../evil", b"x"), Err(KeyStoreError::Other(_))));
    }

    #[test]
    fn the_source_is_told_whether_the_key_file_is_created_or_opened() {
        let dir = tempfile::tempdir().unwrap();
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let a = asked.clone();
        let src: PassphraseSource = Arc::new(move |purpose| {
            a.lock().unwrap().push(purpose);
            Ok(Zeroizing::new("pw".to_owned()))
        });
        assert_eq!(purpose(dir.path()).unwrap(), PassphrasePurpose::Create);
        EncryptedFileStore::with_params(dir.path(), src.clone(), FAST).put("a", b"x").unwrap();
        assert_eq!(purpose(dir.path()).unwrap(), PassphrasePurpose::Open);
        // A new process: a second key goes under the passphrase that opens the first.
        EncryptedFileStore::with_params(dir.path(), src.clone(), FAST).put("b", b"y").unwrap();
        EncryptedFileStore::with_params(dir.path(), src, FAST).get("a").unwrap();
        assert_eq!(
            *asked.lock().unwrap(),
            [PassphrasePurpose::Create, PassphrasePurpose::Open, PassphrasePurpose::Open]
        );
        assert_eq!(check_passphrase(dir.path(), "pw").unwrap(), PassphrasePurpose::Open);
        assert_eq!(check_passphrase(dir.path(), "pw2"), Err(KeyStoreError::WrongPassphrase));
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(check_passphrase(empty.path(), "pw"), Err(KeyStoreError::WeakPassphrase(_))));
        assert_eq!(
            check_passphrase(&empty.path().join("missing"), "walrus quietly orbits saffron").unwrap(),
            PassphrasePurpose::Create
        );
    }

    #[test]
    fn default_costs_are_owasp_minimum() {
        let d = KdfParams::default();
        assert!(d.m_kib >= 19 * 1024 && d.t >= 2 && d.p >= 1);
    }
}
