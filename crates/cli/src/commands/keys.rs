//! Security keys (WebAuthn): `keys add|list|remove`, and the key an
//! approval uses when the request requires one. Prompts go to standard
//! error, the PIN is read from the terminal without echo.

use super::*;
use crate::render;
use countersign_approver::store::Account;
use countersign_approver::webauthn::{PinRequest, Prompt, PromptCallback};
use countersign_approver::SharedAuthenticator;
use countersign_protocol::device::WebauthnCredential;
use std::io::IsTerminal as _;
use zeroize::Zeroizing;

/// DANGER, tests only (feature `danger-soft-authenticator`): the file of a
/// software token used instead of a security key.
#[cfg(feature = "danger-soft-authenticator")]
pub use countersign_approver::webauthn::ENV_DANGER_SOFT_AUTHENTICATOR;

/// What a security key asks, on the terminal: prompts on standard error
/// (the binding message made safe like every text of a request), the PIN
/// read without echo.
#[derive(Debug)]
pub(super) struct TerminalPrompt;

impl PromptCallback for TerminalPrompt {
    fn show(&self, prompt: &Prompt) {
        // "working" is noise on a terminal.
        if !matches!(prompt, Prompt::Processing(_)) {
            eprintln!("{}", text(&prompt.text()));
        }
    }

    fn request_pin(&self, request: &PinRequest) -> Option<Zeroizing<String>> {
        if !std::io::stdin().is_terminal() {
            eprintln!("The security key needs its PIN: run in a terminal to be asked.");
            return None;
        }
        let question = format!("{}: ", text(&request.text()));
        match rpassword::prompt_password(question) {
            Ok(pin) if !pin.is_empty() => Some(Zeroizing::new(pin)),
            Ok(_) => None,
            Err(e) => {
                eprintln!("cannot read the PIN: {e}");
                None
            }
        }
    }
}

/// The security key of this machine: the USB and NFC keys on Linux and
/// macOS (or, built with `danger-soft-authenticator` and
/// [`ENV_DANGER_SOFT_AUTHENTICATOR`] set, the test's software token);
/// `None` where this build reaches none. `wait`: how long to wait for a
/// key when none is plugged in.
pub(super) fn security_key(wait: Duration) -> Result<Option<SharedAuthenticator>, Failure> {
    #[cfg(feature = "danger-soft-authenticator")]
    if let Some(path) = std::env::var_os(ENV_DANGER_SOFT_AUTHENTICATOR) {
        use countersign_approver::webauthn::SoftAuthenticator;
        eprintln!("warning: {ENV_DANGER_SOFT_AUTHENTICATOR} is set: a software token stands in for the security key");
        let soft = SoftAuthenticator::open_file(std::path::Path::new(&path))
            .map_err(|e| Failure::new(e.to_string()))?
            .with_prompt(std::sync::Arc::new(TerminalPrompt));
        return Ok(Some(SharedAuthenticator::new(soft)));
    }
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        use countersign_approver::webauthn::CtapAuthenticator;
        let key = CtapAuthenticator::new(std::sync::Arc::new(TerminalPrompt)).with_find_timeout(wait);
        Ok(Some(SharedAuthenticator::new(key)))
    }
    // Windows shows its own prompts (the system's WebAuthn API).
    #[cfg(windows)]
    {
        let _ = wait;
        Ok(Some(SharedAuthenticator::new(countersign_approver::webauthn::WindowsAuthenticator)))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = wait;
        Ok(None)
    }
}

/// The security key for an approval that requires one, or the refusal.
pub(super) fn required_security_key(wait: Duration) -> Result<SharedAuthenticator, Failure> {
    security_key(wait)?.ok_or_else(|| {
        Failure::new(
            "this request requires a security key, and this build of countersign-cli reaches none \
             (security keys work on Linux, macOS and Windows): approve it on another device",
        )
    })
}

/// The account `account` names, or the only one.
pub(super) async fn one_account(approver: &Approver, account: Option<String>) -> Result<Account, Failure> {
    if let Some(id) = account {
        return Ok(approver.store().account(&id).await?);
    }
    let mut accounts = approver.accounts().await?;
    match accounts.len() {
        1 => Ok(accounts.remove(0)),
        0 => Err(Failure::new("no account: enroll first")),
        _ => Err(Failure::new("several accounts: choose one with --account (see `accounts`)")),
    }
}

/// One line of `keys list`.
pub(super) fn key_line(c: &WebauthnCredential, now: u64) -> String {
    let used = match c.last_used_at {
        Some(t) => format!("last used {} ({})", render::utc_time(t), render::ago(t, now)),
        None => "never used".into(),
    };
    let mut line =
        format!("{}  \"{}\"  added {}  {used}", text(&c.credential_id), text(&c.name), render::utc_time(c.created_at));
    if let Some(t) = c.flagged_at {
        line.push_str(&format!(
            "  FLAGGED since {}: its counter went back, it may be cloned; remove it",
            render::utc_time(t)
        ));
    }
    line
}

pub(super) async fn keys_command(out: &Out, approver: &Approver, command: KeysCommand) -> Outcome {
    let now = approver.config().clock.now();
    match command {
        KeysCommand::Add { name, account, key_wait } => {
            let account = one_account(approver, account).await?;
            let key = security_key(Duration::from_secs(key_wait))?.ok_or_else(|| {
                Failure::new(
                    "this build of countersign-cli reaches no security key (they work on Linux, macOS and Windows)",
                )
            })?;
            let added = approver.add_security_key(&account.id, &name, &key).await?;
            out.print(&added, || {
                format!(
                    "Added security key \"{}\" ({}) for {} at {}.",
                    text(&added.name),
                    text(&added.credential_id),
                    text(&account.user.name),
                    text(account.issuer.as_str())
                )
            });
        }
        KeysCommand::List { account } => {
            let account = one_account(approver, account).await?;
            let list = approver.security_keys(&account.id).await?;
            out.print(&list, || {
                let head = format!(
                    "Security keys of {} at {} (relying party {}):",
                    text(&account.user.name),
                    text(account.issuer.as_str()),
                    text(&list.rp_id)
                );
                if list.credentials.is_empty() {
                    format!("{head}\nnone. Add one with `countersign-cli keys add --name NAME`.")
                } else {
                    let lines: Vec<_> = list.credentials.iter().map(|c| key_line(c, now)).collect();
                    format!("{head}\n{}", lines.join("\n"))
                }
            });
        }
        KeysCommand::Remove { credential_id, account } => {
            let account = one_account(approver, account).await?;
            approver.remove_security_key(&account.id, &credential_id).await?;
            out.print(&json!({ "removed": credential_id }), || {
                format!("Removed security key {}.", text(&credential_id))
            });
        }
    }
    Ok(0)
}
