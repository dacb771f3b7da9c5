//! Which requests need a WebAuthn assertion to be approved.

use countersign_protocol::device::Risk;

use crate::oauth::clients::StepUpAt;

/// Whether a request of `risk` needs WebAuthn: the client's own setting if
/// the operator gave it one, else the server's (`None`: never).
#[must_use]
pub fn needs_webauthn(server: Option<&Risk>, client: Option<&StepUpAt>, risk: &Risk) -> bool {
    from_risk(server, client, risk)
}

/// Whether a request of `risk` reaches a step-up threshold: the client's
/// own setting if the operator gave it one, else the server's (`None`:
/// never). An unknown risk counts as the highest.
#[must_use]
pub fn from_risk(server: Option<&Risk>, client: Option<&StepUpAt>, risk: &Risk) -> bool {
    let from = match client {
        Some(StepUpAt::Never) => None,
        Some(StepUpAt::From(r)) => Some(r),
        None => server,
    };
    from.is_some_and(|from| risk.rank() >= from.rank())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_setting_wins_over_the_server_one() {
        let critical = Some(&Risk::Critical);
        assert!(needs_webauthn(critical, None, &Risk::Critical));
        assert!(needs_webauthn(critical, None, &Risk::Extension("extreme".into())), "unknown counts as critical");
        assert!(!needs_webauthn(critical, None, &Risk::High));
        assert!(!needs_webauthn(None, None, &Risk::Critical), "off on the server");
        assert!(needs_webauthn(critical, Some(&StepUpAt::From(Risk::Medium)), &Risk::Medium));
        assert!(!needs_webauthn(critical, Some(&StepUpAt::From(Risk::Medium)), &Risk::Low));
        assert!(!needs_webauthn(critical, Some(&StepUpAt::Never), &Risk::Critical));
        assert!(needs_webauthn(None, Some(&StepUpAt::From(Risk::High)), &Risk::Critical));
    }
}
