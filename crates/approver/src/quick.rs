//! Deciding from a notification: a request may be approved there only when
//! the notification shows everything the approval commits to.
//!
//! [`quick_decision`] is the one rule. A request is eligible only when
//!
//! - it is approvable here ([`RequestView::approvable`]);
//! - its agent (client) is verified by the server's operator;
//! - every requested scope is in the policy's low-risk set (default just
//!   `openid`, [`QuickPolicy`], configurable in
//!   [`crate::ApproverConfig::quick`]);
//! - it requires nothing (`requires` empty) and no typed confirmation
//!   ([`crate::confirm`]);
//! - the server's risk and every detail's risk are low;
//! - nothing anywhere has a warning (details, fields, the request's own
//!   strings);
//! - every field of every detail appears whole in the notification text: at
//!   most [`MAX_FIELD_LINES`] lines, none longer than [`MAX_LINE_CHARS`],
//!   no sensitive field, nothing the notification would have to alter
//!   (line breaks, control or flagged characters).
//!
//! When it is, [`QuickText`] is exactly the text the notification shows;
//! otherwise [`NotQuick`] says why.

use crate::display::RequestView;
use countersign_details::{DetailView, Field, FieldValue, JsonType};
use countersign_protocol::device::Risk;
use serde::Serialize;
use std::collections::BTreeSet;

/// Most lines of fields a notification shows (after the summary line).
pub const MAX_FIELD_LINES: usize = 8;
/// Longest line of a notification ("Label: value"), in characters.
pub const MAX_LINE_CHARS: usize = 100;
/// Longest summary line, in characters.
pub const MAX_SUMMARY_CHARS: usize = 120;
/// Longest agent name in the notification's title, in characters.
pub const MAX_AGENT_CHARS: usize = 64;
/// Between a parent's label and a nested field's: `Merchant › Name`.
pub const LABEL_SEPARATOR: &str = " › ";

/// Which requests may be decided from a notification beyond the fixed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickPolicy {
    /// Scopes a quick approval may grant (default: `openid` only). A request
    /// asking for any other scope opens the window.
    pub low_risk_scopes: BTreeSet<String>,
}

impl Default for QuickPolicy {
    fn default() -> Self {
        Self { low_risk_scopes: BTreeSet::from(["openid".to_owned()]) }
    }
}

/// Exactly what the notification of an eligible request shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuickText {
    /// The notification's title: `<agent> asks for your approval`.
    pub title: String,
    /// Its body, line by line: the summary line, one `Label: value` line per
    /// field of every detail (nested ones as `Parent › Child: value`), then
    /// `Code <binding message> · low risk`.
    pub lines: Vec<String>,
}

impl QuickText {
    /// The body: the lines joined by line breaks.
    #[must_use]
    pub fn body(&self) -> String {
        self.lines.join("\n")
    }
}

/// Why a request may not be decided from its notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotQuick {
    /// The request cannot be approved here at all.
    #[error("the request cannot be approved here")]
    NotApprovable,
    /// The agent is not verified by the server's operator.
    #[error("the agent is not verified")]
    UnverifiedClient,
    /// A scope outside the policy's low-risk set.
    #[error("the scope \"{scope}\" is not a low-risk scope")]
    Scope {
        /// The first such scope.
        scope: String,
    },
    /// The request requires a step-up.
    #[error("the request requires {requirement}")]
    Requirement {
        /// The first requirement.
        requirement: String,
    },
    /// Approving needs the binding message typed.
    #[error("approving needs the binding message typed")]
    ConfirmationRequired,
    /// The server's risk is not low.
    #[error("the server rates the request {risk} risk")]
    ServerRisk {
        /// The server's level.
        risk: String,
    },
    /// A detail's risk is not low.
    #[error("detail {index} is not low risk")]
    DetailRisk {
        /// The detail's position.
        index: usize,
    },
    /// The request has no detail (a scope-only request: its access block
    /// is shown in the app only).
    #[error("the request has no detail")]
    NoDetails,
    /// The token would be for a named API (`audience`), which a
    /// notification does not show.
    #[error("the request names an API the token is for")]
    Audience,
    /// Warnings somewhere (details, fields, the request's own strings).
    #[error("the request has {count} warning(s)")]
    Warnings {
        /// How many.
        count: usize,
    },
    /// A sensitive field (kept out of notifications).
    #[error("the field at {at} is sensitive")]
    SensitiveField {
        /// Where: `/authorization_details/<index><path>`.
        at: String,
    },
    /// A line would not fit whole (summary, agent name, a field, the code).
    #[error("{at} is too long for a notification")]
    TooLong {
        /// Where: a JSON Pointer into the request, or `summary`.
        at: String,
    },
    /// A value a notification line cannot show unaltered (line breaks,
    /// control or flagged characters).
    #[error("{at} cannot be shown on one notification line as it is")]
    NotOneLine {
        /// Where: a JSON Pointer into the request.
        at: String,
    },
    /// More fields than a notification shows.
    #[error("{count} fields are more than a notification shows")]
    TooManyFields {
        /// How many lines the fields would take.
        count: usize,
    },
}

