//! The confirmation rule that gates an approval, the same for every
//! approver (the desktop app, `countersign-cli`, any later one).
//!
//! Approving needs the user to type the request's binding message when
//!
//! - `requires` holds `user_verification` (typing the code proves that the
//!   person read the request, a deliberate act, not who is at the
//!   keyboard: that is the OS prompt's or the security key's, `crate::verify`,
//!   `docs/approver.md`), or
//! - the effective risk is high or critical: the higher of the server's
//!   level (an unknown level counts as critical) and the level of every
//!   detail as rendered here (a type without a display schema counts as
//!   critical, as the server counts it).
//!
//! The typed text confirms when, with surrounding white space removed, it
//! equals the binding message exactly (case-sensitive; nothing else is
//! normalised). [`crate::Approver::decide`] enforces it, and
//! [`crate::RequestView::confirmation_required`] tells shells to ask, so no
//! shell has a rule of its own.

use crate::error::{Error, Result};
use countersign_details::DisplayModel;
use countersign_protocol::device::{ApproverRequest, Requirement, Risk};
use serde::Serialize;

/// Why approving a request needs its binding message typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ConfirmationReason {
    /// `requires` holds `user_verification`.
    UserVerification,
    /// The effective risk is high or critical.
    Risk {
        /// `high` or `critical`.
        risk: Risk,
    },
}

fn detail_rank(risk: countersign_details::Risk) -> u8 {
    use countersign_details::Risk as R;
    match risk {
        R::Low => 0,
        R::Medium => 1,
        R::High => 2,
        R::Critical | R::Unknown => 3,
    }
}

/// The risk an approver acts on: the higher of the server's level (an
/// unknown level counts as critical) and every detail's level as rendered
/// here (a detail without a display schema counts as critical).
#[must_use]
pub fn effective_risk(request: &ApproverRequest, display: &DisplayModel) -> Risk {
    let details = display.details.iter().map(|d| detail_rank(d.risk)).max().unwrap_or(0);
    match request.risk.rank().max(details) {
        0 => Risk::Low,
        1 => Risk::Medium,
        2 => Risk::High,
        _ => Risk::Critical,
    }
}

/// Why approving `request` (rendered as `display`) needs its binding
/// message typed; `None` when it does not.
#[must_use]
pub fn confirmation_reason(request: &ApproverRequest, display: &DisplayModel) -> Option<ConfirmationReason> {
    if request.requires.contains(&Requirement::UserVerification) {
        return Some(ConfirmationReason::UserVerification);
    }
    let risk = effective_risk(request, display);
    (risk.rank() >= 2).then_some(ConfirmationReason::Risk { risk })
}

/// Whether approving needs the binding message typed.
#[must_use]
pub fn confirmation_required(request: &ApproverRequest, display: &DisplayModel) -> bool {
    confirmation_reason(request, display).is_some()
}

/// Whether `typed` confirms `binding_message`: with surrounding white space
/// removed it equals the binding message exactly (never empty).
#[must_use]
pub fn confirms(binding_message: &str, typed: &str) -> bool {
    let typed = typed.trim();
    !typed.is_empty() && typed == binding_message
}

