//! Tests of the terminal rendering.

use super::*;
use countersign_approver::verify::Availability;

#[test]
fn an_enrollment_preview_shows_server_user_expiry_and_findings() {
    use countersign_protocol::device::{EnrolledUser, Role};
    let user = EnrolledUser { sub: "u_1".into(), name: "Zoë\u{202E}nitraM".into(), roles: vec![Role::Admin] };
    let preview = EnrollPreview {
        issuer: "http://127.0.0.1:8080".into(),
        plain_http: true,
        user_findings: countersign_approver::display::user_text(&user),
        user,
        expires_at: 1_000 + 125,
    };
    let shown = enroll_preview(&preview, 1_000);
    assert!(shown.starts_with("Server: http://127.0.0.1:8080  (plain http"), "{shown}");
    assert!(shown.contains("User:   Zoë\\u{202E}nitraM <u_1>  roles: admin"), "{shown}");
    assert!(shown.contains("Invitation expires in 2m 05s"), "{shown}");
    assert!(shown.contains("(the user's name): ") && shown.contains("U+202E"), "{shown}");
    assert!(!shown.contains('\u{202e}'), "no raw bidi control reaches the terminal: {shown}");

    let clean = EnrollPreview {
        issuer: "https://auth.example.com".into(),
        plain_http: false,
        user: EnrolledUser { sub: "u_2".into(), name: "Ada".into(), roles: vec![] },
        expires_at: 10,
        user_findings: vec![],
    };
    assert_eq!(
        enroll_preview(&clean, 20),
        "Server: https://auth.example.com\nUser:   Ada <u_2>  roles: none\nInvitation expired"
    );
}

#[test]
fn a_request_that_cannot_be_rendered_is_never_listed_as_clean() {
    let json = include_str!("../../../protocol/testdata/device/examples/approver-request.json");
    let request: countersign_protocol::device::ApproverRequest = serde_json::from_str(json).unwrap();
    let item = InboxItem {
        account_id: "acc".into(),
        request,
        request_json: json.into(),
        status: LocalStatus::Pending,
        status_reason: None,
        received_at: 0,
        updated_at: 0,
    };
    let line = request_line(&item, Err("the display schema of \u{202E}x is unreadable"), 0);
    assert!(
        line.ends_with("! warnings unknown (cannot render: the display schema of \\u{202E}x is unreadable)"),
        "{line}"
    );
}

#[test]
fn unix_times_in_words() {
    assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc_time(1_767_225_042), "2025-12-31 23:50:42 UTC");
    assert_eq!(utc_time(1_709_210_096), "2024-02-29 12:34:56 UTC");
    assert_eq!(ago(100, 130), "just now");
    assert_eq!(ago(100, 100 + 5 * 60), "5m ago");
    assert_eq!(ago(0, 3 * 3600 + 5), "3h ago");
    assert_eq!(ago(0, 2 * 86_400), "2d ago");
    assert_eq!(ago(200, 100), "just now", "a clock behind the server");
}

#[test]
fn quoting_and_escape_detection() {
    assert_eq!(quoted("say \"hi\"", Context::Line, &[]), "\"say \\u{0022}hi\\u{0022}\"");
    assert!(contains_escape(&text("a\u{202e}")));
    assert!(!contains_escape(&text("literal \\u{202E}")));
    assert!(!contains_escape(&text("literal \\n and \\t")));
    assert!(contains_escape(&text("\\\u{200b}")));
    assert!(!contains_escape(&quoted("say \"hi\"", Context::Line, &[])), "a quote is not a hidden character");
    // A carriage return or a tab alone is enough for the note.
    assert!(contains_escape(&text("cr\roverwrite")));
    assert!(contains_escape(&text("tab\there")));
    assert!(contains_escape(&text("line\nbreak")));
}

fn view_of(v: &serde_json::Value) -> RequestView {
    let request: countersign_protocol::device::ApproverRequest = serde_json::from_value(v.clone()).unwrap();
    let registry = countersign_details::Registry::builtin().unwrap();
    let display =
        countersign_approver::display::render(&request, &registry, &countersign_details::RenderOptions::default());
    let item = InboxItem {
        account_id: "a".into(),
        request,
        request_json: v.to_string(),
        status: LocalStatus::Pending,
        status_reason: None,
        received_at: 0,
        updated_at: 0,
    };
    RequestView::build_with(item, display, 0, false, &os_prompt())
}