/// The inbox's summary line: the schema summaries, else the detail titles,
/// joined by ` · `.
#[must_use]
pub fn summary_line(view: &RequestView) -> String {
    let parts: Vec<&str> =
        view.display.details.iter().map(|d| d.summary.as_ref().map_or(d.title.as_str(), |s| s.text.as_str())).collect();
    if parts.is_empty() {
        "No details".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// Whether `text` shows on one notification line exactly as it is: nothing
/// the one text classifier flags in a line, no control character.
fn one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
        && countersign_text::replace_flagged(text, countersign_text::Context::Line, '\u{FFFD}') == text
}

fn check_line(line: &str, at: impl Fn() -> String, max: usize) -> Result<(), NotQuick> {
    if !one_line(line) {
        return Err(NotQuick::NotOneLine { at: at() });
    }
    if line.chars().count() > max {
        return Err(NotQuick::TooLong { at: at() });
    }
    Ok(())
}

/// A scalar or an amount as the app shows it: the value exactly, then its
/// reading aids in parentheses.
fn value_text(value: &FieldValue) -> Option<String> {
    match value {
        FieldValue::Scalar { json_type: JsonType::Null, .. } => Some("empty (null)".to_owned()),
        FieldValue::Scalar { text, display, utc, .. } => {
            let mut out = text.clone();
            if let Some(display) = display {
                out.push_str(&format!(" ({display})"));
            }
            // The same instant in UTC, unless the reading aid already is it.
            if let Some(utc) = utc.as_ref().filter(|u| Some(*u) != display.as_ref()) {
                out.push_str(&format!(" ({utc})"));
            }
            Some(out)
        }
        FieldValue::Money { text, display, .. } => {
            Some(if display == text { text.clone() } else { format!("{text} ({display})") })
        }
        FieldValue::Object { fields } if fields.is_empty() => Some("(empty)".to_owned()),
        FieldValue::Array { items } if items.is_empty() => Some("(empty list)".to_owned()),
        FieldValue::Object { .. } | FieldValue::Array { .. } => None,
    }
}

/// One line per leaf of `field` (nested fields labelled `Parent › Child`).
fn field_lines(field: &Field, prefix: &str, detail: usize, out: &mut Vec<String>) -> Result<(), NotQuick> {
    let at = || format!("/authorization_details/{detail}{}", field.path);
    if field.sensitive {
        return Err(NotQuick::SensitiveField { at: at() });
    }
    let label = format!("{prefix}{}", field.label);
    match value_text(&field.value) {
        Some(value) => {
            let line = format!("{label}: {value}");
            check_line(&line, at, MAX_LINE_CHARS)?;
            out.push(line);
        }
        None => {
            let children = match &field.value {
                FieldValue::Object { fields } => fields,
                FieldValue::Array { items } => items,
                _ => return Ok(()),
            };
            let prefix = format!("{label}{LABEL_SEPARATOR}");
            for child in children {
                field_lines(child, &prefix, detail, out)?;
                if out.len() > MAX_FIELD_LINES {
                    return Err(NotQuick::TooManyFields { count: out.len() });
                }
            }
        }
    }
    Ok(())
}

fn detail_lines(detail: &DetailView, several: bool, out: &mut Vec<String>) -> Result<(), NotQuick> {
    let prefix = if several { format!("{}{LABEL_SEPARATOR}", detail.title) } else { String::new() };
    for field in detail.fields.iter().chain(&detail.undescribed) {
        field_lines(field, &prefix, detail.index, out)?;
        if out.len() > MAX_FIELD_LINES {
            return Err(NotQuick::TooManyFields { count: out.len() });
        }
    }
    Ok(())
}

/// Whether `view` may be decided from its notification under `policy`,
/// and if so exactly what the notification shows.
///
/// # Errors
/// [`NotQuick`]: the first rule the request breaks, in the order of the
/// module's list.
pub fn quick_decision(view: &RequestView, policy: &QuickPolicy) -> Result<QuickText, NotQuick> {
    let request = &view.item.request;
    if !view.approvable {
        return Err(NotQuick::NotApprovable);
    }
    if !request.client.verified {
        return Err(NotQuick::UnverifiedClient);
    }
    if let Some(scope) = request.scope.iter().find(|s| !policy.low_risk_scopes.contains(s.as_str())) {
        return Err(NotQuick::Scope { scope: scope.clone() });
    }
    if let Some(r) = request.requires.first() {
        return Err(NotQuick::Requirement { requirement: r.as_str().to_owned() });
    }
    if view.confirmation_required {
        return Err(NotQuick::ConfirmationRequired);
    }
    if request.effective_risk() != Risk::Low {
        return Err(NotQuick::ServerRisk { risk: request.effective_risk().as_str().to_owned() });
    }
    if view.display.details.is_empty() {
        return Err(NotQuick::NoDetails);
    }
    if request.audience.is_some() {
        return Err(NotQuick::Audience);
    }
    if let Some(d) = view.display.details.iter().find(|d| d.risk != countersign_details::Risk::Low) {
        return Err(NotQuick::DetailRisk { index: d.index });
    }
    let warnings = view.display.warning_count.max(view.request_text.len());
    if warnings > 0 {
        return Err(NotQuick::Warnings { count: warnings });
    }

    let agent = &request.client.client_name;
    check_line(agent, || "/client/client_name".to_owned(), MAX_AGENT_CHARS)?;
    let summary = summary_line(view);
    check_line(&summary, || "summary".to_owned(), MAX_SUMMARY_CHARS)?;
    let mut fields = Vec::new();
    let several = view.display.details.len() > 1;
    for detail in &view.display.details {
        detail_lines(detail, several, &mut fields)?;
    }
    let code = format!("Code {} · low risk", request.binding_message);
    check_line(&code, || "/binding_message".to_owned(), MAX_LINE_CHARS)?;

    let mut lines = Vec::with_capacity(fields.len() + 2);
    lines.push(summary);
    lines.extend(fields);
    lines.push(code);
    Ok(QuickText { title: format!("{agent} asks for your approval"), lines })
}

impl crate::Approver {
    /// [`quick_decision`] under this approver's [`QuickPolicy`]
    /// ([`crate::ApproverConfig::quick`]).
    ///
    /// # Errors
    /// [`NotQuick`].
    pub fn quick_decision(&self, view: &RequestView) -> Result<QuickText, NotQuick> {
        quick_decision(view, &self.inner.config.quick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InboxItem, LocalStatus};
    use countersign_details::{Registry, RenderOptions};
    use countersign_protocol::device::ApproverRequest;
    use serde_json::{json, Value};

    const CALENDAR: &str = "urn:countersign:details:v1:calendar_event";

    fn calendar() -> Value {
        json!([{"type": CALENDAR, "action": "create", "title": "Dentist", "start": "2026-12-03T09:30:00Z", "duration": "PT45M"}])
    }

    /// A pending low-risk request from a verified agent asking only for
    /// `openid`, edited by `f`, rendered with the built-in schemas.
    fn view(f: impl FnOnce(&mut Value)) -> RequestView {
        let text = include_str!("../../protocol/testdata/device/examples/approver-request.json");
        let mut value: Value = serde_json::from_str(text).unwrap();
        value["authorization_details"] = calendar();
        // No API named (the example names one).
        value.as_object_mut().unwrap().remove("audience");
        value["risk"] = json!("low");
        value["requires"] = json!([]);
        value["scope"] = json!(["openid"]);
        value["acr_values"] = Value::Null;
        value["binding_message"] = json!("CAL-1");
        f(&mut value);
        let request: ApproverRequest = serde_json::from_value(value).unwrap();
        let display = Registry::builtin().unwrap().render(&request.authorization_details, &RenderOptions::default());
        let item = InboxItem {
            account_id: "acct".into(),
            request_json: String::new(),
            request,
            status: LocalStatus::Pending,
            status_reason: None,
            received_at: 0,
            updated_at: 0,
        };
        // The OS can verify the user: each rule is tested alone.
        let verifier =
            crate::verify::VerifierStatus { method: "test", availability: crate::verify::Availability::Available };
        RequestView::build_with(item, display, 0, false, &verifier)
    }

    #[test]
    fn an_eligible_request_shows_every_field_whole() {
        let text = quick_decision(&view(|_| {}), &QuickPolicy::default()).unwrap();
        assert_eq!(text.title, "Portfolio Agent asks for your approval");
        // The summary line, then every field as the app shows it (the
        // duration is not in the summary), then the code.
        assert_eq!(
            text.lines,
            [
                "create “Dentist” on Thu, Dec 3, 2026, 9:30 AM UTC",
                "Action: create",
                "Title: Dentist",
                "Starts: 2026-12-03T09:30:00Z (Thu, Dec 3, 2026, 9:30 AM UTC)",
                "Duration: PT45M (45 minutes)",
                "Code CAL-1 · low risk",
            ]
        );
        assert_eq!(text.body(), text.lines.join("\n"));
    }

    /// One row per reason a notification cannot decide, each from an
    /// otherwise eligible request; the example first.
    #[test]
    fn each_rule_alone_takes_the_quick_decision_away() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let payments = BTreeSet::from(["openid".to_owned(), "calendar".to_owned()]);
        #[rustfmt::skip]
        let rows: Vec<(&str, Edit, NotQuick)> = vec![
            ("an unverified client", Box::new(|v| v["client"]["verified"] = json!(false)), NotQuick::UnverifiedClient),
            ("openid payments:write", Box::new(|v| v["scope"] = json!(["openid", "payments:write"])),
                NotQuick::Scope { scope: "payments:write".into() }),
            ("a field not in the summary that the notification would cut",
                Box::new(|v| v["authorization_details"][0]["location"] = json!("L".repeat(120))),
                NotQuick::TooLong { at: "/authorization_details/0/location".into() }),
            ("not approvable (a schema violation)", Box::new(|v| v["authorization_details"][0]["action"] = json!("explode")),
                NotQuick::NotApprovable),
            ("a required step-up", Box::new(|v| v["requires"] = json!(["user_verification"])),
                NotQuick::Requirement { requirement: "user_verification".into() }),
            ("a typed confirmation (high risk)", Box::new(|v| v["risk"] = json!("high")), NotQuick::ConfirmationRequired),
            ("the server's medium risk", Box::new(|v| v["risk"] = json!("medium")), NotQuick::ServerRisk { risk: "medium".into() }),
            ("a detail of medium risk", Box::new(|v| {
                let email = json!({"type": "urn:countersign:details:v1:send_email", "from": "a@example.com", "to": ["b@example.com"], "subject": "Hi"});
                v["authorization_details"].as_array_mut().unwrap().push(email);
            }), NotQuick::DetailRisk { index: 1 }),
            ("a warning in a field", Box::new(|v| v["authorization_details"][0]["title"] = json!("Dentist\u{202E}")),
                NotQuick::Warnings { count: 1 }),
            ("a no-break space in an identifier", Box::new(|v| v["authorization_details"][0]["event_id"] = json!("ev\u{a0}1")),
                NotQuick::Warnings { count: 1 }),
            ("a hidden character in the agent's name", Box::new(|v| v["client"]["client_name"] = json!("Cal\u{200B}endar")),
                NotQuick::Warnings { count: 1 }),
            ("a line break in a value", Box::new(|v| v["authorization_details"][0]["description"] = json!("first\nsecond")),
                NotQuick::NotOneLine { at: "/authorization_details/0/description".into() }),
            ("too many fields", Box::new(|v| {
                let d = &mut v["authorization_details"][0];
                d["attendees"] = json!(["a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"]);
            }), NotQuick::TooManyFields { count: MAX_FIELD_LINES + 1 }),
            ("an agent name too long for the title", Box::new(|v| v["client"]["client_name"] = json!("A".repeat(65))),
                NotQuick::TooLong { at: "/client/client_name".into() }),
            ("a summary too long for its line", Box::new(|v| v["authorization_details"][0]["title"] = json!("D".repeat(99))),
                NotQuick::TooLong { at: "summary".into() }),
        ];
        for (what, edit, want) in rows {
            let v = view(|value| edit(value));
            assert_eq!(quick_decision(&v, &QuickPolicy::default()), Err(want), "{what}");
        }
        // A configured low-risk scope is accepted; others still are not.
        let v = view(|v| {
            v["scope"] = json!(["openid", "calendar"]);
            v["scope_descriptions"]["calendar"] = json!("Read your calendar");
        });
        assert!(quick_decision(&v, &QuickPolicy::default()).is_err());
        let policy = QuickPolicy { low_risk_scopes: payments };
        assert!(quick_decision(&v, &policy).is_ok());
        // A scope the server does not describe is a warning: not from a notification.
        let v = view(|v| v["scope"] = json!(["openid", "calendar"]));
        assert_eq!(quick_decision(&v, &policy), Err(NotQuick::Warnings { count: 1 }));
        let v = view(|v| v["scope"] = json!(["openid", "calendar", "payments:write"]));
        assert_eq!(quick_decision(&v, &policy), Err(NotQuick::Scope { scope: "payments:write".into() }));
    }

    #[test]
    fn the_remaining_reasons() {
        // No detail at all.
        let mut v = view(|_| {});
        v.display.details.clear();
        assert_eq!(quick_decision(&v, &QuickPolicy::default()), Err(NotQuick::NoDetails));
        // The API the token is for is shown in the app only.
        let v = view(|r| r["audience"] = json!("https://api.example.com/calendar"));
        assert_eq!(quick_decision(&v, &QuickPolicy::default()), Err(NotQuick::Audience));
        // A sensitive field.
        let mut v = view(|_| {});
        v.display.details[0].fields[1].sensitive = true;
        let at = format!("/authorization_details/0{}", v.display.details[0].fields[1].path);
        assert_eq!(quick_decision(&v, &QuickPolicy::default()), Err(NotQuick::SensitiveField { at }));
        // A binding message too long for its line.
        let v = view(|v| v["binding_message"] = json!("C".repeat(95)));
        assert_eq!(
            quick_decision(&v, &QuickPolicy::default()),
            Err(NotQuick::TooLong { at: "/binding_message".into() })
        );
    }

    #[test]
    fn nested_values_are_labelled_by_their_parents() {
        let v = view(|v| v["authorization_details"][0]["attendees"] = json!(["ada@example.com"]));
        let text = quick_decision(&v, &QuickPolicy::default()).unwrap();
        assert!(text.lines.iter().any(|l| l == "Attendees › #1: ada@example.com"), "{text:?}");
        let v = view(|v| v["authorization_details"][0]["attendees"] = json!([]));
        let text = quick_decision(&v, &QuickPolicy::default()).unwrap();
        assert!(text.lines.iter().any(|l| l == "Attendees: (empty list)"), "{text:?}");
    }
}
