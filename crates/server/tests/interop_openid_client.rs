//! Interop: panva's `openid-client` (a certified OpenID client library, the
//! version pinned in `tests/interop/package-lock.json`) runs the CIBA poll
//! flow against this server with its public API unchanged. The script is
//! `tests/interop/openid-client-ciba.mjs`; it needs Node.js (>= 20) and
//! `npm ci` in `tests/interop`, hence `#[ignore]`:
//!
//! ```sh
//! (cd tests/interop && npm ci)
//! cargo test -p countersign-server --test interop_openid_client -- --ignored
//! ```
//!
//! The flows run over HTTPS: the test server has the development
//! certificate (`--tls-self-signed`'s, issued by a CA made for it), which
//! Node trusts through `NODE_EXTRA_CA_CERTS`, as docs/agents.md tells users
//! to. The library is used with no switch at all; the server's poll interval
//! is configured to 1 s so the library's polling keeps the test short. The
//! negative tests start the real `countersign-server serve` with an expired
//! certificate and with one for another name, both issued by a CA Node
//! trusts: the library refuses both before any OAuth message is sent.

mod common;

use common::*;
use countersign_protocol::device::{ApproverRequest, Decision, DenyReason};
use countersign_server::testing::{spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Longest wait for one line of the library's output.
const LINE_WAIT: Duration = Duration::from_secs(20);
const BINDING_MESSAGE: &str = "PAY-4F7Q";

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// A client registered the way an openid-client user would: RFC 7591 with
/// the CIBA metadata, `client_secret_basic`, poll mode.
async fn register(server: &TestServer) -> (String, String) {
    let meta = json!({
        "client_name": "openid-client interop",
        "grant_types": ["urn:openid:params:grant-type:ciba"],
        "token_endpoint_auth_method": "client_secret_basic",
        "backchannel_token_delivery_mode": "poll",
        "authorization_details_types": ["payment_initiation"],
        "scope": "openid",
    });
    let resp = http().post(server.url("/register")).json(&meta).send().await.expect("register");
    assert_eq!(resp.status(), 201, "registration");
    let reg: Value = resp.json().await.expect("json");
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["backchannel_token_delivery_mode"], "poll");
    (
        reg["client_id"].as_str().expect("client_id").to_owned(),
        reg["client_secret"].as_str().expect("client_secret").to_owned(),
    )
}

