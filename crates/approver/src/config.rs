//! Configuration of an approver.

use crate::clock::{Clock, SystemClock};
use crate::keys::{KeyStore, PassphraseSource};
use countersign_details::RenderOptions;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Environment variable overriding the data directory.
pub const ENV_DATA_DIR: &str = "COUNTERSIGN_DATA_DIR";
/// Environment variable choosing the key store: `auto` (default: the OS
/// keychain, else the encrypted key file), `keychain` or `file`.
pub const ENV_KEY_STORE: &str = "COUNTERSIGN_KEY_STORE";
/// Environment variable naming where the desktop's "Export history" writes
/// (default: the user's download directory).
pub const ENV_EXPORT_DIR: &str = "COUNTERSIGN_EXPORT_DIR";
/// Environment variable of the CLI's locale (`--locale`).
pub const ENV_LOCALE: &str = "COUNTERSIGN_LOCALE";
/// Environment variable of the CLI's UTC offset in minutes (`--utc-offset`).
pub const ENV_UTC_OFFSET: &str = "COUNTERSIGN_UTC_OFFSET";
/// A CA certificate file (PEM) trusted beside the built-in roots
/// ([`TransportConfig::extra_ca_files`]).
pub const ENV_CA_FILE: &str = "COUNTERSIGN_CA_FILE";

/// The platform data directory (`~/.local/share/countersign` on Linux,
/// `~/Library/Application Support/org.countersign.countersign` on macOS,
/// `%APPDATA%\countersign\countersign\data` on Windows), or
/// `$COUNTERSIGN_DATA_DIR` when set.
#[must_use]
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(ENV_DATA_DIR) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("org", "countersign", "countersign").map(|d| d.data_dir().to_path_buf())
}

/// Where device keys go.
#[derive(Clone)]
pub enum KeyStoreChoice {
    /// The OS keychain when reachable, else the encrypted key file (with a
    /// warning, see [`crate::Approver::key_store_warning`]).
    Auto,
    /// The OS keychain only; enrollment fails when it is not reachable.
    Keychain,
    /// The passphrase-encrypted key file only.
    File,
    /// A store supplied by the caller (tests: [`crate::keys::MemoryKeyStore`]).
    Custom(Arc<dyn KeyStore>),
}

impl fmt::Debug for KeyStoreChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyStoreChoice::Auto => f.write_str("Auto"),
            KeyStoreChoice::Keychain => f.write_str("Keychain"),
            KeyStoreChoice::File => f.write_str("File"),
            KeyStoreChoice::Custom(k) => write!(f, "Custom({})", k.kind()),
        }
    }
}

impl KeyStoreChoice {
    /// Parses a key store name as [`ENV_KEY_STORE`] holds it (empty: `auto`).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for any other name.
    pub fn from_name(name: &str) -> crate::Result<Self> {
        match name {
            "" | "auto" => Ok(KeyStoreChoice::Auto),
            "keychain" => Ok(KeyStoreChoice::Keychain),
            "file" => Ok(KeyStoreChoice::File),
            other => {
                Err(crate::Error::Config(format!("{ENV_KEY_STORE} must be auto, keychain or file, not {other:?}")))
            }
        }
    }
}

/// How requests reach the approver.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Use the SSE push channel (falls back to polling when the server has
    /// none). `false`: plain poll mode.
    pub push: bool,
    /// Poll interval; `None` uses the `poll_interval` the server gave at
    /// enrollment. A ±10 % jitter is added.
    pub poll_interval: Option<Duration>,
    /// No byte on the event stream for this long means the connection is
    /// dead (the server sends a heartbeat every 15 s).
    pub heartbeat_timeout: Duration,
    /// First reconnect delay; doubled after each failure.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_cap: Duration,
    /// How long push stays off after the server said it has none.
    pub push_retry_after: Duration,
    /// First delay before a failed delivery is retried; doubled per attempt.
    pub delivery_retry_base: Duration,
    /// Longest delay between delivery attempts.
    pub delivery_retry_cap: Duration,
    /// Timeout of one HTTP call (not of the event stream).
    pub request_timeout: Duration,
    /// CA certificates (PEM files) trusted beside the built-in roots: a
    /// server's development CA (`countersign-server serve
    /// --tls-self-signed`), or an organisation's own.
    pub extra_ca_files: Vec<std::path::PathBuf>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            push: true,
            poll_interval: None,
            heartbeat_timeout: Duration::from_secs(45),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            push_retry_after: Duration::from_secs(300),
            delivery_retry_base: Duration::from_secs(1),
            delivery_retry_cap: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            extra_ca_files: Vec::new(),
        }
    }
}

