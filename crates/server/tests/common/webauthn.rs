//! WebAuthn test support shared by `tests/webauthn.rs` (webauthn-authenticator-rs's
//! software passkey) and `tests/interop_soft_webauthn.rs` (a Python peer):
//! the server, the device-authenticated calls, the statement an approval signs.

use countersign_protocol::device::{
    ApprovalStatement, ApproverRequest, CredentialList, Decision, HttpMethod, Risk, StatementHash,
};
use countersign_server::testing::{spawn_test_server, TestOptions, TestServer};
use serde_json::Value;

use super::TestDevice;

/// A server on `http://localhost:PORT` (WebAuthn needs a domain) whose
/// policy is the production default: critical requests need WebAuthn.
pub async fn webauthn_server() -> TestServer {
    let options =
        TestOptions { localhost_issuer: true, ..TestOptions::with_config(|c| c.webauthn_at = Some(Risk::Critical)) };
    spawn_test_server(options).await.expect("test server")
}

/// A device-authenticated `POST {device}{path}`, with `body` as JSON if any.
pub async fn device_post(dev: &TestDevice, server: &TestServer, path: &str, body: Option<&Value>) -> reqwest::Response {
    let url = format!("{}{path}", dev.endpoint);
    let proof = dev.proof(HttpMethod::Post, &url, server.state.now());
    let req = dev.http.post(&url).header("Authorization", format!("Device {proof}"));
    let req = match body {
        Some(b) => req.json(b),
        None => req,
    };
    req.send().await.expect("post")
}

/// A device-authenticated `DELETE {device}{path}`.
pub async fn device_delete(dev: &TestDevice, server: &TestServer, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", dev.endpoint);
    let proof = dev.proof(HttpMethod::Delete, &url, server.state.now());
    dev.http.delete(&url).header("Authorization", format!("Device {proof}")).send().await.expect("delete")
}

/// `GET {device}/webauthn/credentials`, answered 200.
pub async fn credentials(dev: &TestDevice, server: &TestServer) -> CredentialList {
    let resp = dev.get(server, "/webauthn/credentials").await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

/// The hash of the statement of `decision` over `req`, as the device shows it.
pub fn statement_hash(dev: &TestDevice, req: &ApproverRequest, decision: Decision) -> StatementHash {
    let statement = ApprovalStatement::build(req, decision, dev.schemas(req)).expect("statement");
    StatementHash::digest(&statement.canonical_bytes().expect("jcs"))
}

/// Submits an approval of `req` with `webauthn` as its assertion.
pub async fn approve_with(
    dev: &TestDevice,
    server: &TestServer,
    req: &ApproverRequest,
    webauthn: Option<Value>,
) -> reqwest::Response {
    let mut body = dev.submission(req, Decision::Approve, None, server.state.now());
    body.webauthn = webauthn;
    dev.submit(server, &req.id, &body).await
}
