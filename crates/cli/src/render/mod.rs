//! Human-readable output. Every string from a server, an agent or a schema
//! goes through [`crate::safe::reveal`] exactly once, in the context the
//! display model gives it (a field's format, a member name) and with the
//! characters the model marks in it (a summary's, a message's, a label's).

use crate::safe::{quoted, reveal, text, text_in};
use countersign_approver::display::unapprovable_reason;
use countersign_approver::gate::{self, VerificationStep};
use countersign_approver::store::{Account, HistoryEntry, InboxItem, LocalStatus};
use countersign_approver::verify::VerifierStatus;
use countersign_approver::{ApproverEvent, ConnectionState, DeliveryReport, EnrollPreview, ReceiptCheck, RequestView};
use countersign_details::{
    CharFinding, DisplayModel, Field, FieldValue, JsonType, LabelSource, Risk, Severity, Warning,
};
use countersign_protocol::device::Requirement;
use countersign_text::Context;
use std::fmt::Write as _;

/// "in 4m 12s" / "expired".
#[must_use]
pub fn expires_in(expires_at: u64, now: u64) -> String {
    if now >= expires_at {
        return "expired".into();
    }
    let s = expires_at - now;
    match s {
        0..=59 => format!("expires in {s}s"),
        60..=3599 => format!("expires in {}m {:02}s", s / 60, s % 60),
        _ => format!("expires in {}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A Unix time as `2026-01-01 09:30:00 UTC`.
#[must_use]
pub fn utc_time(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rest = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, (rest % 3600) / 60, rest % 60)
}

/// "5m ago", "3h ago", "2d ago" ("just now" under a minute).
#[must_use]
pub fn ago(then: u64, now: u64) -> String {
    let s = now.saturating_sub(then);
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86_399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// What an invitation would enroll this approver as, shown before the user
/// confirms: the server, the user (with any hidden characters found in the
/// name or id), and when the invitation expires.
#[must_use]
pub fn enroll_preview(p: &EnrollPreview, now: u64) -> String {
    let mut out = format!("Server: {}", text(&p.issuer));
    if p.plain_http {
        out.push_str("  (plain http, not encrypted: a local development server)");
    }
    let roles: Vec<String> = p.user.roles.iter().map(|r| text(r.as_str())).collect();
    let roles = if roles.is_empty() { "none".to_owned() } else { roles.join(", ") };
    let _ = write!(out, "\nUser:   {} <{}>  roles: {roles}", text(&p.user.name), text(&p.user.sub));
    let _ = write!(out, "\nInvitation {}", expires_in(p.expires_at, now));
    for finding in &p.user_findings {
        let what = match finding.field.as_str() {
            "/user/name" => "the user's name",
            "/user/sub" => "the user's id",
            other => other,
        };
        for w in &finding.warnings {
            let _ = write!(out, "\n{} ({what}): {}", severity_mark(w.severity), message_text(w));
        }
    }
    out
}

/// One line per account.
#[must_use]
pub fn account_line(a: &Account) -> String {
    format!(
        "{}  {} <{}> at {}  (device {}, key in {})",
        a.id,
        text(&a.user.name),
        text(&a.user.sub),
        text(a.issuer.as_str()),
        text(a.device_id.as_str()),
        a.key_store
    )
}

/// One line per request in a list; with its rendering (`display`), every
/// request that has warnings says how many and the worst kind, as the
/// desktop inbox and notifications do.
#[must_use]
pub fn request_line(item: &InboxItem, display: Result<&DisplayModel, &str>, now: u64) -> String {
    let r = &item.request;
    let types: Vec<String> = r.authorization_details.types().map(|t| text_in(t, Context::Identifier)).collect();
    // A scope-only request says what it asks for: its scopes.
    let what = if r.is_scope_only() {
        let scopes: Vec<String> = r.scope.iter().map(|s| text(s)).collect();
        format!("access: {}", scopes.join(" "))
    } else {
        types.join(", ")
    };
    let mut line = format!(
        "{}  {}  {}  [{}]  risk {}  {}",
        text(r.id.as_str()),
        text(&r.client.client_name),
        quoted(&r.binding_message, Context::Line, &[]),
        what,
        text(r.effective_risk().as_str()),
        expires_in(r.expires_at, now)
    );
    match display {
        Ok(display) => {
            if let Some(warnings) = warnings_note(display) {
                let _ = write!(line, "  ! {warnings}");
            }
        }
        // A request that cannot be rendered is never shown as clean.
        Err(why) => {
            let _ = write!(line, "  ! warnings unknown (cannot render: {})", text(why));
        }
    }
    line
}

/// `3 warnings (DANGER: lookalike letters)`: how many warnings a rendering
/// has and the worst kind; `None` without warnings.
#[must_use]
pub fn warnings_note(display: &DisplayModel) -> Option<String> {
    let worst = display.worst_warning.as_ref()?;
    let n = display.warning_count;
    let noun = if n == 1 { "warning" } else { "warnings" };
    Some(format!("{n} {noun} ({}: {})", severity_mark(worst.severity), worst.text))
}

fn risk_name(r: Risk) -> &'static str {
    match r {
        Risk::Low => "low",
        Risk::Medium => "medium",
        Risk::High => "high",
        Risk::Critical => "critical",
        Risk::Unknown => "unknown (no display schema)",
    }
}

fn severity_mark(s: Severity) -> &'static str {
    match s {
        Severity::Danger => "DANGER",
        Severity::Caution => "caution",
        Severity::Info => "note",
    }
}

/// Every warning of a rendering: the request's, then each detail's and its
/// fields', in display order.
fn all_warnings(model: &DisplayModel) -> Vec<&Warning> {
    fn walk<'a>(fields: &'a [Field], out: &mut Vec<&'a Warning>) {
        for f in fields {
            out.extend(&f.warnings);
            match &f.value {
                FieldValue::Object { fields } => walk(fields, out),
                FieldValue::Array { items } => walk(items, out),
                FieldValue::Scalar { .. } | FieldValue::Money { .. } => {}
            }
        }
    }
    let mut out: Vec<&Warning> = model.warnings.iter().collect();
    for d in &model.details {
        out.extend(&d.warnings);
        walk(&d.fields, &mut out);
        walk(&d.undescribed, &mut out);
    }
    out
}