/// An approver whose OS can verify the user.
fn os_prompt() -> VerifierStatus {
    VerifierStatus { method: "polkit", availability: Availability::Available }
}

#[test]
fn the_verification_step_is_said_before_approving_or_why_approving_is_not_possible() {
    let view = view_of(&example());
    let out = request_full(&view, 0);
    assert!(out.contains("Approving it asks your operating system to verify that it is you (polkit)."), "{out}");

    let none = VerifierStatus { method: "polkit", availability: Availability::Unavailable("no polkit agent".into()) };
    let blocked = RequestView::build_with(view.item, view.display, 0, false, &none);
    let out = request_full(&blocked, 0);
    let line = out.lines().find(|l| l.starts_with("CANNOT BE APPROVED")).expect(&out);
    assert!(line.contains("no polkit agent") && line.contains("another device"), "{line}");
    assert!(!out.contains("asks your operating system"), "{out}");
}

fn example() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../protocol/testdata/device/examples/approver-request.json")).unwrap()
}

#[test]
fn a_hostile_request_renders_without_raw_controls() {
    let mut v = example();
    v["binding_message"] = "\u{1b}]0;pwned\u{7}OK".into();
    v["client"]["client_name"] = "Bank\u{202e}gnp.exe".into();
    v["authorization_details"][0]["x\u{200b}"] = "\u{9b}31m\u{2066}".into();
    let out = request_full(&view_of(&v), 0);
    for line in out.lines() {
        assert!(
            countersign_text::is_clean(line, Context::Line) && !line.chars().any(char::is_control),
            "raw flagged text in {line:?}"
        );
    }
    assert!(out.contains("Bank\\u{202E}gnp.exe"), "{out}");
    assert!(out.contains("\\u{001B}]0;pwned\\u{0007}OK"));
    assert!(out.contains("x\\u{200B}: \"\\u{009B}31m\\u{2066}\""), "{out}");
    assert!(out.contains("Note: some text contains"));
    assert!(out.contains("note: \"Kauf für Zoë – Q4 €\\nsecond line\""), "{out}");
}

#[test]
fn the_display_model_is_printed_warnings_first_then_every_field() {
    let out = request_full(&view_of(&example()), 0);
    let warnings = out.find("Warnings (").unwrap();
    let details = out.find("Details:").unwrap();
    assert!(warnings < details, "{out}");
    // The unregistered "stock_trade": a labelled tree with a no-schema warning.
    assert!(out.contains("[1] stock_trade  (risk unknown (no display schema))"), "{out}");
    assert!(out.contains("No display schema for this type"), "{out}");
    // payment_initiation: title, summary, labels, money with its currency.
    assert!(out.contains("[2] Payment  (risk critical)"), "{out}");
    assert!(out.contains("Pay 1,250.00 EUR to Møller & Søn ApS"), "{out}");
    assert!(out.contains("* Amount: 1250.00 EUR  (1,250.00 EUR)"), "{out}");
    assert!(out.contains("Payee account:") && out.contains("IBAN: \"DK5000400440116243\""), "{out}");
    // A quote inside the value is written in the one escape grammar, so
    // the line reads back exactly.
    assert!(out.contains("Reference: \"Invoice 2024-117 \\u{0022}Q4\\u{0022} \\\\ tab\\there\""), "{out}");
    let line = out.lines().find(|l| l.contains("Reference:")).unwrap();
    assert_eq!(
        countersign_text::unescape(line).as_deref(),
        Ok("      Reference: \"Invoice 2024-117 \"Q4\" \\ tab\there\"")
    );
    assert!(!out.contains("CANNOT BE APPROVED"), "{out}");

    // An RFC 9396 type is open: an extra member goes under its own heading.
    let mut v = example();
    v["authorization_details"][1]["memo"] = "extra".into();
    let out = request_full(&view_of(&v), 0);
    let heading = out.find("Not described by the schema:").unwrap();
    assert!(out[heading..].contains("memo: \"extra\""), "{out}");

    // A schema violation: shown in full, and said to be unapprovable.
    let mut v = example();
    v["authorization_details"][1]["instructedAmount"]["amount"] = 1250.into();
    let out = request_full(&view_of(&v), 0);
    assert!(out.contains("CANNOT BE APPROVED: a detail does not match its display schema"), "{out}");
    assert!(out.contains("[2] Payment  (risk critical)  INVALID"), "{out}");
    assert!(
        out.contains(
            "DANGER (detail 2, /instructedAmount/amount): Does not match its schema at /instructedAmount/amount"
        ),
        "{out}"
    );
    assert!(out.contains("! DANGER (detail 1, /note): 1 control character: U+000A LINE FEED"), "{out}");
}

