//! Approval statement vector (computed independently, testdata/device), the
//! statement check and decision claims.

use countersign_protocol::amr::Amr;
use countersign_protocol::device::statement::{DecisionClaimsBuildError, MAX_DECISION_LIFETIME_SECS};
use countersign_protocol::device::{
    check_statement, verify_decision, ApprovalStatement, ApproverRequest, Decision, DecisionClaims, DecisionError,
    DecisionSubmission, DenyReason, DeviceId, Issuer, RequestId, SchemaHash, StatementCheckError, StatementError,
    StatementHash,
};
use countersign_protocol::jcs::JcsError;
use countersign_protocol::jws::{DeviceKeyPair, JwsError, JwtType, PublicJwk, SignHeader};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[macro_use]
mod common;

use common::device_file as read;
fn request() -> ApproverRequest {
    serde_json::from_str(&read("examples/approver-request.json")).unwrap()
}
fn schemas() -> BTreeMap<String, SchemaHash> {
    serde_json::from_str(&read("display-schemas.json")).unwrap()
}
fn statement() -> ApprovalStatement {
    ApprovalStatement::build(&request(), Decision::Approve, schemas()).unwrap()
}
fn expected_hash() -> StatementHash {
    StatementHash::new(read("statement.hash").trim()).unwrap()
}
fn dev() -> DeviceId {
    DeviceId::new("dev_Qm3vT8sLw2").unwrap()
}
fn issuer() -> Issuer {
    Issuer::new("https://auth.example.com").unwrap()
}
fn rid() -> RequestId {
    RequestId::new("req_7Hq2xK9mN4pL").unwrap()
}
const NOW: u64 = 1_767_225_700;

#[test]
fn statement_matches_the_independent_json() {
    let expected: Value = serde_json::from_str(&read("examples/statement.json")).unwrap();
    assert_eq!(serde_json::to_value(statement()).unwrap(), expected);
}