/// The characters the model marks in a field's value: those of its
/// warnings about the value itself (not its member name, nor a text beside
/// it such as an Auth0 entry's `description`, whose warnings the field
/// carries under their own path).
fn value_marks(f: &Field) -> Vec<CharFinding> {
    let about_the_value = |w: &&Warning| !w.in_key && w.path.as_deref() == Some(f.path.as_str());
    f.warnings.iter().filter(about_the_value).flat_map(|w| w.characters.iter().cloned()).collect()
}

/// A field's value on one line: strings quoted, the reading aids after it.
fn value_text(f: &Field) -> String {
    match &f.value {
        FieldValue::Scalar { json_type, text: t, display, utc, .. } => {
            let context = f.format.text_context();
            let marks = value_marks(f);
            let mut out =
                if *json_type == JsonType::String { quoted(t, context, &marks) } else { reveal(t, context, &marks) };
            if let Some(d) = display.as_deref().filter(|d| d != t) {
                let _ = write!(out, "  ({})", text(d));
            }
            if let Some(u) = utc.as_deref().filter(|u| Some(*u) != display.as_deref()) {
                let _ = write!(out, "  (UTC: {})", text(u));
            }
            out
        }
        FieldValue::Money { text: t, display, characters, display_characters, .. } => {
            // Amount and currency must both be ASCII.
            let mut out = reveal(t, Context::AsciiIdentifier, characters);
            if display != t {
                let _ = write!(out, "  ({})", reveal(display, Context::Line, display_characters));
            }
            out
        }
        FieldValue::Object { .. } | FieldValue::Array { .. } => String::new(),
    }
}

/// A field's label: a schema's label is prose; a member name or a sender's
/// label is an identifier (as the renderer judged it).
fn label_text(f: &Field) -> String {
    let context = match f.label_source {
        LabelSource::Schema => Context::Line,
        LabelSource::Key | LabelSource::Index | LabelSource::Sender => Context::Identifier,
    };
    reveal(&f.label, context, &f.label_characters)
}

/// A warning's message: it quotes input exactly, with its characters to
/// reveal.
fn message_text(w: &Warning) -> String {
    reveal(&w.message, Context::Line, &w.message_characters)
}

fn push_fields(out: &mut String, fields: &[Field], depth: usize) {
    for f in fields {
        let indent = "  ".repeat(depth);
        let mark = if f.emphasis { "* " } else { "" };
        let hidden = if f.collapsed { "  [hidden by the sender, shown here]" } else { "" };
        let value = value_text(f);
        let sep = if value.is_empty() { "" } else { " " };
        let _ = writeln!(out, "{indent}{mark}{}:{sep}{value}{hidden}", label_text(f));
        if let Some(description) = &f.description {
            let _ = writeln!(
                out,
                "{indent}    description: {}",
                quoted(description, Context::Line, &f.description_characters)
            );
        }
        for w in &f.warnings {
            let _ = writeln!(out, "{indent}    ! {}", message_text(w));
        }
        match &f.value {
            FieldValue::Object { fields } => push_fields(out, fields, depth + 1),
            FieldValue::Array { items } => push_fields(out, items, depth + 1),
            FieldValue::Scalar { .. } | FieldValue::Money { .. } => {}
        }
    }
}

