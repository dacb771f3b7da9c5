//! Interop: an independent WebAuthn authenticator, `soft-webauthn` from PyPI
//! (Python, on python-fido2 and cryptography; the versions pinned in
//! `tests/interop/soft-webauthn/requirements.txt`), registers and asserts
//! against this server unchanged (docs/protocol.md §5.5, §8.3 step 8).
//!
//! This side runs the real server (`http://localhost:PORT`, the production
//! policy: critical requests need WebAuthn), enrolls a device and makes every
//! device-channel call; `tests/interop/soft-webauthn/authenticator.py` only
//! plays the authenticator (and the browser's JSON encoding around it).
//! soft-webauthn never sets the UV flag (its authenticator data's flags are
//! the literals 0x41 at registration, 0x01 at assertion: presence only). The
//! script's `uv` form patches those two literals in the library's source to
//! 0x45 and 0x05, the flag and nothing else: the library's own code then signs
//! the patched authenticator data. Its `up` form is the library as published,
//! which the passkey policy (user verification required) refuses.
//!
//! It needs the script's virtual environment, hence `#[ignore]`:
//!
//! ```sh
//! python3 -m venv tests/interop/soft-webauthn/.venv
//! tests/interop/soft-webauthn/.venv/bin/python -m pip install --no-deps -r tests/interop/soft-webauthn/requirements.txt
//! cargo test -p countersign-server --test interop_soft_webauthn -- --ignored
//! ```

mod common;

use common::webauthn::{approve_with, credentials, device_post as post, statement_hash, webauthn_server};
use common::*;
use countersign_protocol::device::{
    ApproverRequest, CredentialList, Decision, RegistrationStart, Requirement, StatementHash, WebauthnCredential,
};
use countersign_protocol::jws::b64url_decode;
use countersign_server::testing::TestServer;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Longest wait for one answer of the script.
const LINE_WAIT: Duration = Duration::from_secs(20);

fn script_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/soft-webauthn")
}

/// Which form of soft-webauthn answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// The UV flag patched on: presence and verification.
    Uv,
    /// As published: presence only.
    Up,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Uv => "uv",
            Form::Up => "up",
        }
    }
}

