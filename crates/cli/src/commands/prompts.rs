//! Questions on the terminal (passphrase, yes/no, a line) and the approver's
//! configuration from the command line.

use super::*;
use countersign_approver::keys::passphrase::PassphrasePurpose;
use countersign_approver::qr_image::{decode_enrollment_link, MAX_IMAGE_BYTES};
use countersign_approver::{default_data_dir, Approver, ApproverConfig, KeyStoreChoice};
use countersign_details::RenderOptions;
use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

pub(super) fn passphrase(purpose: PassphrasePurpose) -> Result<Zeroizing<String>, String> {
    if let Ok(p) = std::env::var(ENV_INSECURE_PASSPHRASE) {
        return Ok(Zeroizing::new(p));
    }
    if std::io::stdin().is_terminal() {
        let prompt = match purpose {
            PassphrasePurpose::Create => "New passphrase for the encrypted key file (remember it): ",
            PassphrasePurpose::Open => "Passphrase of the encrypted key file: ",
        };
        return rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|e| e.to_string());
    }
    Err(format!("run in a terminal to be asked (tests and headless use: set {ENV_INSECURE_PASSPHRASE})"))
}

pub(super) fn config(cli: &Cli) -> Result<ApproverConfig, Failure> {
    let dir = cli
        .data_dir
        .clone()
        .or_else(default_data_dir)
        .ok_or_else(|| Failure::new("no data directory: pass --data-dir"))?;
    let mut c = ApproverConfig::new(dir);
    c.key_store = match cli.key_store {
        KeyStoreArg::Auto => KeyStoreChoice::Auto,
        KeyStoreArg::Keychain => KeyStoreChoice::Keychain,
        KeyStoreArg::File => KeyStoreChoice::File,
    };
    c.passphrase = Some(Arc::new(passphrase));
    c.render = RenderOptions { locale: cli.locale.clone(), utc_offset_minutes: cli.utc_offset };
    c.transport.extra_ca_files = cli.ca_file.iter().cloned().collect();
    // In a terminal, polkit asks through the CLI's own text agent (SSH too).
    c.user_verifier = countersign_approver::verify::platform(true);
    if cfg!(feature = "danger-fixed-verifier")
        && std::env::var_os(countersign_approver::verify::ENV_DANGER_FIXED_VERIFIER).is_some()
    {
        eprintln!(
            "warning: {} is set: user verification answers without asking anyone",
            countersign_approver::verify::ENV_DANGER_FIXED_VERIFIER
        );
    }
    Ok(c)
}

pub(super) fn warn_key_store(approver: &Approver) {
    if let Some(w) = approver.key_store_warning() {
        eprintln!("warning: {w}");
    }
}

/// The enrollment link in the QR code image at `path` (at most
/// [`MAX_IMAGE_BYTES`] are read; more is refused as too large).
pub(super) fn link_in_image(path: &Path) -> Result<Zeroizing<String>, Failure> {
    let cannot = |e: std::io::Error| Failure::new(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(cannot)?;
    decode_enrollment_link(&bytes).map(Zeroizing::new).map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

/// Asks a yes/no question on the terminal.
pub(super) fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

pub(super) fn read_line(prompt: &str) -> Option<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_owned()),
    }
}