fn push_display(out: &mut String, model: &DisplayModel) {
    let warnings = all_warnings(model);
    if !warnings.is_empty() {
        let _ = writeln!(out, "Warnings ({}):", warnings.len());
        for w in warnings {
            let mut at = Vec::new();
            if let Some(i) = w.index {
                at.push(format!("detail {}", i + 1));
            }
            if let Some(p) = w.path.as_deref().filter(|p| !p.is_empty()) {
                at.push(text_in(p, Context::Identifier));
            }
            let at = if at.is_empty() { String::new() } else { format!(" ({})", at.join(", ")) };
            let _ = writeln!(out, "  ! {}{at}: {}", severity_mark(w.severity), message_text(w));
        }
    }
    let _ = writeln!(out, "Details:");
    for d in &model.details {
        let valid = if d.valid { "" } else { "  INVALID" };
        let title = reveal(&d.title, Context::Line, &d.title_characters);
        let _ = writeln!(out, "  [{}] {title}  (risk {}){valid}", d.index + 1, risk_name(d.risk));
        let _ = writeln!(out, "      type: {}", text_in(&d.type_name, Context::Identifier));
        if let Some(summary) = &d.summary {
            let _ = writeln!(out, "      {}", reveal(&summary.text, Context::Line, &summary.characters));
        }
        push_fields(out, &d.fields, 3);
        if !d.undescribed.is_empty() {
            let _ = writeln!(out, "      Not described by the schema:");
            push_fields(out, &d.undescribed, 4);
        }
    }
}

/// The full request, as `show` prints it: the request, then its rendering
/// (warnings first, then every detail with every field).
#[must_use]
pub fn request_full(view: &RequestView, now: u64) -> String {
    let item = &view.item;
    let r = &item.request;
    let mut out = String::new();
    let _ = writeln!(out, "Request {}  ({}, {})", text(r.id.as_str()), item.status, expires_in(r.expires_at, now));
    if let Some(reason) = &item.status_reason {
        let _ = writeln!(out, "Status:   {}", text(reason));
    }
    let verified = if r.client.verified { "verified by an admin" } else { "NOT verified" };
    let _ = writeln!(
        out,
        "Agent:    {} (client_id {}, {verified})",
        text(&r.client.client_name),
        text(&r.client.client_id)
    );
    let _ = writeln!(out, "For:      {} <{}> at {}", text(&r.user.name), text(&r.user.sub), text(r.issuer.as_str()));
    let _ = writeln!(out, "Binding:  {}", text(&r.binding_message));
    push_access(&mut out, view);
    let _ = writeln!(out, "Risk:     {}", text(r.effective_risk().as_str()));
    if !r.requires.is_empty() {
        let req: Vec<String> = r.requires.iter().map(|x| text(x.as_str())).collect();
        let _ = writeln!(out, "Requires: {}", req.join(", "));
    }
    if let Some(acr) = &r.acr_values {
        let _ = writeln!(out, "ACR:      {}", text(acr));
    }
    let c = &r.context;
    if c.ip.is_some() || c.user_agent.is_some() || c.location.is_some() {
        let mut parts = Vec::new();
        if let Some(ip) = c.ip {
            parts.push(format!("ip {ip}"));
        }
        if let Some(ua) = &c.user_agent {
            parts.push(format!("user agent {}", quoted(ua, Context::Line, &[])));
        }
        if let Some(l) = &c.location {
            parts.push(format!("location {}", quoted(l, Context::Line, &[])));
        }
        let _ = writeln!(out, "Context:  {}", parts.join(", "));
    }
    let _ = writeln!(out, "Account:  {}", item.account_id);
    // `approvable` counts no security key: the CLI offers one.
    let needs_key = item.request.requires.contains(&Requirement::Webauthn);
    // With a key, the key verifies the user: the OS is not asked.
    let approvable = view.approvable
        || (needs_key
            && view.display.approvable
            && gate::decidable(item, now).is_ok()
            && gate::requirements_met_with(&item.request, true, &VerifierStatus::unchecked()).is_ok());
    if item.status == LocalStatus::Pending && !approvable {
        let why = match &view.user_verification {
            VerificationStep::Unavailable { reason } => Some(reason.as_str()),
            _ => None,
        };
        let why = unapprovable_reason(&view.display)
            .or(why)
            .unwrap_or("it requires a step-up this approver cannot perform, or it has expired");
        let _ = writeln!(out, "CANNOT BE APPROVED: {why} (it can be denied)");
    } else if item.status == LocalStatus::Pending {
        if view.confirmation_required {
            let _ = writeln!(out, "Approving it needs its binding message typed (in a terminal).");
        }
        if needs_key {
            let _ = writeln!(out, "Approving it needs your security key (see `countersign-cli keys`).");
        }
        if let VerificationStep::OsPrompt { method } = &view.user_verification {
            let _ = writeln!(out, "Approving it asks your operating system to verify that it is you ({method}).");
        }
    }
    push_display(&mut out, &view.display);
    push_note(&mut out);
    out
}

