//! User verification: the operating system asks who is at the keyboard
//! before an approval is signed (`docs/approver.md`, "Verifying the user").
//!
//! - [`UserVerifier`]: one method, blocking: ask the OS to verify the
//!   person (a password, a fingerprint, Touch ID, Windows Hello) for a
//!   reason naming the request; the answer is the RFC 8176 `amr` values the
//!   decision then carries (`docs/protocol.md` §8.1).
//! - `PolkitVerifier` (Linux): polkit's `CheckAuthorization` for the
//!   action [`POLKIT_ACTION`] (`auth_self`: every approval asks), with the
//!   session's authentication agent, or in a terminal its own text agent.
//! - `LocalAuthenticationVerifier` (macOS), `WindowsHelloVerifier`
//!   (Windows): written against the documented APIs, not built here.
//! - [`Unavailable`]: no OS verification on this machine; a request that
//!   requires it cannot be approved here (never a silent downgrade).
//! - `FixedVerifier` (feature `danger-fixed-verifier`): answers without
//!   asking anyone, for tests only.

use countersign_protocol::amr::Amr;
use std::fmt;
use std::sync::Arc;

#[cfg(target_os = "linux")]
mod polkit;
#[cfg(target_os = "linux")]
pub use polkit::{PolkitVerifier, TextAgent};
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::LocalAuthenticationVerifier;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::WindowsHelloVerifier;
#[cfg(feature = "danger-fixed-verifier")]
mod fixed;
#[cfg(feature = "danger-fixed-verifier")]
pub use fixed::{FixedAnswer, FixedVerifier};

/// The polkit action every approval checks (shipped as
/// `packaging/linux/org.countersign.approve.policy`).
pub const POLKIT_ACTION: &str = "org.countersign.approve";

/// DANGER, tests only: in a build with the `danger-fixed-verifier` feature
/// (the CLI's and the desktop's test builds), the OS prompt is replaced by
/// this answer: `verified` (amr `user`), `refused`, `cancelled` or
/// `unavailable`.
pub const ENV_DANGER_FIXED_VERIFIER: &str = "COUNTERSIGN_DANGER_FIXED_VERIFIER";

/// Whether the OS can verify the user here, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// It can (the prompt may still fail or be cancelled).
    Available,
    /// It cannot; the text says why ("no polkit authentication agent…").
    Unavailable(String),
}

/// Why a verification did not verify the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The OS asked and the person was not verified (wrong password, a
    /// policy rule said no).
    #[error("the operating system did not verify you: {0}")]
    Refused(String),
    /// The person dismissed the prompt.
    #[error("user verification was cancelled")]
    Cancelled,
    /// No OS verification on this machine or session.
    #[error("user verification is not available here: {0}")]
    Unavailable(String),
    /// The verification could not be run (D-Bus, the agent).
    #[error("user verification failed: {0}")]
    Failed(String),
}

/// Asks the operating system to verify the person at the keyboard.
/// Implementations block (they wait for the person); async callers run
/// them on the blocking pool.
pub trait UserVerifier: Send + Sync {
    /// What asks, for messages: "polkit", "Windows Hello".
    fn method(&self) -> &'static str;

    /// Whether a verification can be asked for here.
    fn availability(&self) -> Availability;

    /// Asks; `reason` names the request ("Approve: buy 10 AAPL for
    /// Portfolio Agent", already made safe for a system prompt by
    /// [`prompt_reason`]). On success, the `amr` values it proves.
    ///
    /// # Errors
    /// [`VerifyError`].
    fn verify(&self, reason: &str) -> Result<Vec<Amr>, VerifyError>;
}

/// A shared verifier (the approver's configuration holds one).
pub type SharedVerifier = Arc<dyn UserVerifier>;

/// No OS verification here: every check says why.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

impl UserVerifier for Unavailable {
    fn method(&self) -> &'static str {
        "none"
    }

    fn availability(&self) -> Availability {
        Availability::Unavailable(self.0.clone())
    }

    fn verify(&self, _reason: &str) -> Result<Vec<Amr>, VerifyError> {
        Err(VerifyError::Unavailable(self.0.clone()))
    }
}

impl fmt::Debug for dyn UserVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserVerifier({})", self.method())
    }
}

/// The reason of a verification asked only to check the setup
/// ([`crate::Approver::check_user_verification`]).
pub const CHECK_REASON: &str = "Check that Countersign can verify you before approvals (nothing is approved)";

