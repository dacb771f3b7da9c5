//! Every example of docs/protocol.md is a file in testdata/device/examples,
//! equal to the block in the document, and parses into its type and back to
//! the same JSON.

use countersign_protocol::device::events::{AdminNotice, GrantRevoked, Withdrawn};
use countersign_protocol::device::{
    default_device_endpoint, ApprovalStatement, ApproverRequest, DecisionClaims, DecisionResult, DecisionSubmission,
    DeviceAuthClaims, DeviceErrorResponse, EnrollmentPreviewRequest, EnrollmentPreviewResponse, EnrollmentRequest,
    EnrollmentResponse, EnrollmentUri, Issuer, RequestList, RequestState, UnverifiedBlock,
};
use countersign_protocol::jws::b64url_decode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/device/examples")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(examples_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Blocks of the document introduced by a line `<!-- example: NAME -->`.
fn doc_examples() -> BTreeMap<String, String> {
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md")).unwrap();
    let mut out = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("<!-- example: ").and_then(|r| r.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "example {name} must be followed by a fenced block");
        let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        assert!(out.insert(name.to_owned(), body.join("\n")).is_none(), "example {name} appears twice");
    }
    out
}

#[test]
fn document_blocks_equal_the_files_and_cover_them_all() {
    let blocks = doc_examples();
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(blocks.keys().cloned().collect::<Vec<_>>(), files, "examples in docs/protocol.md vs files");
    for (name, block) in &blocks {
        if name.ends_with(".json") {
            let in_doc: Value = serde_json::from_str(block).unwrap_or_else(|e| panic!("doc block {name}: {e}"));
            assert_eq!(in_doc, json(name), "docs/protocol.md block {name} differs from its file");
            // Same text too, so member order in the document is the file's.
            assert_eq!(block.trim(), read(name).trim(), "{name}");
        } else {
            assert_eq!(block.trim(), read(name).trim(), "docs/protocol.md block {name} differs from its file");
        }
    }
}

/// Parses the example into `T` and checks it serializes back to the same JSON.
fn typed<T: Serialize + DeserializeOwned>(name: &str) -> T {
    let v = json(name);
    let t: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(serde_json::to_value(&t).unwrap(), v, "{name} does not round-trip");
    t
}

fn jws_header(jws: &str) -> Value {
    serde_json::from_slice(&b64url_decode(jws.split('.').next().unwrap()).unwrap()).unwrap()
}

fn jws_payload(jws: &str) -> Value {
    serde_json::from_slice(&b64url_decode(jws.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

#[test]
fn server_metadata_points_at_the_default_endpoint() {
    let v = json("server-metadata.json");
    let issuer = Issuer::new(v["issuer"].as_str().unwrap()).unwrap();
    assert_eq!(v["countersign_device_endpoint"], default_device_endpoint(&issuer));
}

#[test]
fn enrollment_uri_and_link_are_the_same_invitation() {
    let app = EnrollmentUri::parse(read("enrollment-uri.txt").trim()).unwrap();
    let link = EnrollmentUri::parse(read("enrollment-link.txt").trim()).unwrap();
    assert_eq!(app, link);
    assert_eq!(app.to_app_uri(), read("enrollment-uri.txt").trim());
    assert_eq!(app.to_https_link(), read("enrollment-link.txt").trim());
    let req: EnrollmentRequest = typed("enrollment-request.json");
    assert_eq!(req.ticket, *app.ticket());
}

#[test]
fn enrollment_messages_parse() {
    let req: EnrollmentRequest = typed("enrollment-request.json");
    assert_eq!(req.validate(), Ok(()));
    let resp: EnrollmentResponse = typed("enrollment-response.json");
    assert_eq!(resp.poll_interval, 30);
    let preview: EnrollmentPreviewRequest = typed("enrollment-preview-request.json");
    assert_eq!(preview.validate(), Ok(()));
    assert_eq!(preview.ticket, req.ticket, "the preview and the enrollment use the same ticket");
    let previewed: EnrollmentPreviewResponse = typed("enrollment-preview-response.json");
    assert_eq!(previewed.user, resp.user, "the preview shows the user the enrollment gets");
}

#[test]
fn device_auth_examples_agree() {
    let claims: DeviceAuthClaims = typed("device-auth-claims.json");
    let jws = read("device-auth.jws");
    assert_eq!(jws_header(jws.trim()), json("device-auth-header.json"));
    assert_eq!(jws_payload(jws.trim()), json("device-auth-claims.json"));
    let resp: EnrollmentResponse = typed("enrollment-response.json");
    assert_eq!(claims.iss, resp.device_id);
    assert_eq!(json("device-auth-header.json")["kid"], resp.device_id.as_str());
}

#[test]
fn request_examples_parse() {
    let r: ApproverRequest = typed("approver-request.json");
    assert_eq!(r.authorization_details.len(), 2);
    let list: RequestList = typed("request-list.json");
    assert!(list.next_cursor.is_some(), "the example shows a page with more after it");
    let block: UnverifiedBlock = typed("unverified-block.json");
    assert!(block.blocked && block.since.is_some());
    let state: RequestState = typed("request-state.json");
    assert_eq!(list.requests[0], state.request);
}

#[test]
fn event_examples_parse() {
    let _: Withdrawn = typed("event-withdrawn.json");
    let _: GrantRevoked = typed("event-grant-revoked.json");
    let _: AdminNotice = typed("event-admin-notice.json");
}

#[test]
fn decision_examples_agree() {
    let statement: ApprovalStatement = typed("statement.json");
    let claims: DecisionClaims = typed("decision-claims.json");
    let submission: DecisionSubmission = typed("decision-submission.json");
    let _: DecisionResult = typed("decision-result.json");
    assert_eq!(claims.statement_hash, statement.statement_hash().unwrap());
    assert_eq!(claims.request_id, statement.request_id);
    assert_eq!(claims.decision, statement.decision);
    assert_eq!(submission.display_schemas, statement.display_schemas);
    assert_eq!(jws_header(&submission.decision_jws), json("decision-header.json"));
    assert_eq!(jws_payload(&submission.decision_jws), json("decision-claims.json"));
}

#[test]
fn error_examples_parse() {
    let e: DeviceErrorResponse = typed("error-display-schema-mismatch.json");
    assert_eq!(e.http_status(), 409);
    let e: DeviceErrorResponse = typed("error-decision-conflict.json");
    assert_eq!(e.http_status(), 409);
}

#[test]
fn webauthn_messages_parse() {
    use countersign_protocol::device::{check_credential_name, CredentialList, RegistrationFinish, RegistrationStart};
    let start: RegistrationStart = typed("webauthn-registration-start.json");
    assert_eq!(start.options["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let finish: RegistrationFinish = typed("webauthn-registration-finish.json");
    assert_eq!(check_credential_name(&finish.name), Ok(()));
    let list: CredentialList = typed("webauthn-credentials.json");
    assert_eq!(list.credentials[0].credential_id, finish.credential["id"]);
    assert!(list.credentials[0].flagged_at.is_none() && list.credentials[1].flagged_at.is_some());
    assert!(list.origin.ends_with(&list.rp_id), "the origin is the rp_id's");
}