/// Checks an approval against the rule: `Ok` when no confirmation is needed
/// or `typed` confirms.
///
/// # Errors
/// [`Error::UserVerificationRequired`] or [`Error::RiskConfirmationRequired`]
/// when the confirmation is needed and nothing was typed;
/// [`Error::BindingMessageMismatch`] when the typed text is not the binding
/// message.
pub fn check(request: &ApproverRequest, display: &DisplayModel, typed: Option<&str>) -> Result<()> {
    let Some(reason) = confirmation_reason(request, display) else { return Ok(()) };
    match typed.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if confirms(&request.binding_message, t) => Ok(()),
        Some(_) => Err(Error::BindingMessageMismatch),
        None => Err(match reason {
            ConfirmationReason::UserVerification => Error::UserVerificationRequired,
            ConfirmationReason::Risk { risk } => Error::RiskConfirmationRequired { risk: risk.as_str().to_owned() },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_details::{Registry, RenderOptions};
    use serde_json::json;

    fn request(risk: &str, requires: &[&str], details: serde_json::Value) -> ApproverRequest {
        let text = include_str!("../../protocol/testdata/device/examples/approver-request.json");
        let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
        value["risk"] = json!(risk);
        value["requires"] = json!(requires);
        value["authorization_details"] = details;
        serde_json::from_value(value).unwrap()
    }

    fn calendar() -> serde_json::Value {
        json!([{"type":"urn:countersign:details:v1:calendar_event","action":"create","title":"Dentist","start":"2026-12-03T09:30:00Z"}])
    }

    fn render(r: &ApproverRequest) -> DisplayModel {
        Registry::builtin().unwrap().render(&r.authorization_details, &RenderOptions::default())
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Want {
        Ok,
        Uv,
        Risk(&'static str),
        Mismatch,
    }

    fn outcome(r: Result<()>) -> Want {
        match r {
            Ok(()) => Want::Ok,
            Err(Error::UserVerificationRequired) => Want::Uv,
            Err(Error::RiskConfirmationRequired { risk }) => Want::Risk(match risk.as_str() {
                "high" => "high",
                "critical" => "critical",
                other => panic!("unexpected risk {other}"),
            }),
            Err(Error::BindingMessageMismatch) => Want::Mismatch,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    /// Risk × requires × typed text, through the one check every approver
    /// runs (the binding message is `TRADE-4F7Q`).
    #[test]
    fn the_confirmation_rule_over_risk_requires_and_typed_text() {
        use Want::*;
        let uv: &[&str] = &["user_verification"];
        let none: &[&str] = &[];
        #[rustfmt::skip]
        let table: &[(&str, &[&str], Option<&str>, Want)] = &[
            // Low and medium risk without requirements: nothing to type,
            // and whatever is typed is ignored.
            ("low", none, None, Ok),
            ("low", none, Some("anything"), Ok),
            ("medium", none, None, Ok),
            ("medium", none, Some(""), Ok),
            // High and critical need the code.
            ("high", none, None, Risk("high")),
            ("high", none, Some(""), Risk("high")),
            ("high", none, Some("   "), Risk("high")),
            ("high", none, Some("TRADE-4F7Q"), Ok),
            ("high", none, Some(" TRADE-4F7Q\n"), Ok),
            ("high", none, Some("trade-4f7q"), Mismatch),
            ("high", none, Some("TRADE-4F7"), Mismatch),
            ("high", none, Some("TRADE- 4F7Q"), Mismatch),
            ("critical", none, None, Risk("critical")),
            ("critical", none, Some("TRADE-4F7Q"), Ok),
            ("critical", none, Some("TRADE-4F7QX"), Mismatch),
            // An unknown level counts as critical.
            ("catastrophic", none, None, Risk("critical")),
            ("catastrophic", none, Some("TRADE-4F7Q"), Ok),
            // user_verification needs the code at any risk, and says so.
            ("low", uv, None, Uv),
            ("low", uv, Some("TRADE-4F7Q"), Ok),
            ("low", uv, Some("TRADE-4F7q"), Mismatch),
            ("medium", uv, Some("\tTRADE-4F7Q "), Ok),
            ("high", uv, None, Uv),
            ("high", uv, Some("TRADE-4F7Q"), Ok),
            ("critical", uv, Some("nope"), Mismatch),
        ];
        for (risk, requires, typed, want) in table {
            let r = request(risk, requires, calendar());
            let display = render(&r);
            let got = outcome(check(&r, &display, *typed));
            assert_eq!(&got, want, "risk {risk}, requires {requires:?}, typed {typed:?}");
            assert_eq!(
                confirmation_required(&r, &display),
                *risk != "low" && *risk != "medium" || !requires.is_empty()
            );
        }
    }

    #[test]
    fn a_detail_of_higher_risk_than_the_server_said_needs_the_code_too() {
        // The server says low; the approver's rendering says high (a stock
        // trade) or unknown (no schema: critical).
        let trade = json!([{"type":"urn:countersign:details:v1:stock_trade","action":"buy","symbol":"ACME","quantity":"1","order_type":"market"}]);
        let r = request("low", &[], trade);
        let display = render(&r);
        assert_eq!(effective_risk(&r, &display), Risk::High);
        assert_eq!(confirmation_reason(&r, &display), Some(ConfirmationReason::Risk { risk: Risk::High }));
        assert!(matches!(check(&r, &display, None), Err(Error::RiskConfirmationRequired { .. })));

        let unknown = json!([{"type":"urn:example:no-schema","x":"1"}]);
        let r = request("low", &[], unknown);
        let display = render(&r);
        assert_eq!(effective_risk(&r, &display), Risk::Critical);

        let r = request("low", &[], calendar());
        assert_eq!(effective_risk(&r, &render(&r)), Risk::Low);
        assert_eq!(confirmation_reason(&r, &render(&r)), None);
    }

    #[test]
    fn the_typed_text_is_trimmed_and_compared_exactly() {
        assert!(confirms("TRADE-4F7Q", "TRADE-4F7Q"));
        assert!(confirms("TRADE-4F7Q", "\u{a0} TRADE-4F7Q\r\n"));
        assert!(!confirms("TRADE-4F7Q", "TRADE-4F7Q\u{200B}"), "an invisible character is not white space");
        assert!(!confirms("TRADE-4F7Q", "TRADE\u{2011}4F7Q"), "a lookalike hyphen is another character");
        assert!(!confirms("TRADE-4F7Q", "ＴRADE-4F7Q"), "no Unicode normalisation");
        assert!(!confirms("", ""), "an empty code confirms nothing");
        assert!(!confirms(" CODE", "CODE"), "the binding message itself is not trimmed");
    }
}