#[test]
fn statement_jcs_bytes_match_the_independent_canonical_form() {
    let expected = std::fs::read(format!("{}/testdata/device/statement.jcs", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert_eq!(
        String::from_utf8(statement().canonical_bytes().unwrap()).unwrap(),
        String::from_utf8(expected).unwrap()
    );
}

#[test]
fn statement_hash_matches_the_independent_hash() {
    assert_eq!(statement().statement_hash().unwrap(), expected_hash());
    assert_eq!(expected_hash().as_str(), "hDT_XAHk88XMV66nawZ233M5PtaA_EE_RWk0Q0Lu6Hk");
}

#[test]
fn statement_json_parses_back() {
    let s: ApprovalStatement = serde_json::from_str(&read("examples/statement.json")).unwrap();
    assert_eq!(s, statement());
}

#[test]
fn statement_refuses_other_version() {
    let mut v: Value = serde_json::from_str(&read("examples/statement.json")).unwrap();
    // Version 1 (without the agent as shown, the risk and the step-ups) is no longer accepted.
    v["v"] = json!(1);
    assert!(serde_json::from_value::<ApprovalStatement>(v).unwrap_err().to_string().contains("statement version 1"));
}

#[test]
fn hash_changes_with_every_field() {
    let base = statement().statement_hash().unwrap();
    let mut s = statement();
    s.binding_message.push('!');
    assert_ne!(s.statement_hash().unwrap(), base);
    let mut s = statement();
    s.decision = Decision::Deny;
    assert_ne!(s.statement_hash().unwrap(), base);
    let mut s = statement();
    s.expires_at += 1;
    assert_ne!(s.statement_hash().unwrap(), base);
    let mut s = statement();
    s.display_schemas.insert("stock_trade".into(), SchemaHash::of_no_schema());
    assert_ne!(s.statement_hash().unwrap(), base);
    // The agent as shown, the risk and the step-ups (issue: a receipt proves
    // which agent the user saw).
    let mut s = statement();
    s.client_name = "Portfolio Agent ".into();
    assert_ne!(s.statement_hash().unwrap(), base);
    let mut s = statement();
    s.client_verified = false;
    assert_ne!(s.statement_hash().unwrap(), base);
    let mut s = statement();
    s.risk = countersign_protocol::device::Risk::Low;
    assert_ne!(s.statement_hash().unwrap(), base);
    let mut s = statement();
    s.requires.clear();
    assert_ne!(s.statement_hash().unwrap(), base);
}

#[test]
fn the_statement_is_built_from_the_agent_risk_and_steps_shown() {
    let mut r = request();
    let s = ApprovalStatement::build(&r, Decision::Approve, schemas()).unwrap();
    assert_eq!((s.client_name.as_str(), s.client_verified), ("Portfolio Agent", true));
    assert_eq!(s.risk, countersign_protocol::device::Risk::High);
    r.client.verified = false;
    r.client.client_name = "Portfolio Agent".into();
    let lookalike = ApprovalStatement::build(&r, Decision::Approve, schemas()).unwrap();
    assert_ne!(lookalike.statement_hash().unwrap(), expected_hash(), "an unverified look-alike signs another hash");
    assert_eq!(
        check_statement(&r, Decision::Approve, &schemas(), &schemas(), &expected_hash()),
        Err(StatementCheckError::StatementMismatch),
        "the server refuses a decision signed over the verified agent for an unverified one"
    );
}

#[test]
fn member_order_of_details_does_not_change_the_hash() {
    let mut v: Value = serde_json::from_str(&read("examples/approver-request.json")).unwrap();
    let detail = v["authorization_details"][0].as_object().unwrap().clone();
    let mut reversed = serde_json::Map::new();
    for (k, val) in detail.iter().rev() {
        reversed.insert(k.clone(), val.clone());
    }
    v["authorization_details"][0] = Value::Object(reversed);
    let r: ApproverRequest = serde_json::from_value(v).unwrap();
    let s = ApprovalStatement::build(&r, Decision::Approve, schemas()).unwrap();
    assert_eq!(s.statement_hash().unwrap(), expected_hash());
}

/// The statement hash refuses a number beyond 2^53-1 (never rounds it). The
/// details are built with `from_value`, so the check under test is the
/// statement's own; if `rar` ever refuses such details first, that is fine too.
fn hash_with_detail(detail: Value) -> Option<Result<StatementHash, StatementError>> {
    let details = countersign_protocol::rar::AuthorizationDetails::from_value(json!([detail])).ok()?;
    let mut r = request();
    r.authorization_details = details;
    let mut s = schemas();
    s.remove("payment_initiation");
    Some(ApprovalStatement::build(&r, Decision::Approve, s).unwrap().statement_hash())
}

#[test]
fn big_integer_in_details_is_an_error_not_rounded() {
    if let Some(result) = hash_with_detail(json!({"type": "stock_trade", "quantity": 9_007_199_254_740_993u64})) {
        assert!(matches!(result, Err(StatementError::Jcs(JcsError::NumberOutOfRange { .. }))), "{result:?}");
    }
    // Control: the same detail at the limit hashes.
    assert!(hash_with_detail(json!({"type": "stock_trade", "quantity": 9_007_199_254_740_991u64})).unwrap().is_ok());
}

#[test]
fn float_beyond_limit_in_details_is_an_error() {
    if let Some(result) = hash_with_detail(json!({"type": "stock_trade", "price": 1e30})) {
        assert!(matches!(result, Err(StatementError::Jcs(JcsError::NumberOutOfRange { .. }))), "{result:?}");
    }
}

#[test]
fn build_refuses_missing_display_schema() {
    let mut s = schemas();
    s.remove("stock_trade");
    assert_eq!(
        ApprovalStatement::build(&request(), Decision::Approve, s),
        Err(StatementError::MissingDisplaySchema("stock_trade".into()))
    );
}

#[test]
fn build_refuses_unused_display_schema() {
    let mut s = schemas();
    s.insert("send_email".into(), SchemaHash::of_no_schema());
    assert_eq!(
        ApprovalStatement::build(&request(), Decision::Approve, s),
        Err(StatementError::UnusedDisplaySchema("send_email".into()))
    );
}

#[test]
fn no_schema_hash_is_hash_of_empty_object() {
    // base64url(SHA-256("{}")), computed with Python's hashlib.
    assert_eq!(SchemaHash::of_no_schema().as_str(), "RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o");
    assert_eq!(SchemaHash::of_schema(&json!({})).unwrap(), SchemaHash::of_no_schema());
    // Display schema hashes in the vector: the JCS of {"$id":type,"type":"object"}.
    assert_eq!(
        SchemaHash::of_schema(&json!({"type": "object", "$id": "stock_trade"})).unwrap(),
        schemas()["stock_trade"]
    );
}

// ---- check_statement ----

#[test]
fn check_accepts_matching_statement() {
    assert_eq!(check_statement(&request(), Decision::Approve, &schemas(), &schemas(), &expected_hash()), Ok(()));
}

#[test]
fn check_reports_display_schema_only_mismatch() {
    let mut current = schemas();
    current.insert("stock_trade".into(), SchemaHash::of_no_schema());
    assert_eq!(
        check_statement(&request(), Decision::Approve, &current, &schemas(), &expected_hash()),
        Err(StatementCheckError::DisplaySchemaMismatch { current: current.clone() })
    );
}

#[test]
fn check_reports_statement_mismatch_for_other_content() {
    let mut stored = request();
    stored.binding_message = "TRADE-XXXX".into();
    assert_eq!(
        check_statement(&stored, Decision::Approve, &schemas(), &schemas(), &expected_hash()),
        Err(StatementCheckError::StatementMismatch)
    );
}

#[test]
fn check_reports_statement_mismatch_when_content_and_schemas_differ() {
    let mut stored = request();
    stored.binding_message = "TRADE-XXXX".into();
    let mut current = schemas();
    current.insert("stock_trade".into(), SchemaHash::of_no_schema());
    assert_eq!(
        check_statement(&stored, Decision::Approve, &current, &schemas(), &expected_hash()),
        Err(StatementCheckError::StatementMismatch)
    );
}

#[test]
fn check_reports_statement_mismatch_for_other_decision() {
    assert_eq!(
        check_statement(&request(), Decision::Deny, &schemas(), &schemas(), &expected_hash()),
        Err(StatementCheckError::StatementMismatch)
    );
}

// ---- decision claims ----

fn example_claims() -> DecisionClaims {
    serde_json::from_str(&read("examples/decision-claims.json")).unwrap()
}
fn validate(c: &DecisionClaims) -> Result<(), DecisionError> {
    c.validate(NOW, &issuer(), &rid())
}

#[test]
fn example_decision_claims_are_valid_and_bind_the_statement() {
    let c = example_claims();
    assert_eq!(validate(&c), Ok(()));
    assert_eq!(c.statement_hash, expected_hash());
}

#[test]
fn jose_made_decision_submission_verifies_end_to_end() {
    let sub: DecisionSubmission = serde_json::from_str(&read("examples/decision-submission.json")).unwrap();
    let enrollment: Value = serde_json::from_str(&read("examples/enrollment-request.json")).unwrap();
    let key: PublicJwk = serde_json::from_value(enrollment["public_jwk"].clone()).unwrap();
    let claims = verify_decision(&sub.decision_jws, &key, &dev(), NOW, &issuer(), &rid()).unwrap();
    assert_eq!(claims, example_claims());
    assert_eq!(
        check_statement(&request(), claims.decision, &schemas(), &sub.display_schemas, &claims.statement_hash),
        Ok(())
    );
}

#[test]
fn our_decision_round_trips() {
    let key = DeviceKeyPair::generate().unwrap();
    let c = DecisionClaims::new(dev(), &statement(), None, NOW).unwrap();
    assert_eq!(c.exp - c.iat, MAX_DECISION_LIFETIME_SECS);
    assert_eq!(c.statement_hash, expected_hash());
    let jws = c.sign(&key).unwrap();
    assert_eq!(verify_decision(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &rid()).unwrap(), c);
}

#[test]
fn deny_with_reason_round_trips() {
    let key = DeviceKeyPair::generate().unwrap();
    let st = ApprovalStatement::build(&request(), Decision::Deny, schemas()).unwrap();
    let c = DecisionClaims::new(dev(), &st, Some(DenyReason::NotMe), NOW).unwrap();
    let jws = c.sign(&key).unwrap();
    let got = verify_decision(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &rid()).unwrap();
    assert_eq!(got.deny_reason, Some(DenyReason::NotMe));
    assert_eq!(got.decision, Decision::Deny);
}

#[test]
fn new_refuses_deny_reason_with_approve() {
    assert_eq!(
        DecisionClaims::new(dev(), &statement(), Some(DenyReason::Other), NOW),
        Err(DecisionClaimsBuildError::Decision(DecisionError::DenyReasonWithApprove))
    );
}

changed_claims! { example_claims, validate;
    refuses_deny_reason_with_approve:
        |c| c.deny_reason = Some(DenyReason::WrongDetails) => Err(DecisionError::DenyReasonWithApprove),
    refuses_other_audience:
        |c| c.aud = Issuer::new("https://evil.example").unwrap() => matches Err(DecisionError::Audience { .. }),
    refuses_lifetime_over_120_seconds:
        |c| c.exp = c.iat + MAX_DECISION_LIFETIME_SECS + 1 => Err(DecisionError::Lifetime),
    refuses_exp_before_iat: |c| c.exp = c.iat - 1 => Err(DecisionError::Lifetime),
    refuses_iat_in_the_future: |c| { c.iat = NOW + 31; c.exp = c.iat + 60; } => Err(DecisionError::NotYetValid),
}

#[test]
fn refuses_other_request() {
    let c = example_claims();
    assert!(matches!(
        c.validate(NOW, &issuer(), &RequestId::new("req_other").unwrap()),
        Err(DecisionError::RequestId { .. })
    ));
}

#[test]
fn refuses_expired_decision() {
    let c = example_claims();
    assert_eq!(c.validate(c.exp, &issuer(), &rid()), Err(DecisionError::Expired));
}

/// `claims` signed by a fresh key with header `typ` and `kid`, verified as
/// the decision of [`dev`] on [`rid`] at [`NOW`].
fn verify_signed(typ: JwtType, kid: &str, claims: &DecisionClaims) -> Result<DecisionClaims, DecisionError> {
    let key = DeviceKeyPair::generate().unwrap();
    let jws = key.sign(&SignHeader { typ: Some(typ), kid: Some(kid.into()) }, claims).unwrap();
    verify_decision(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &rid())
}

/// Fresh claims of [`dev`] approving [`statement`] at [`NOW`].
fn approval() -> DecisionClaims {
    DecisionClaims::new(dev(), &statement(), None, NOW).unwrap()
}

#[test]
fn refuses_decision_signed_for_another_kid() {
    assert_eq!(verify_signed(JwtType::Decision, "dev_other", &approval()), Err(DecisionError::Kid));
}

#[test]
fn refuses_decision_whose_iss_is_another_device() {
    let mut c = approval();
    c.iss = DeviceId::new("dev_other").unwrap();
    assert_eq!(verify_signed(JwtType::Decision, &dev().to_string(), &c), Err(DecisionError::Issuer));
}

#[test]
fn refuses_proof_token_as_decision() {
    assert!(matches!(
        verify_signed(JwtType::DeviceAuth, &dev().to_string(), &approval()),
        Err(DecisionError::Jws(JwsError::TypMismatch { .. }))
    ));
}

/// The example decision claims with `member` set to `value`, parsed.
fn claims_with(member: &str, value: Value) -> Result<DecisionClaims, serde_json::Error> {
    common::changed_example("decision-claims.json", |v| v[member] = value)
}

#[test]
fn refuses_unknown_decision_value() {
    assert!(claims_with("decision", json!("maybe")).is_err());
}

#[test]
fn refuses_unknown_claim_in_decision() {
    assert!(claims_with("authorization_details", json!([])).unwrap_err().to_string().contains("unknown field"));
}

#[test]
fn refuses_malformed_statement_hash() {
    assert!(claims_with("statement_hash", json!("not-a-hash")).is_err());
}

#[test]
fn same_decision_ignores_iat_exp_jti_only() {
    let a = DecisionClaims::new(dev(), &statement(), None, NOW).unwrap();
    let b = DecisionClaims::new(dev(), &statement(), None, NOW + 5).unwrap();
    assert_ne!(a.jti, b.jti);
    assert!(a.same_decision(&b));
    let deny = ApprovalStatement::build(&request(), Decision::Deny, schemas()).unwrap();
    let c = DecisionClaims::new(dev(), &deny, None, NOW).unwrap();
    assert!(!a.same_decision(&c));
    let d = DecisionClaims::new(DeviceId::new("dev_other").unwrap(), &statement(), None, NOW).unwrap();
    assert!(!a.same_decision(&d));
    // How the person was verified is part of the decision.
    let e = DecisionClaims::new(dev(), &statement(), None, NOW + 5).unwrap().with_amr([Amr::User]);
    assert!(!a.same_decision(&e));
    let f = DecisionClaims::new(dev(), &statement(), None, NOW + 9).unwrap().with_amr([Amr::User, Amr::User]);
    assert!(e.same_decision(&f));
}

#[test]
fn amr_is_sent_sorted_only_when_present_and_read_back() {
    let plain = DecisionClaims::new(dev(), &statement(), None, NOW).unwrap();
    assert!(serde_json::to_value(&plain).unwrap().get("amr").is_none(), "no verification: no claim");
    let verified = plain.clone().with_amr([Amr::User, Amr::Hwk, Amr::User]);
    let v = serde_json::to_value(&verified).unwrap();
    assert_eq!(v["amr"], json!(["hwk", "user"]));
    let back: DecisionClaims = serde_json::from_value(v).unwrap();
    assert_eq!(back.amr, vec![Amr::Hwk, Amr::User]);
    assert!(claims_with("amr", json!("user")).is_err(), "an array, as RFC 8176 says");
}

#[test]
fn submission_refuses_unknown_member() {
    let changed = common::changed_example::<DecisionSubmission>("decision-submission.json", |v| {
        v["decision"] = json!("approve");
    });
    assert!(changed.is_err());
}

#[test]
fn the_statement_signs_the_scope_descriptions_and_the_audience() {
    let base = statement().statement_hash().unwrap();
    let mut r = request();
    r.scope_descriptions.insert("openid".into(), "Know who you are (your account identifier).".into());
    let changed = ApprovalStatement::build(&r, Decision::Approve, schemas()).unwrap().statement_hash().unwrap();
    assert_ne!(changed, base, "a description differing by one character changes the hash");
    let mut r = request();
    r.scope_descriptions.clear();
    let unknown = ApprovalStatement::build(&r, Decision::Approve, schemas()).unwrap().statement_hash().unwrap();
    assert_ne!(unknown, base, "a scope shown as unknown is another statement");
    let mut r = request();
    r.audience = None;
    let no_aud = ApprovalStatement::build(&r, Decision::Approve, schemas()).unwrap();
    assert_ne!(no_aud.statement_hash().unwrap(), base);
    assert_eq!(serde_json::to_value(&no_aud).unwrap()["audience"], Value::Null);
    // The server's check refuses a statement over another description.
    assert_eq!(
        check_statement(&request(), Decision::Approve, &schemas(), &schemas(), &changed),
        Err(StatementCheckError::StatementMismatch)
    );
}

#[test]
fn a_scope_only_statement_carries_an_empty_details_array() {
    use countersign_protocol::rar::AuthorizationDetails;
    let mut r = request();
    r.authorization_details = AuthorizationDetails::none();
    assert!(r.is_scope_only());
    let s = ApprovalStatement::build(&r, Decision::Approve, BTreeMap::new()).unwrap();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["authorization_details"], json!([]));
    assert_eq!(v["display_schemas"], json!({}));
    assert_eq!(v["v"], json!(3));
    let back: ApprovalStatement = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, s);
    // The request round trips through its JSON too (`[]` accepted there).
    let text = serde_json::to_string(&r).unwrap();
    assert!(text.contains("\"authorization_details\":[]"), "{text}");
    assert_eq!(serde_json::from_str::<ApproverRequest>(&text).unwrap(), r);
    // Display schemas for a type that is not there are refused.
    assert!(matches!(
        ApprovalStatement::build(&r, Decision::Approve, schemas()),
        Err(StatementError::UnusedDisplaySchema(_))
    ));
    // Version 2 is no longer accepted.
    let mut old = v;
    old["v"] = json!(2);
    assert!(serde_json::from_value::<ApprovalStatement>(old).is_err());
}