/// Longest quote of each agent text in a system prompt's reason, in
/// characters (before escaping).
pub const MAX_QUOTE_CHARS: usize = 64;

/// The reason a system prompt shows: `Approve: <what> for <agent>
/// (<binding code>)`, where `what` is the rendered summary of the request's
/// first detail ("buy 10 AAPL", "and N more" when it has several). The
/// texts come from the agent: each is escaped as the CLI escapes it (every
/// flagged character as `\u{XXXX}`, `countersign_text`) and cut with an
/// ellipsis, since the system dialog is not ours to style.
#[must_use]
pub fn prompt_reason(what: &str, more: usize, client_name: &str, binding_message: &str) -> String {
    use countersign_text::{escape_at_most, Context};
    let quote = |s: &str| escape_at_most(s, Context::Line, MAX_QUOTE_CHARS);
    let more = match more {
        0 => String::new(),
        1 => " and 1 more".to_owned(),
        n => format!(" and {n} more"),
    };
    format!("Approve: {}{more} for {} ({})", quote(what), quote(client_name), quote(binding_message))
}

/// Why a request that requires user verification cannot be approved on
/// this approver (`why`: the verifier's reason), and what would work.
#[must_use]
pub fn cannot_verify(why: &str) -> String {
    format!(
        "this request requires your operating system to verify that it is you, which is not possible here \
         ({why}); approve it on another device where you are enrolled, or deny it"
    )
}

/// What the approver knows of its verifier: which method, and whether it
/// can ask now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierStatus {
    /// [`UserVerifier::method`].
    pub method: &'static str,
    /// [`UserVerifier::availability`].
    pub availability: Availability,
}

impl VerifierStatus {
    /// Asks `verifier` (blocking: D-Bus on Linux).
    #[must_use]
    pub fn of(verifier: &dyn UserVerifier) -> Self {
        Self { method: verifier.method(), availability: verifier.availability() }
    }

    /// Not checked (views built without an approver, such as tests'):
    /// approvals that need it are not offered.
    #[must_use]
    pub fn unchecked() -> Self {
        Self { method: "none", availability: Availability::Unavailable("user verification was not checked".into()) }
    }
}

/// The platform's verifier: polkit on Linux (with its own text agent when
/// `terminal` and standard input is a terminal), LocalAuthentication on
/// macOS, Windows Hello on Windows; [`Unavailable`] elsewhere. In a build
/// with `danger-fixed-verifier`, [`ENV_DANGER_FIXED_VERIFIER`] replaces it.
#[must_use]
pub fn platform(terminal: bool) -> SharedVerifier {
    #[cfg(feature = "danger-fixed-verifier")]
    if let Some(fixed) = FixedVerifier::from_env() {
        return Arc::new(fixed);
    }
    #[cfg(target_os = "linux")]
    {
        let agent = if terminal { TextAgent::IfTerminal } else { TextAgent::Session };
        Arc::new(PolkitVerifier::new(POLKIT_ACTION, agent))
    }
    #[cfg(target_os = "macos")]
    {
        let _ = terminal;
        Arc::new(LocalAuthenticationVerifier)
    }
    #[cfg(windows)]
    {
        let _ = terminal;
        Arc::new(WindowsHelloVerifier)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = terminal;
        Arc::new(Unavailable("this operating system has no user verification Countersign can use".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_reveals_hidden_characters_and_is_bounded() {
        assert_eq!(
            prompt_reason("buy 10 AAPL", 0, "Portfolio Agent", "TRADE-4F7Q"),
            "Approve: buy 10 AAPL for Portfolio Agent (TRADE-4F7Q)"
        );
        assert_eq!(prompt_reason("pay 5 EUR", 2, "A", "C"), "Approve: pay 5 EUR and 2 more for A (C)");
        let r = prompt_reason("pay\u{202E}evil", 0, "A\u{200B}gent\n", "X");
        assert_eq!(r, "Approve: pay\\u{202E}evil for A\\u{200B}gent\\n (X)");
        let long = prompt_reason(&"x".repeat(500), 0, "Agent", "C");
        assert_eq!(long, format!("Approve: {}… for Agent (C)", "x".repeat(MAX_QUOTE_CHARS)));
    }

    #[test]
    fn unavailable_says_why_and_never_verifies() {
        let v = Unavailable("no polkit".into());
        assert_eq!(v.availability(), Availability::Unavailable("no polkit".into()));
        assert_eq!(v.verify("Approve: x for y"), Err(VerifyError::Unavailable("no polkit".into())));
    }
}
