//! The app's approver configuration: the core's, from the platform defaults
//! and the environment (`countersign_approver::ApproverConfig::from_env`,
//! the same variables as `countersign-cli`, so tests, the demo and the CLI
//! can share one data directory).

use countersign_approver::ApproverConfig;

use crate::IpcError;

pub use countersign_approver::config::{export_dir_from_env, ENV_DATA_DIR};
pub use countersign_approver::keys::passphrase::ENV_INSECURE_PASSPHRASE;

/// The configuration of the app's approver. Without a passphrase from the
/// environment the shell asks in the window (`Shell::open`).
pub fn from_env() -> Result<ApproverConfig, IpcError> {
    let config = ApproverConfig::from_env()?;
    if config.passphrase.is_some() {
        eprintln!(
            "countersign: the key file's passphrase comes from {ENV_INSECURE_PASSPHRASE} (tests and headless use only)"
        );
    }
    Ok(config)
}