/// The characters `view.request_text` marks in the request string at
/// JSON Pointer `field`.
fn request_marks(view: &RequestView, field: &str) -> Vec<CharFinding> {
    view.request_text
        .iter()
        .filter(|f| f.field == field)
        .flat_map(|f| f.warnings.iter().flat_map(|w| w.characters.iter().cloned()))
        .collect()
}

/// The access request: the API the token is for, then each scope with the
/// server's description, an unknown scope flagged. For a scope-only
/// request it is all the user approves, and says so.
fn push_access(out: &mut String, view: &RequestView) {
    let access = &view.access;
    if let Some(api) = &access.audience {
        let _ = writeln!(
            out,
            "API:      {}  (the token is for this API)",
            quoted(api, Context::Line, &request_marks(view, "/audience"))
        );
    }
    if access.scope_only {
        let _ = writeln!(out, "Access request (no authorization details: these scopes are what you approve):");
    } else {
        let _ = writeln!(out, "Scopes:");
    }
    for s in &access.scopes {
        let name = reveal(&s.scope, Context::Line, &request_marks(view, &s.field));
        match &s.description {
            Some(d) => {
                let _ = writeln!(
                    out,
                    "  - {name}: {}",
                    quoted(d, Context::Line, &request_marks(view, &s.description_field))
                );
            }
            None => {
                let _ = writeln!(out, "  - {name}: UNKNOWN SCOPE (the server does not describe what it grants)");
            }
        }
    }
}

/// What the escapes mean, under output that has any.
pub const NOTE: &str = "Note: some text contains control, invisible, direction-changing or lookalike characters: \
each is written \\u{XXXX} (\\n, \\r, \\t for a line feed, carriage return or tab), a backslash in the text \
as \\\\ and a quote inside quotes as \\u{0022}.";

/// Adds [`NOTE`] to `out` when it reveals a character.
pub fn push_note(out: &mut String) {
    if contains_escape(out) {
        let _ = writeln!(out, "{NOTE}");
    }
}

/// Whether `rendered` (output of [`reveal`]) writes a character escaped
/// because it is flagged, marked or a control character: a `\u{...}` other
/// than a quote's, or `\n`, `\r`, `\t` (a doubled backslash is a backslash
/// as sent).
#[must_use]
pub fn contains_escape(rendered: &str) -> bool {
    let mut rest = rendered;
    while let Some(at) = rest.find('\\') {
        let after = &rest[at + 1..];
        let next = after.chars().next();
        match next {
            Some('n' | 'r' | 't') => return true,
            Some('u') if !after.starts_with("u{0022}") => return true,
            _ => {}
        }
        rest = &after[next.map_or(0, char::len_utf8)..];
    }
    false
}

/// One line per history entry.
#[must_use]
pub fn history_line(h: &HistoryEntry) -> String {
    let reason = h.deny_reason.as_ref().map(|r| format!(" ({})", text(r.as_str()))).unwrap_or_default();
    let status = h.server_status.map(|s| format!(" HTTP {s}")).unwrap_or_default();
    format!(
        "{}  {}{reason}  {}{status}  decided at {}  statement {}",
        text(&h.request_id),
        h.decision,
        h.delivery,
        h.decided_at,
        h.statement_hash
    )
}

/// A delivery report in words.
#[must_use]
pub fn delivery(report: &DeliveryReport) -> String {
    match report {
        DeliveryReport::Delivered { result } => {
            format!("delivered: the server recorded {} at {}", text(result.status.as_str()), result.decided_at)
        }
        DeliveryReport::Retrying { error, next_attempt_at } => format!(
            "not delivered yet ({}); queued, retried from {next_attempt_at} until the request expires \
             (run `watch`, `list` or `sync`, or use --wait)",
            text(error)
        ),
        DeliveryReport::Expired => "the request expired before the decision reached the server".into(),
        DeliveryReport::Conflict { status } => format!(
            "the server had already recorded another decision ({})",
            text(status.as_deref().unwrap_or("unknown"))
        ),
        DeliveryReport::Withdrawn => "the request was cancelled before the decision arrived".into(),
        DeliveryReport::NeedsReview { reason } => format!("{}; the request is pending again", text(reason)),
        DeliveryReport::Rejected { error } => format!("the server refused the decision: {}", text(error)),
        DeliveryReport::NotQueued => "nothing queued".into(),
    }
}

