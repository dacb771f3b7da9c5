//! The approver's configuration, from the platform defaults and the
//! environment (the same variables as `countersign-cli`, so tests, the demo
//! and the CLI can share one data directory).

use std::path::PathBuf;

use countersign_approver::{default_data_dir, ApproverConfig, KeyStoreChoice};

use crate::IpcError;

/// `auto` (default: the OS keychain, else the encrypted key file),
/// `keychain` or `file`.
pub const ENV_KEY_STORE: &str = "COUNTERSIGN_KEY_STORE";
/// Passphrase of the encrypted key file, for tests and headless use only
/// (other processes of the user can read it): without it the window asks.
pub use countersign_approver::keys::passphrase::ENV_INSECURE_PASSPHRASE;
/// Where "Export history" writes (default: the user's download directory).
pub const ENV_EXPORT_DIR: &str = "COUNTERSIGN_EXPORT_DIR";
/// The data directory (read by `default_data_dir`).
pub use countersign_approver::config::ENV_DATA_DIR;

/// Parses a key store name.
pub fn key_store_choice(name: &str) -> Result<KeyStoreChoice, IpcError> {
    match name {
        "" | "auto" => Ok(KeyStoreChoice::Auto),
        "keychain" => Ok(KeyStoreChoice::Keychain),
        "file" => Ok(KeyStoreChoice::File),
        other => Err(IpcError::new(
            "invalid_config",
            format!("{ENV_KEY_STORE} must be auto, keychain or file, not {other:?}"),
        )),
    }
}

/// The configuration of the app's approver.
pub fn from_env() -> Result<ApproverConfig, IpcError> {
    let dir = default_data_dir().ok_or_else(|| {
        IpcError::new("invalid_config", format!("no data directory could be determined: set {ENV_DATA_DIR}"))
    })?;
    let mut config = ApproverConfig::new(dir);
    config.key_store = key_store_choice(&std::env::var(ENV_KEY_STORE).unwrap_or_default())?;
    // Without the variable the shell asks in the window (Shell::open).
    if countersign_approver::keys::passphrase::insecure_env_set() {
        eprintln!(
            "countersign: the key file's passphrase comes from {ENV_INSECURE_PASSPHRASE} (tests and headless use only)"
        );
        config.passphrase = Some(countersign_approver::keys::passphrase::insecure_env_source());
    }
    if let Some(locale) = locale_from_env() {
        config.render.locale = locale;
    }
    Ok(config)
}

/// The user's locale as a BCP 47 tag (`de_DE.UTF-8` gives `de-DE`), from the
/// usual POSIX variables; `None` for `C`, `POSIX` or nothing set.
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

/// The export directory override, if set.
pub fn export_dir_override() -> Option<PathBuf> {
    std::env::var_os(ENV_EXPORT_DIR).filter(|d| !d.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    #[test]
    fn posix_locales_become_bcp47_tags() {
        assert_eq!(super::bcp47("de_DE.UTF-8").as_deref(), Some("de-DE"));
        assert_eq!(super::bcp47("en_GB@euro").as_deref(), Some("en-GB"));
        assert_eq!(super::bcp47("C.UTF-8"), None);
        assert_eq!(super::bcp47("POSIX"), None);
        assert_eq!(super::bcp47(""), None);
        assert_eq!(super::bcp47("x;rm"), None);
    }
}
