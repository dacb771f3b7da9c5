//! Registered values (every variant round-trips), identifiers, events, errors.

use countersign_protocol::amr::{Amr, VerificationClass};
use countersign_protocol::device::enroll::{Capability, Platform, Role};
use countersign_protocol::device::events::{HEARTBEAT, HEARTBEAT_INTERVAL_SECS};
use countersign_protocol::device::{
    AdminNoticeKind, ApproverRequest, Decision, DenyReason, DeviceErrorCode, DeviceErrorResponse, DeviceEvent,
    DeviceId, EventId, EventKind, HttpMethod, IdError, Nonce, RequestId, RequestStatus, Requirement, RevocationReason,
    Risk, SchemaHash, StatementCheckError, StatementHash, WithdrawReason,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(all: &[T], wire: &[&str]) {
    assert_eq!(all.len(), wire.len(), "every registered value is listed");
    for (v, w) in all.iter().zip(wire) {
        let s = serde_json::to_value(v).unwrap();
        assert_eq!(s, json!(w));
        assert_eq!(&serde_json::from_value::<T>(s).unwrap(), v);
    }
}

#[test]
fn every_registered_value_round_trips() {
    round_trip(Risk::REGISTERED, &["low", "medium", "high", "critical"]);
    round_trip(Requirement::REGISTERED, &["user_verification", "webauthn"]);
    round_trip(RequestStatus::REGISTERED, &["pending", "approved", "denied", "expired", "cancelled"]);
    round_trip(Decision::REGISTERED, &["approve", "deny"]);
    round_trip(DenyReason::REGISTERED, &["not_me", "wrong_details", "other"]);
    round_trip(WithdrawReason::REGISTERED, &["cancelled", "expired", "decided_elsewhere"]);
    round_trip(RevocationReason::REGISTERED, &["revoked_by_user", "revoked_by_admin", "client_blocked"]);
    round_trip(EventKind::REGISTERED, &["request", "withdrawn", "grant_revoked", "admin_notice"]);
    round_trip(AdminNoticeKind::REGISTERED, &["not_me", "client_blocked", "unverified_blocked"]);
    round_trip(HttpMethod::REGISTERED, &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
    round_trip(Platform::REGISTERED, &["macos", "windows", "linux"]);
    round_trip(Capability::REGISTERED, &["push", "notifications", "user_verification", "webauthn"]);
    round_trip(Role::REGISTERED, &["admin", "user"]);
    // RFC 8176 §2's registry, in its order.
    round_trip(
        Amr::REGISTERED,
        &[
            "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba", "retina",
            "sc", "sms", "swk", "tel", "user", "vbm", "wia",
        ],
    );
    round_trip(VerificationClass::REGISTERED, &["user", "hwk"]);
    assert_eq!(serde_json::from_value::<Amr>(json!("eye")).unwrap(), Amr::Extension("eye".into()));
    assert!(serde_json::from_value::<VerificationClass>(json!("pwd")).is_err(), "a closed set");
    round_trip(
        DeviceErrorCode::REGISTERED,
        &[
            "invalid_request",
            "invalid_token",
            "invalid_ticket",
            "invalid_public_key",
            "not_found",
            "invalid_decision",
            "statement_mismatch",
            "display_schema_mismatch",
            "decision_conflict",
            "request_expired",
            "request_withdrawn",
            "step_up_required",
            "step_up_failed",
            "invalid_credential",
            "forbidden",
            "slow_down",
            "server_error",
        ],
    );
}

#[test]
fn extension_values_round_trip() {
    for (v, w) in [
        (serde_json::to_value(Risk::Extension("extreme".into())).unwrap(), "extreme"),
        (serde_json::to_value(Requirement::Extension("face_id".into())).unwrap(), "face_id"),
        (serde_json::to_value(WithdrawReason::Extension("merged".into())).unwrap(), "merged"),
        (serde_json::to_value(DenyReason::Extension("too_expensive".into())).unwrap(), "too_expensive"),
    ] {
        assert_eq!(v, json!(w));
    }
    assert_eq!(serde_json::from_value::<Risk>(json!("extreme")).unwrap(), Risk::Extension("extreme".into()));
    assert_eq!(serde_json::from_value::<Risk>(json!("low")).unwrap(), Risk::Low);
    assert_eq!(
        serde_json::from_value::<RevocationReason>(json!("expired")).unwrap(),
        RevocationReason::Extension("expired".into())
    );
}

#[test]
fn decision_is_a_closed_set() {
    assert!(serde_json::from_value::<Decision>(json!("approve ")).is_err());
    assert!(serde_json::from_value::<Decision>(json!("APPROVE")).is_err());
    assert_eq!(Decision::parse("deny"), Some(Decision::Deny));
}

#[test]
fn unknown_risk_counts_as_critical_and_unknown_requirement_is_flagged() {
    let mut v: Value = serde_json::from_str(&example("approver-request.json")).unwrap();
    v["risk"] = json!("apocalyptic");
    v["requires"] = json!(["user_verification", "retina_scan"]);
    let r: ApproverRequest = serde_json::from_value(v).unwrap();
    assert_eq!(r.effective_risk(), Risk::Critical);
    assert!(!r.requirements_understood());
    assert!(r.is_expired(r.expires_at));
    assert!(!r.is_expired(r.expires_at - 1));
}

#[test]
fn request_ignores_unknown_members_from_a_newer_server() {
    let mut v: Value = serde_json::from_str(&example("approver-request.json")).unwrap();
    v["future_field"] = json!({"x": 1});
    assert!(serde_json::from_value::<ApproverRequest>(v).is_ok());
}

#[test]
fn ids_refuse_bad_values() {
    assert_eq!(RequestId::new("a/b"), Err(IdError::Charset { kind: "RequestId" }));
    assert_eq!(DeviceId::new(""), Err(IdError::Length { kind: "DeviceId", min: 1, max: 128, len: 0 }));
    assert!(matches!(Nonce::new("tooShort"), Err(IdError::Length { .. })));
    assert!(Nonce::new("jef85FxWpWeN9Ll-przmXw").is_ok());
    assert!(serde_json::from_value::<RequestId>(json!("req 1")).is_err());
    assert!(EventId::new("42").is_ok());
}

#[test]
fn hashes_refuse_anything_but_sha256_b64url() {
    assert!(StatementHash::new("heCAm_3Bq4hgdPHD0_orWe9LwY5HCrgCCv2qlPK3Z_4").is_ok());
    assert!(StatementHash::new("heCAm_3Bq4hgdPHD0_orWe9LwY5HCrgCCv2qlPK3Z_4=").is_err());
    assert!(StatementHash::new("heCAm_3Bq4hgdPHD0_orWe9LwY5HCrgCCv2qlPK3Z_").is_err());
    assert!(SchemaHash::new("AAAA").is_err());
}

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/testdata/device/examples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn events_parse_by_name() {
    let r = DeviceEvent::parse("request", &example("approver-request.json")).unwrap();
    assert_eq!(r.kind(), EventKind::Request);
    let w = DeviceEvent::parse("withdrawn", &example("event-withdrawn.json")).unwrap();
    assert!(matches!(&w, DeviceEvent::Withdrawn(x) if x.reason == WithdrawReason::DecidedElsewhere));
    let g = DeviceEvent::parse("grant_revoked", &example("event-grant-revoked.json")).unwrap();
    assert!(matches!(&g, DeviceEvent::GrantRevoked(x) if x.reason == RevocationReason::RevokedByAdmin));
    let n = DeviceEvent::parse("admin_notice", &example("event-admin-notice.json")).unwrap();
    let DeviceEvent::AdminNotice(notice) = &n else { panic!("{n:?}") };
    assert_eq!(notice.notice, AdminNoticeKind::NotMe);
    assert_eq!(notice.request_id.as_ref().map(RequestId::as_str), Some("req_7Hq2xK9mN4pL"));
    assert_eq!((notice.by.as_str(), notice.at), ("device:dev_Qm3vT8sLw2", 1_767_225_630));
    // Written back as read.
    let back: Value = serde_json::from_str(&n.data_json().unwrap()).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(&example("event-admin-notice.json")).unwrap());
    // A notice of a kind this version does not know is kept, not refused.
    let later = DeviceEvent::parse("admin_notice", r#"{"notice":"key_rotated","by":"operator","at":1}"#).unwrap();
    assert!(
        matches!(&later, DeviceEvent::AdminNotice(x) if x.notice == AdminNoticeKind::Extension("key_rotated".into()))
    );
    // `by` and `at` are required.
    assert!(DeviceEvent::parse("admin_notice", r#"{"notice":"not_me","at":1}"#).is_err());
}

#[test]
fn unknown_events_are_kept_not_refused() {
    let e = DeviceEvent::parse("policy_changed", "{\"x\":1}").unwrap();
    assert_eq!(e, DeviceEvent::Unknown { event: "policy_changed".into(), data: "{\"x\":1}".into() });
    assert_eq!(e.kind(), EventKind::Extension("policy_changed".into()));
}

#[test]
fn event_data_is_read_strictly() {
    assert!(DeviceEvent::parse("withdrawn", r#"{"id":"req_1","id":"req_2","reason":"expired"}"#).is_err());
    assert!(DeviceEvent::parse("withdrawn", r#"{"id":"req_1"}"#).is_err());
}

#[test]
fn sse_framing_is_one_data_line() {
    let e = DeviceEvent::parse("request", &example("approver-request.json")).unwrap();
    let framed = e.to_sse(&EventId::new("17").unwrap()).unwrap();
    let lines: Vec<&str> = framed.split('\n').collect();
    assert_eq!(lines[0], "id: 17");
    assert_eq!(lines[1], "event: request");
    assert!(lines[2].starts_with("data: {"));
    assert_eq!(&lines[3..], ["", ""]);
    let back = DeviceEvent::parse("request", lines[2].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(back, e);
    assert_eq!(HEARTBEAT, ": heartbeat\n\n");
    assert_eq!(HEARTBEAT_INTERVAL_SECS, 15);
}

#[test]
fn error_codes_have_their_http_status() {
    let expect = [
        ("invalid_request", 400),
        ("invalid_token", 401),
        ("invalid_ticket", 400),
        ("invalid_public_key", 400),
        ("not_found", 404),
        ("invalid_decision", 400),
        ("statement_mismatch", 400),
        ("display_schema_mismatch", 409),
        ("decision_conflict", 409),
        ("request_expired", 410),
        ("request_withdrawn", 410),
        ("step_up_required", 403),
        ("step_up_failed", 403),
        ("invalid_credential", 400),
        ("forbidden", 403),
        ("slow_down", 429),
        ("server_error", 500),
        ("something_new", 400),
    ];
    for (code, status) in expect {
        assert_eq!(DeviceErrorCode::from(code).http_status(), status, "{code}");
    }
}

#[test]
fn schema_mismatch_error_carries_current_hashes() {
    let current = [("stock_trade".to_owned(), SchemaHash::of_no_schema())].into_iter().collect();
    let body = DeviceErrorResponse::from(&StatementCheckError::DisplaySchemaMismatch { current });
    assert_eq!(body.error, DeviceErrorCode::DisplaySchemaMismatch);
    assert_eq!(body.http_status(), 409);
    assert_eq!(body.display_schemas.unwrap()["stock_trade"], SchemaHash::of_no_schema());
    let body = DeviceErrorResponse::from(&StatementCheckError::StatementMismatch);
    assert_eq!(body.error, DeviceErrorCode::StatementMismatch);
    assert!(body.display_schemas.is_none());
}