/// A receipt check in words.
#[must_use]
pub fn receipt(c: &ReceiptCheck) -> String {
    let mark = |ok: bool| if ok { "ok" } else { "FAILED" };
    let mut out = format!(
        "Receipt for {} (account {})\n  signature by the enrolled device key: {}\n  statement hash: {}\n  \
         statement matches the stored request: {}\n  decision matches the record: {}\n",
        text(&c.request_id),
        c.account_id,
        mark(c.signature_valid),
        mark(c.statement_hash_valid),
        mark(c.request_matches),
        mark(c.decision_matches)
    );
    if let Some(claims) = &c.claims {
        let _ = writeln!(
            out,
            "  decision {} signed at {} by {} for {}",
            claims.decision,
            claims.iat,
            text(claims.iss.as_str()),
            text(claims.aud.as_str())
        );
    }
    for p in &c.problems {
        let _ = writeln!(out, "  ! {}", text(p));
    }
    let _ = writeln!(out, "{}", if c.is_valid() { "VALID" } else { "INVALID" });
    out
}

/// An administrator's notice as one line, every field escaped.
#[must_use]
pub fn admin_notice(n: &countersign_protocol::device::AdminNotice) -> String {
    use countersign_protocol::device::AdminNoticeKind;
    let opt = |v: &Option<String>| v.as_deref().map_or_else(|| "-".to_owned(), text);
    let (client, user) = (opt(&n.client_id), opt(&n.sub));
    let what = match &n.notice {
        AdminNoticeKind::NotMe => format!(
            "user {user} denied request {} of client {client} as not theirs",
            n.request_id.as_ref().map_or_else(|| "-".to_owned(), |r| text(r.as_str()))
        ),
        AdminNoticeKind::ClientBlocked if n.sub.is_none() => format!("client {client} blocked for everyone"),
        AdminNoticeKind::ClientBlocked => format!("client {client} blocked for user {user}"),
        AdminNoticeKind::UnverifiedBlocked => format!("unverified clients blocked for user {user}"),
        AdminNoticeKind::Extension(other) => format!("{} (client {client}, user {user})", text(other)),
    };
    format!("admin notice: {what}, by {} at {}", text(&n.by), n.at)
}

/// An event as one human line.
#[must_use]
pub fn event(e: &ApproverEvent, now: u64) -> String {
    match e {
        ApproverEvent::NewRequest { item } => format!("new request: {}", request_line(item, Err("not rendered"), now)),
        ApproverEvent::Withdrawn { request_id, reason, .. } => {
            format!("withdrawn: {} ({})", text(request_id), text(reason))
        }
        ApproverEvent::Decided { request_id, decision, delivery, detail, .. } => {
            let d = detail.as_ref().map(|d| format!(": {}", text(d))).unwrap_or_default();
            format!("{decision} {}: {delivery}{d}", text(request_id))
        }
        ApproverEvent::GrantRevoked { grant, .. } => format!(
            "grant {} of request {} revoked ({})",
            text(grant.grant_id.as_str()),
            text(grant.request_id.as_str()),
            text(grant.reason.as_str())
        ),
        ApproverEvent::AdminNotice { notice, .. } => admin_notice(notice),
        ApproverEvent::SchemaChanged { issuer, detail_type, current, .. } => match current {
            Some(_) => format!("display schema for {} changed at {}", text(detail_type), text(issuer)),
            None => format!("display schema for {} withdrawn by {}", text(detail_type), text(issuer)),
        },
        ApproverEvent::ReviewRequired { request_id, reason, .. } => {
            format!("show {} again: {}", text(request_id), text(reason))
        }
        ApproverEvent::Connection { account_id, state } => match state {
            ConnectionState::Connecting => format!("{account_id}: connecting"),
            ConnectionState::Push => format!("{account_id}: connected (push)"),
            ConnectionState::Polling => format!("{account_id}: polling"),
            ConnectionState::Disconnected { error, retry_in_ms } => {
                format!("{account_id}: disconnected ({}), retrying in {retry_in_ms} ms", text(error))
            }
        },
    }
}

#[cfg(test)]
mod tests;