#[test]
fn auth0_entries_hidden_by_the_sender_are_shown() {
    let mut v = example();
    v["authorization_details"] = serde_json::json!([{
        "type": "urn:auth0:schemas:authorization-details:v1:money-transfer",
        "instruction": "Approve the transfer of 150.00 EUR to Bob",
        "properties": {
            "amount": {"display": true, "name": "Amount", "display_order": 1, "value": "150.00 EUR"},
            "tx": {"display": false, "name": "Transaction", "display_order": 2, "value": "tx_8f14e45f"}
        }
    }]);
    let out = request_full(&view_of(&v), 0);
    assert!(out.contains("Transaction: \"tx_8f14e45f\"  [hidden by the sender, shown here]"), "{out}");
    assert!(out.contains("Amount: \"150.00 EUR\""), "{out}");
}

#[test]
fn an_admin_notice_is_one_escaped_line_for_each_kind() {
    use countersign_protocol::device::{AdminNotice, AdminNoticeKind, RequestId};
    let mut n = AdminNotice {
        notice: AdminNoticeKind::NotMe,
        client_id: Some("agent\u{202E}evil\n".into()),
        sub: Some("u_1\u{200B}001".into()),
        request_id: Some(RequestId::new("req_7Hq2xK9mN4pL").unwrap()),
        by: "device:dev_1\u{1b}[2J".into(),
        at: 1_767_225_630,
    };
    let line = admin_notice(&n);
    assert!(line.starts_with("admin notice: user "), "{line}");
    assert!(line.contains("denied request req_7Hq2xK9mN4pL of client agent"), "{line}");
    assert!(line.ends_with("at 1767225630"), "{line}");
    for raw in ['\u{202E}', '\n', '\u{200B}', '\u{1b}'] {
        assert!(!line.contains(raw), "raw {raw:?} in {line:?}");
    }
    n.notice = AdminNoticeKind::ClientBlocked;
    assert!(admin_notice(&n).contains("blocked for user u_1"));
    n.sub = None;
    assert!(admin_notice(&n).contains("blocked for everyone"));
    n.notice = AdminNoticeKind::UnverifiedBlocked;
    n.sub = Some("u_2".into());
    assert!(admin_notice(&n).contains("unverified clients blocked for user u_2"));
    n.notice = AdminNoticeKind::Extension("key\u{202E}rotated".into());
    let other = admin_notice(&n);
    assert!(other.contains("key") && !other.contains('\u{202E}'), "{other}");
}

#[test]
fn a_scope_only_request_renders_its_access_request_with_hostile_text_escaped() {
    let mut v = example();
    v["authorization_details"] = serde_json::json!([]);
    v["scope"] = serde_json::json!(["openid", "files\u{200b}.delete", "mail.read"]);
    v["scope_descriptions"] = serde_json::json!({
        "openid": "Know who you are",
        "mail.read": "Read your mail\u{202e}txt.exe",
    });
    let view = view_of(&v);
    let out = request_full(&view, 0);
    for line in out.lines() {
        assert!(
            countersign_text::is_clean(line, Context::Line) && !line.chars().any(char::is_control),
            "raw flagged text in {line:?}"
        );
    }
    assert!(out.contains("API:      \"https://api.example.com/trading\"  (the token is for this API)"), "{out}");
    assert!(out.contains("Access request (no authorization details: these scopes are what you approve):"), "{out}");
    assert!(out.contains("  - openid: \"Know who you are\""), "{out}");
    assert!(
        out.contains("  - files\\u{200B}.delete: UNKNOWN SCOPE (the server does not describe what it grants)"),
        "{out}"
    );
    assert!(out.contains("  - mail.read: \"Read your mail\\u{202E}txt.exe\""), "{out}");
    assert!(out.contains("Requested scope 1 is unknown to the server"), "{out}");
    assert!(out.contains("Note: some text contains"));
    let line = request_line(&view.item, Ok(&view.display), 0);
    assert!(line.contains("[access: openid files\\u{200B}.delete mail.read]"), "{line}");

    // A request with details lists its scopes under "Scopes:".
    let out = request_full(&view_of(&example()), 0);
    assert!(
        out.contains("Scopes:\n  - openid: \"Know who you are (your account identifier)\"\n  - trade: UNKNOWN SCOPE"),
        "{out}"
    );
}
