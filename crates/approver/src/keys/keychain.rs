//! The OS keychain via `keyring` 3: Secret Service on Linux (through D-Bus,
//! session encryption in pure Rust), Keychain on macOS, Credential Manager on
//! Windows. On other systems no keychain is compiled in and
//! [`OsKeychain::probe`] reports it unavailable.

use super::{KeyStore, KeyStoreError, KeyStoreKind};
use zeroize::Zeroizing;

/// Keys in the OS keychain: one generic secret per key, service
/// [`OsKeychain::service`], user = the key id.
#[derive(Debug, Clone)]
pub struct OsKeychain {
    service: String,
}

impl OsKeychain {
    /// A keychain store using `service` as the entries' service name.
    #[must_use]
    pub fn new(service: impl Into<String>) -> Self {
        Self { service: service.into() }
    }

    /// The service name of the entries.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whether the keychain can be used now: reads an entry that does not
    /// exist; "no entry" means the store answered.
    ///
    /// # Errors
    /// [`KeyStoreError::Unavailable`] with the platform's reason.
    pub fn probe(&self) -> Result<(), KeyStoreError> {
        match self.get("countersign-probe") {
            Ok(_) | Err(KeyStoreError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
mod imp {
    use super::*;

    fn map(e: keyring::Error, key_id: &str) -> KeyStoreError {
        match e {
            keyring::Error::NoEntry => KeyStoreError::NotFound(key_id.to_owned()),
            keyring::Error::NoStorageAccess(e) | keyring::Error::PlatformFailure(e) => {
                KeyStoreError::Unavailable(e.to_string())
            }
            other => KeyStoreError::Other(other.to_string()),
        }
    }

    impl KeyStore for OsKeychain {
        fn kind(&self) -> KeyStoreKind {
            KeyStoreKind::Keychain
        }

        fn put(&self, key_id: &str, pkcs8: &[u8]) -> Result<(), KeyStoreError> {
            let entry = keyring::Entry::new(&self.service, key_id).map_err(|e| map(e, key_id))?;
            entry.set_secret(pkcs8).map_err(|e| map(e, key_id))
        }

        fn get(&self, key_id: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
            let entry = keyring::Entry::new(&self.service, key_id).map_err(|e| map(e, key_id))?;
            entry.get_secret().map(Zeroizing::new).map_err(|e| map(e, key_id))
        }

        fn delete(&self, key_id: &str) -> Result<(), KeyStoreError> {
            let entry = keyring::Entry::new(&self.service, key_id).map_err(|e| map(e, key_id))?;
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(map(e, key_id)),
            }
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod imp {
    use super::*;

    const NONE: &str = "no OS keychain support on this platform";

    impl KeyStore for OsKeychain {
        fn kind(&self) -> KeyStoreKind {
            KeyStoreKind::Keychain
        }

        fn put(&self, _key_id: &str, _pkcs8: &[u8]) -> Result<(), KeyStoreError> {
            Err(KeyStoreError::Unavailable(NONE.into()))
        }

        fn get(&self, _key_id: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
            Err(KeyStoreError::Unavailable(NONE.into()))
        }

        fn delete(&self, _key_id: &str) -> Result<(), KeyStoreError> {
            Err(KeyStoreError::Unavailable(NONE.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real Secret Service. Needs a session bus with an unlocked
    /// keyring:
    ///
    /// ```sh
    /// dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null \
    ///   && cargo test -p countersign-approver --lib keys::keychain -- --ignored'
    /// ```
    #[test]
    #[ignore = "needs a Secret Service: run under dbus-run-session with gnome-keyring-daemon --unlock (see docs/approver.md)"]
    fn secret_service_round_trip() {
        let store = OsKeychain::new("org.countersign.test");
        store.probe().unwrap();
        let id = format!("test-{}", std::process::id());
        let key = countersign_protocol::jws::DeviceKeyPair::generate().unwrap();
        store.put(&id, key.pkcs8().secret_bytes()).unwrap();
        let back = store.get(&id).unwrap();
        assert_eq!(back.as_slice(), key.pkcs8().secret_bytes());
        let again = countersign_protocol::jws::DeviceKeyPair::from_pkcs8(&back).unwrap();
        assert_eq!(again.public_jwk(), key.public_jwk());
        store.delete(&id).unwrap();
        assert!(matches!(store.get(&id), Err(KeyStoreError::NotFound(_))));
        store.delete(&id).unwrap();
    }
}