/// The script: one soft-webauthn device for its whole run.
struct SoftWebauthn {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SoftWebauthn {
    /// Starts the script and waits for its `ready` line.
    async fn spawn() -> SoftWebauthn {
        let dir = script_dir();
        let python = dir.join(".venv/bin/python");
        assert!(
            python.is_file(),
            "soft-webauthn's virtual environment is missing: run `cargo xtask test`, or see this file's header ({})",
            dir.display()
        );
        let mut child = Command::new(&python)
            .arg("authenticator.py")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the virtual environment's python");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let mut soft = SoftWebauthn { _child: child, stdin, lines: BufReader::new(stdout).lines() };
        let ready = soft.next().await;
        assert_eq!(ready["ready"], true, "{ready}");
        assert_eq!(ready["soft_webauthn"], "0.1.4", "the pinned version: {ready}");
        soft
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(LINE_WAIT, self.lines.next_line())
            .await
            .expect("soft-webauthn answered nothing in time")
            .expect("read stdout")
            .expect("soft-webauthn exited without an answer");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The credential soft-webauthn's `op` (`create` or `get`) answers in
    /// `form` for `options` at `origin`.
    async fn call(&mut self, op: &str, form: Form, origin: &str, options: &Value) -> Value {
        let command = json!({ "op": op, "form": form.name(), "origin": origin, "options": options });
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write to soft-webauthn");
        self.stdin.flush().await.expect("flush");
        let mut out = self.next().await;
        assert!(out.get("error").is_none(), "soft-webauthn {op}: {out}");
        out["credential"].take()
    }
}

/// The flags byte of authenticator data (WebAuthn §6.1: after the 32-byte
/// `rpIdHash`), from an assertion.
fn assertion_flags(credential: &Value) -> u8 {
    let data = b64url_decode(credential["response"]["authenticatorData"].as_str().expect("authenticatorData"));
    data.expect("base64url")[32]
}

/// Starts a registration, has soft-webauthn create a credential in `form`,
/// and sends it under `name`: the server's answer.
async fn register(
    dev: &TestDevice,
    server: &TestServer,
    soft: &mut SoftWebauthn,
    form: Form,
    name: &str,
) -> reqwest::Response {
    let resp = post(dev, server, "/webauthn/registrations", None).await;
    assert_eq!(resp.status(), 200, "registration start");
    let start: RegistrationStart = resp.json().await.expect("json");
    assert_eq!(start.options["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let credential = soft.call("create", form, &server.base_url, &start.options).await;
    let path = format!("/webauthn/registrations/{}", start.registration_id);
    post(dev, server, &path, Some(&json!({ "name": name, "credential": credential }))).await
}

/// soft-webauthn's assertion in `form` over `hash`, asked for as an approver
/// does (docs/protocol.md §5.5): options built from the credential list, the
/// challenge the statement hash, the list's origin.
async fn assertion(soft: &mut SoftWebauthn, form: Form, list: &CredentialList, hash: &StatementHash) -> Value {
    let options = json!({
        "publicKey": {
            "challenge": hash.as_str(),
            "timeout": 60000,
            "rpId": list.rp_id,
            "allowCredentials": list.credentials.iter().filter(|c| c.flagged_at.is_none())
                .map(|c| json!({"type": "public-key", "id": c.credential_id})).collect::<Vec<_>>(),
            "userVerification": "required"
        }
    });
    soft.call("get", form, &list.origin, &options).await
}

/// The default test agent's request (a payment: critical) for `username`,
/// as the device sees it; its `auth_req_id`.
async fn critical_request(
    server: &TestServer,
    dev: &TestDevice,
    agent: &Agent,
    username: &str,
) -> (String, ApproverRequest) {
    let ack = agent.start(server, username).await;
    let auth_req_id = ack["auth_req_id"].as_str().expect("auth_req_id").to_owned();
    let req = dev.pending(server).await.into_iter().last().expect("pending request");
    assert_eq!(req.requires, [Requirement::UserVerification, Requirement::Webauthn], "critical");
    (auth_req_id, req)
}

#[tokio::test]
#[ignore = "needs soft-webauthn's Python venv in tests/interop/soft-webauthn: run by cargo xtask test"]
async fn soft_webauthn_with_uv_registers_and_approves_a_critical_request() {
    let server = webauthn_server().await;
    let mut soft = SoftWebauthn::spawn().await;
    let dev = TestDevice::of_new_user(&server, "alice").await;
    let agent = Agent::register(&server, json!({})).await;

    let resp = register(&dev, &server, &mut soft, Form::Uv, "soft-webauthn").await;
    assert_eq!(resp.status(), 200, "registration finish");
    let registered: WebauthnCredential = resp.json().await.expect("json");
    let list = credentials(&dev, &server).await;
    assert_eq!((list.rp_id.as_str(), list.origin.as_str()), ("localhost", server.base_url.as_str()));
    assert_eq!(list.credentials.len(), 1);
    assert_eq!(list.credentials[0].credential_id, registered.credential_id);
    assert_eq!(list.credentials[0].name, "soft-webauthn");

    let (auth_req_id, req) = critical_request(&server, &dev, &agent, "alice").await;
    let webauthn = assertion(&mut soft, Form::Uv, &list, &statement_hash(&dev, &req, Decision::Approve)).await;
    assert_eq!(assertion_flags(&webauthn), 0x05, "UP and the patched UV");
    assert_eq!(webauthn["id"], registered.credential_id.as_str());
    let resp = approve_with(&dev, &server, &req, Some(webauthn)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());

    let (status, tokens) = agent.poll(&auth_req_id).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let list = credentials(&dev, &server).await;
    assert!(list.credentials[0].last_used_at.is_some(), "its use recorded");
    assert!(list.credentials[0].flagged_at.is_none());
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs soft-webauthn's Python venv in tests/interop/soft-webauthn: run by cargo xtask test"]
async fn soft_webauthn_as_published_presence_only_is_refused() {
    let server = webauthn_server().await;
    let mut soft = SoftWebauthn::spawn().await;
    let dev = TestDevice::of_new_user(&server, "alice").await;
    let agent = Agent::register(&server, json!({})).await;

    // Registration without user verification: refused, nothing stored.
    let resp = register(&dev, &server, &mut soft, Form::Up, "soft-webauthn").await;
    let err = expect_err(resp, 400, "invalid_credential").await;
    assert!(err["error_description"].as_str().unwrap().contains("user verified bit is not set"), "{err}");
    assert!(credentials(&dev, &server).await.credentials.is_empty(), "nothing stored");

    // Registered with the UV form, then an assertion of the published form
    // over the right statement with the same key: refused.
    let resp = register(&dev, &server, &mut soft, Form::Uv, "soft-webauthn").await;
    assert_eq!(resp.status(), 200, "registration finish");
    let list = credentials(&dev, &server).await;
    let (auth_req_id, req) = critical_request(&server, &dev, &agent, "alice").await;
    let hash = statement_hash(&dev, &req, Decision::Approve);
    let presence_only = assertion(&mut soft, Form::Up, &list, &hash).await;
    assert_eq!(assertion_flags(&presence_only), 0x01, "UP only");
    let err = expect_err(approve_with(&dev, &server, &req, Some(presence_only)).await, 403, "step_up_failed").await;
    assert!(err["error_description"].as_str().unwrap().contains("user verified bit is not set"), "{err}");
    assert!(dev.pending(&server).await.iter().any(|r| r.id == req.id), "still pending: nothing recorded");
    let list = credentials(&dev, &server).await;
    assert!(list.credentials[0].last_used_at.is_none() && list.credentials[0].flagged_at.is_none());

    // The only difference was the flag: the UV form's assertion of the same
    // statement, with the same key, approves.
    let verified = assertion(&mut soft, Form::Uv, &list, &hash).await;
    assert_eq!(approve_with(&dev, &server, &req, Some(verified)).await.status(), 200);
    let (status, tokens) = agent.poll(&auth_req_id).await;
    assert_eq!(status, 200, "{tokens}");
    server.stop().await;
}