struct Library {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Library {
    /// Runs the openid-client script for `login_hint`.
    fn spawn(server: &TestServer, client_id: &str, secret: &str, login_hint: &str) -> Library {
        let dir = interop_dir();
        assert!(
            dir.join("node_modules/openid-client/package.json").is_file(),
            "openid-client is not installed: run `npm ci` in {}",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("openid-client-ciba.mjs")
            .current_dir(&dir)
            .env("NODE_EXTRA_CA_CERTS", server.ca.as_ref().expect("a TLS test server"))
            .env("ISSUER", &server.base_url)
            .env("CLIENT_ID", client_id)
            .env("CLIENT_SECRET", secret)
            .env("LOGIN_HINT", login_hint)
            .env("BINDING_MESSAGE", BINDING_MESSAGE)
            .env("AUTHORIZATION_DETAILS", details().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node (is Node.js >= 20 on PATH?)");
        let stdout = child.stdout.take().expect("stdout");
        Library { child, lines: BufReader::new(stdout).lines() }
    }

    /// The next JSON line the script prints.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(LINE_WAIT, self.lines.next_line())
            .await
            .expect("openid-client printed nothing in time")
            .expect("read stdout")
            .expect("openid-client exited without output");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Waits for the `initiated` line: the library accepted our `/bc-authorize` answer.
    async fn initiated(&mut self) {
        let v = self.next().await;
        assert_eq!(v["event"], "initiated", "{v}");
        assert!(v["auth_req_id_length"].as_u64().unwrap() >= 27, "{v}");
        assert_eq!(v["expires_in"], 300, "{v}");
        assert_eq!(v["interval"], 1, "the configured interval: {v}");
    }

    async fn exit_code(mut self) -> Option<i32> {
        let status = tokio::time::timeout(LINE_WAIT, self.child.wait()).await.expect("node exits").expect("wait");
        status.code()
    }
}

/// A flow of the library: server (poll interval 1 s), user, enrolled device
/// with its SSE stream open, registered client, and the library, whose
/// `/bc-authorize` was answered.
struct Flow {
    server: TestServer,
    sub: String,
    dev: TestDevice,
    sse: Sse,
    client_id: String,
    lib: Library,
}

impl Flow {
    /// Sets up user `username` and starts the library for `login_hint`.
    async fn start(username: &str, login_hint: &str) -> Flow {
        let server =
            spawn_test_server(TestOptions { tls: true, ..TestOptions::with_config(|c| c.poll_interval_secs = 1) })
                .await
                .expect("TLS test server");
        assert!(server.base_url.starts_with("https://localhost:"), "{}", server.base_url);
        let sub = add_user(&server, username).await;
        let dev = TestDevice::enroll(&server, username).await;
        let sse = dev.events(&server, None).await;
        let (client_id, secret) = register(&server).await;
        let mut lib = Library::spawn(&server, &client_id, &secret, login_hint);
        lib.initiated().await;
        Flow { server, sub, dev, sse, client_id, lib }
    }
}

/// The request the library started, as pushed to the device, which decides
/// it (`decision`, `reason`).
async fn decide_pushed(
    server: &TestServer,
    dev: &TestDevice,
    sse: &mut Sse,
    client_id: &str,
    decision: Decision,
    reason: Option<DenyReason>,
) -> ApproverRequest {
    let (_, req) = expect_request(sse.next_event(WAIT).await);
    assert_eq!(req.client.client_id, client_id);
    assert_eq!(req.binding_message, BINDING_MESSAGE);
    assert_eq!(req.scope, vec!["openid"]);
    assert_eq!(req.authorization_details.to_value(), details());
    let resp = dev.decide(server, &req, decision, reason).await;
    assert_eq!(resp.status(), 200, "decision");
    req
}

#[tokio::test]
#[ignore = "needs Node.js and `npm ci` in tests/interop: run by cargo xtask test"]
async fn openid_client_runs_the_ciba_poll_flow() {
    let Flow { server, sub, dev, mut sse, client_id, mut lib } = Flow::start("zoe", "zoe").await;
    let req = decide_pushed(&server, &dev, &mut sse, &client_id, Decision::Approve, None).await;
    let approved = req.authorization_details.to_value();

    let out = lib.next().await;
    assert_eq!(out["event"], "tokens", "{out}");
    // The library normalizes token_type to lower case (the server sends "Bearer").
    assert_eq!(out["token_type"], "bearer");
    assert_eq!(out["scope"], "openid");
    assert!(out["expires_in"].as_u64().is_some_and(|s| s > 0 && s <= 600), "{out}");
    assert_eq!(out["authorization_details"], approved, "granted details are the approved ones");

    // The access token verifies against the server's JWKS.
    let access = out["access_token"].as_str().expect("access_token");
    let claims = verify_jwt(&server, access, "at+jwt").await;
    assert_eq!(claims["iss"], server.base_url);
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["act"], json!({ "sub": client_id }));
    assert_eq!(claims["scope"], "openid");
    assert_eq!(claims["authorization_details"], approved);

    // The ID token claims, as the library validated them (iss, aud, sub,
    // exp, iat; signature checked against jwks_uri by its non-repudiation
    // check), and the raw token against the JWKS here too.
    let id = &out["id_token_claims"];
    assert_eq!(id["iss"], server.base_url);
    assert_eq!(id["aud"], client_id);
    assert_eq!(id["sub"], sub);
    let raw = verify_jwt(&server, out["id_token"].as_str().expect("id_token"), "JWT").await;
    assert_eq!(&raw, id);
    assert_eq!(raw["at_hash"], countersign_server::testing::at_hash(access));
    // The payment requires user verification: the approver's OS prompt
    // (`amr` `user`, RFC 8176) reaches the agent through the library, and
    // the access token says the same to resource servers.
    assert_eq!(id["amr"], json!(["user"]), "{id}");
    assert_eq!(claims["amr"], json!(["user"]));

    assert_eq!(lib.exit_code().await, Some(0));
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and `npm ci` in tests/interop: run by cargo xtask test"]
async fn openid_client_surfaces_access_denied() {
    // An e-mail login_hint this time.
    let Flow { server, dev, mut sse, client_id, mut lib, .. } = Flow::start("ana", "ana@example.com").await;
    decide_pushed(&server, &dev, &mut sse, &client_id, Decision::Deny, Some(DenyReason::WrongDetails)).await;

    let out = lib.next().await;
    assert_eq!(out["event"], "error", "{out}");
    assert_eq!(out["error"], "access_denied", "{out}");
    assert_eq!(out["code"], "OAUTH_RESPONSE_BODY_ERROR", "{out}");
    assert_eq!(lib.exit_code().await, Some(1));
    server.stop().await;
}

/// What the library says when its discovery of `https://localhost:{port}`
/// fails, trusting `ca`: the `error` line, retried while the server is not
/// yet listening.
async fn refused_discovery(port: u16, ca: &std::path::Path) -> Value {
    for _ in 0..100 {
        let out = Command::new("node")
            .arg("openid-client-ciba.mjs")
            .current_dir(interop_dir())
            .env("NODE_EXTRA_CA_CERTS", ca)
            .env("ISSUER", format!("https://localhost:{port}"))
            .env("CLIENT_ID", "never-used")
            .env("CLIENT_SECRET", "never-used")
            .env("LOGIN_HINT", "nobody")
            .env("BINDING_MESSAGE", BINDING_MESSAGE)
            .env("AUTHORIZATION_DETAILS", details().to_string())
            .stdin(Stdio::null())
            .output()
            .await
            .expect("node runs");
        let line = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(v["event"], "error", "the library must refuse the server: {v}");
        assert_eq!(out.status.code(), Some(1));
        if !v["causes"].to_string().contains("ECONNREFUSED") {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server never listened on {port}");
}

// The library refuses an expired certificate and one for another name,
// though both come from a CA it trusts: nothing reaches the server's OAuth
// endpoints (its discovery is the first request and it fails in TLS).
#[tokio::test]
#[ignore = "needs Node.js and `npm ci` in tests/interop: run by cargo xtask test"]
async fn openid_client_refuses_an_expired_or_misnamed_certificate() {
    use common::tls_files::{issue, now, serve};
    let dir = tempfile::tempdir().unwrap();
    let flags = |cert: &std::path::Path, key: &std::path::Path| {
        vec!["--tls-cert".to_owned(), cert.display().to_string(), "--tls-key".to_owned(), key.display().to_string()]
    };

    let (ca, cert, key) = issue(dir.path(), "expired", &["localhost"], now() - 10 * 86_400, now() - 86_400);
    let args = flags(&cert, &key);
    let server = serve(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    let said = refused_discovery(server.port, &ca).await;
    assert!(said["causes"].as_array().unwrap().iter().any(|c| c == "CERT_HAS_EXPIRED"), "{said}");
    drop(server);

    let (ca, cert, key) = issue(dir.path(), "misnamed", &["bank.example.test"], now() - 3600, now() + 86_400);
    let args = flags(&cert, &key);
    let server = serve(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    let said = refused_discovery(server.port, &ca).await;
    assert!(said["causes"].as_array().unwrap().iter().any(|c| c == "ERR_TLS_CERT_ALTNAME_INVALID"), "{said}");
    drop(server);
}