/// Everything an [`crate::Approver`] needs.
#[derive(Clone)]
pub struct ApproverConfig {
    /// Directory of the SQLite store and of encrypted key files.
    pub data_dir: PathBuf,
    /// Where device keys go.
    pub key_store: KeyStoreChoice,
    /// Passphrase of the encrypted key file (only asked when the file store
    /// is used).
    pub passphrase: Option<PassphraseSource>,
    /// Service name of keychain entries (tests use their own).
    pub keychain_service: String,
    /// Name of this device, sent at enrollment (1 to 64 characters).
    pub device_name: String,
    /// Capabilities announced at enrollment (default `push`; the desktop
    /// app adds `webauthn` where it reaches security keys; `user_verification`
    /// is added at enrollment when the OS can verify the user).
    pub capabilities: Vec<countersign_protocol::device::Capability>,
    /// Push and poll settings.
    pub transport: TransportConfig,
    /// How requests are rendered for the user: locale (BCP 47) and UTC
    /// offset of dates (default `en-US`, UTC).
    pub render: RenderOptions,
    /// Cached display schemas older than this are fetched again when a
    /// request arrives (default 300 s, the server's `max-age`).
    pub schema_max_age: Duration,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Which requests may be decided from a notification beyond the fixed
    /// rule (`crate::quick`): the low-risk scopes (default `openid` only).
    pub quick: crate::quick::QuickPolicy,
    /// Who verifies the person before an approval that requires it
    /// (`crate::verify`): the platform's OS prompt by default (polkit with
    /// the session's agent on Linux; the CLI adds its own text agent).
    pub user_verifier: crate::verify::SharedVerifier,
}

impl fmt::Debug for ApproverConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApproverConfig")
            .field("data_dir", &self.data_dir)
            .field("key_store", &self.key_store)
            .field("keychain_service", &self.keychain_service)
            .field("device_name", &self.device_name)
            .field("capabilities", &self.capabilities)
            .field("transport", &self.transport)
            .field("render", &self.render)
            .field("schema_max_age", &self.schema_max_age)
            .field("quick", &self.quick)
            .field("user_verifier", &self.user_verifier.method())
            .finish_non_exhaustive()
    }
}

/// Default keychain service name.
pub const KEYCHAIN_SERVICE: &str = "org.countersign.device-key";

impl ApproverConfig {
    /// Defaults in `data_dir`: automatic key store, push on.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            key_store: KeyStoreChoice::Auto,
            passphrase: None,
            keychain_service: KEYCHAIN_SERVICE.to_owned(),
            device_name: default_device_name(),
            capabilities: vec![countersign_protocol::device::Capability::Push],
            transport: TransportConfig::default(),
            render: RenderOptions::default(),
            schema_max_age: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
            quick: crate::quick::QuickPolicy::default(),
            user_verifier: crate::verify::platform(false),
        }
    }

    /// The configuration from the platform defaults and the environment:
    /// the data directory ([`default_data_dir`]), the key store
    /// ([`ENV_KEY_STORE`]), the key file's passphrase from
    /// [`ENV_INSECURE_PASSPHRASE`](crate::keys::passphrase::ENV_INSECURE_PASSPHRASE)
    /// when set (tests and headless use only; otherwise `passphrase` stays
    /// `None` for the caller to ask), the locale ([`locale_from_env`]) and a
    /// CA file to trust ([`ENV_CA_FILE`]).
    ///
    /// # Errors
    /// [`crate::Error::Config`]: no data directory, or a bad key store name.
    pub fn from_env() -> crate::Result<Self> {
        let dir = default_data_dir().ok_or_else(|| {
            crate::Error::Config(format!("no data directory could be determined: set {ENV_DATA_DIR}"))
        })?;
        let mut config = ApproverConfig::new(dir);
        config.key_store = KeyStoreChoice::from_name(&std::env::var(ENV_KEY_STORE).unwrap_or_default())?;
        if crate::keys::passphrase::insecure_env_set() {
            config.passphrase = Some(crate::keys::passphrase::insecure_env_source());
        }
        if let Some(locale) = locale_from_env() {
            config.render.locale = locale;
        }
        if let Some(ca) = std::env::var_os(ENV_CA_FILE).filter(|f| !f.is_empty()) {
            config.transport.extra_ca_files.push(PathBuf::from(ca));
        }
        Ok(config)
    }
}

