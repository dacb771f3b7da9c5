//! Device key storage. The PKCS#8 document of each account's P-256 key lives
//! in one [`KeyStore`]:
//!
//! - [`keychain::OsKeychain`]: the OS keychain through `keyring` (Secret
//!   Service on Linux, Keychain on macOS, Credential Manager on Windows);
//! - [`file::EncryptedFileStore`]: where no keychain is reachable, one file
//!   per key, encrypted with AES-256-GCM under a key derived from a
//!   passphrase with Argon2id; never a plaintext key;
//! - [`MemoryKeyStore`]: in memory, for tests.
//!
//! The key file's passphrase comes from a [`PassphraseSource`]: the
//! desktop app's window through [`passphrase::PassphrasePrompt`], the CLI's
//! terminal prompt, or (tests and headless use only)
//! [`passphrase::ENV_INSECURE_PASSPHRASE`].
//!
//! Key bytes handed out are [`Zeroizing`], wiped when dropped.

pub mod file;
pub mod keychain;
pub mod passphrase;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Which store holds a key (kept with the account).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStoreKind {
    /// The OS keychain.
    Keychain,
    /// The passphrase-encrypted key file.
    File,
    /// In memory (tests only; lost when the process ends).
    Memory,
}

impl KeyStoreKind {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStoreKind::Keychain => "keychain",
            KeyStoreKind::File => "file",
            KeyStoreKind::Memory => "memory",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keychain" => Some(KeyStoreKind::Keychain),
            "file" => Some(KeyStoreKind::File),
            "memory" => Some(KeyStoreKind::Memory),
            _ => None,
        }
    }
}

impl fmt::Display for KeyStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    /// No key under this id.
    #[error("no key stored for {0:?}")]
    NotFound(String),
    /// The store cannot be reached (no keychain, locked, no D-Bus...).
    #[error("key store unavailable: {0}")]
    Unavailable(String),
    /// The passphrase does not open the key file (or the file was altered).
    #[error("the passphrase does not open the key file (or the file was altered)")]
    WrongPassphrase,
    /// No passphrase could be obtained.
    #[error("no passphrase for the encrypted key file: {0}")]
    NoPassphrase(String),
    /// A new key file's passphrase is too weak (the reason, never the
    /// passphrase).
    #[error("this passphrase is too weak to protect the device keys: {0}")]
    WeakPassphrase(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Storage of PKCS#8 device keys by key id. Calls may block (D-Bus, disk,
/// Argon2): the approver runs them on the blocking pool.
pub trait KeyStore: Send + Sync + 'static {
    /// Which kind of store this is.
    fn kind(&self) -> KeyStoreKind;
    /// Stores `pkcs8` under `key_id` (replacing any previous value).
    ///
    /// # Errors
    /// [`KeyStoreError`].
    fn put(&self, key_id: &str, pkcs8: &[u8]) -> Result<(), KeyStoreError>;
    /// The PKCS#8 bytes stored under `key_id`.
    ///
    /// # Errors
    /// [`KeyStoreError::NotFound`] and others.
    fn get(&self, key_id: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError>;
    /// Deletes the key; deleting a missing key is not an error.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    fn delete(&self, key_id: &str) -> Result<(), KeyStoreError>;
}

/// Where the passphrase of the encrypted key file comes from (the desktop
/// app's window, a terminal prompt, an environment variable in tests), told
/// whether a new key file is being created or existing ones opened. Called
/// from the blocking pool (it may wait for the user), at most once per
/// process when it succeeds.
pub type PassphraseSource =
    Arc<dyn Fn(passphrase::PassphrasePurpose) -> Result<Zeroizing<String>, String> + Send + Sync>;

/// Keys in memory, for tests. Values are zeroized when removed or dropped.
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, Zeroizing<Vec<u8>>>>,
}

impl MemoryKeyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The ids of the stored keys, sorted.
    #[must_use]
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = match self.keys.lock() {
            Ok(k) => k.keys().cloned().collect(),
            Err(p) => p.into_inner().keys().cloned().collect(),
        };
        ids.sort();
        ids
    }
}

impl KeyStore for MemoryKeyStore {
    fn kind(&self) -> KeyStoreKind {
        KeyStoreKind::Memory
    }

    fn put(&self, key_id: &str, pkcs8: &[u8]) -> Result<(), KeyStoreError> {
        let mut keys = self.keys.lock().map_err(|_| KeyStoreError::Other("poisoned".into()))?;
        keys.insert(key_id.to_owned(), Zeroizing::new(pkcs8.to_vec()));
        Ok(())
    }

    fn get(&self, key_id: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        let keys = self.keys.lock().map_err(|_| KeyStoreError::Other("poisoned".into()))?;
        keys.get(key_id).cloned().ok_or_else(|| KeyStoreError::NotFound(key_id.to_owned()))
    }

    fn delete(&self, key_id: &str) -> Result<(), KeyStoreError> {
        let mut keys = self.keys.lock().map_err(|_| KeyStoreError::Other("poisoned".into()))?;
        keys.remove(key_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trip_and_delete() {
        let s = MemoryKeyStore::new();
        assert!(matches!(s.get("a"), Err(KeyStoreError::NotFound(_))));
        s.put("a", b"secret").unwrap();
        assert_eq!(s.get("a").unwrap().as_slice(), b"secret");
        assert_eq!(s.ids(), vec!["a".to_owned()]);
        s.delete("a").unwrap();
        s.delete("a").unwrap();
        assert!(s.ids().is_empty());
    }

    #[test]
    fn kind_names_round_trip() {
        for k in [KeyStoreKind::Keychain, KeyStoreKind::File, KeyStoreKind::Memory] {
            assert_eq!(KeyStoreKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(KeyStoreKind::parse("plain"), None);
    }
}