/// The export directory named by [`ENV_EXPORT_DIR`], if set and not empty.
#[must_use]
pub fn export_dir_from_env() -> Option<PathBuf> {
    std::env::var_os(ENV_EXPORT_DIR).filter(|d| !d.is_empty()).map(PathBuf::from)
}

/// The user's locale as a BCP 47 tag (`de_DE.UTF-8` gives `de-DE`), from the
/// usual POSIX variables; `None` for `C`, `POSIX` or nothing set.
#[must_use]
pub fn locale_from_env() -> Option<String> {
    ["LC_ALL", "LC_TIME", "LANG"].iter().find_map(|name| std::env::var(name).ok().and_then(|v| bcp47(&v)))
}

fn bcp47(posix: &str) -> Option<String> {
    let base = posix.split(['.', '@']).next().unwrap_or_default();
    if base.is_empty() || base == "C" || base == "POSIX" {
        return None;
    }
    let tag = base.replace('_', "-");
    tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-').then_some(tag)
}

/// `Countersign on <host>` (or on the OS name).
#[must_use]
pub fn default_device_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let name = format!("Countersign on {host}");
    name.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::KeyStoreChoice;

    // The desktop app's configuration comes from from_env: a server's
    // development CA named there is trusted (the only test reading or
    // setting COUNTERSIGN_CA_FILE, so no other test races it).
    #[test]
    fn the_ca_file_named_in_the_environment_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var(super::ENV_DATA_DIR, dir.path());
        std::env::set_var(super::ENV_CA_FILE, "/srv/countersign/tls/dev-ca.pem");
        let config = super::ApproverConfig::from_env().unwrap();
        assert_eq!(config.transport.extra_ca_files, vec![std::path::PathBuf::from("/srv/countersign/tls/dev-ca.pem")]);
        std::env::set_var(super::ENV_CA_FILE, "");
        assert!(super::ApproverConfig::from_env().unwrap().transport.extra_ca_files.is_empty());
        std::env::remove_var(super::ENV_CA_FILE);
    }

    #[test]
    fn posix_locales_become_bcp47_tags() {
        assert_eq!(super::bcp47("de_DE.UTF-8").as_deref(), Some("de-DE"));
        assert_eq!(super::bcp47("en_GB@euro").as_deref(), Some("en-GB"));
        assert_eq!(super::bcp47("C.UTF-8"), None);
        assert_eq!(super::bcp47("POSIX"), None);
        assert_eq!(super::bcp47(""), None);
        assert_eq!(super::bcp47("x;rm"), None);
    }

    #[test]
    fn key_store_names() {
        assert!(matches!(KeyStoreChoice::from_name("").unwrap(), KeyStoreChoice::Auto));
        assert!(matches!(KeyStoreChoice::from_name("auto").unwrap(), KeyStoreChoice::Auto));
        assert!(matches!(KeyStoreChoice::from_name("file").unwrap(), KeyStoreChoice::File));
        assert!(matches!(KeyStoreChoice::from_name("keychain").unwrap(), KeyStoreChoice::Keychain));
        let error = KeyStoreChoice::from_name("memory").unwrap_err();
        assert!(matches!(error, crate::Error::Config(_)), "{error:?}");
        assert_eq!(error.to_string(), "COUNTERSIGN_KEY_STORE must be auto, keychain or file, not \"memory\"");
    }
}
