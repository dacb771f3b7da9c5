//! Interop: an agent built on Auth0's AI SDK (`@auth0/ai` from npm, pinned
//! in `tests/interop/package-lock.json`; `tests/interop/auth0-ai-ciba.mjs`)
//! asks Countersign, unchanged, over HTTPS with the development certificate:
//! its tool waits in interrupt mode until the user approves with the CLI
//! approver, then runs with the approved `authorization_details`; a denial
//! reaches it as the SDK's own AccessDeniedInterrupt. Needs Node.js and
//! `npm ci` in `tests/interop`, hence `#[ignore]` (`cargo xtask test` runs
//! it).

use countersign_server::testing::{new_user, spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_countersign-cli");

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// An e-mail to a customer (risk medium: the CLI approves it with `--yes`;
/// a high-risk one wants its binding message typed in a terminal, which
/// tests/cli.rs covers).
fn details() -> Value {
    json!([{ "type": "urn:countersign:details:v1:send_email", "to": ["customer@example.org"],
             "subject": "Your order ACME-10 has shipped" }])
}

/// The CLI approver on `data`, trusting the server's development CA.
async fn cli(server: &TestServer, data: &Path, args: &[&str]) -> Value {
    let mut c = std::process::Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .arg("--ca-file")
        .arg(server.ca.as_ref().expect("a TLS server"))
        .arg("--json")
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/countersign-test-bus")
        .env("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", "correct horse battery staple")
        .env_remove("COUNTERSIGN_KEY_STORE")
        .env_remove("COUNTERSIGN_DATA_DIR")
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The SDK's run for one tool call; each line it printed.
struct Sdk {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Sdk {
    fn spawn(server: &TestServer, client: &(String, String), sub: &str, binding: &str, expiry: u64) -> Sdk {
        let dir = interop_dir();
        assert!(
            dir.join("node_modules/@auth0/ai/package.json").is_file(),
            "@auth0/ai is not installed: run `npm ci` in {}",
            dir.display()
        );
        let domain = server.base_url.strip_prefix("https://").expect("an https issuer");
        let mut child = tokio::process::Command::new("node")
            .arg("auth0-ai-ciba.mjs")
            .current_dir(&dir)
            .env("NODE_EXTRA_CA_CERTS", server.ca.as_ref().unwrap())
            .env("DOMAIN", domain)
            .env("CLIENT_ID", &client.0)
            .env("CLIENT_SECRET", &client.1)
            .env("USER_ID", sub)
            .env("BINDING_MESSAGE", binding)
            .env("AUTHORIZATION_DETAILS", details().to_string())
            .env("REQUESTED_EXPIRY", expiry.to_string())
            .env("WAIT_SECS", "60")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Sdk { child, lines }
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("a line from the SDK within 60 s")
            .unwrap()
            .expect("the SDK ended without a line");
        serde_json::from_str(&line).unwrap()
    }

    /// Lines until the tool ran or was refused.
    async fn outcome(&mut self) -> Value {
        loop {
            let line = self.next().await;
            eprintln!("SDK: {line}");
            // Only "pending": a `slow_down` or an error at the token endpoint
            // is a failure of the interop, not a wait.
            if line["outcome"] == "interrupt" {
                assert_eq!(line["code"], "ASYNC_AUTHORIZATION_AUTHORIZATION_PENDING", "{line}");
            }
            if line["outcome"] != "interrupt" {
                let _ = self.child.wait().await;
                return line;
            }
        }
    }
}

/// The request with `binding` in the CLI approver's inbox, once it is there.
async fn pending_id(server: &TestServer, data: &Path, binding: &str) -> String {
    for _ in 0..100 {
        let list = cli(server, data, &["list"]).await;
        if let Some(item) = list.as_array().unwrap().iter().find(|i| i["request"]["binding_message"] == binding) {
            return item["request"]["id"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{binding} never reached the approver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn an_agent_on_auth0_ai_waits_for_the_cli_approval_and_gets_the_approved_details() {
    let server = spawn_test_server(TestOptions {
        tls: true,
        ..TestOptions::with_config(|c| {
            c.limits.user_per_minute = 0;
            c.limits.client_per_minute = 0;
            c.poll_interval_secs = 1;
        })
    })
    .await
    .unwrap();
    assert!(server.base_url.starts_with("https://localhost:"), "{}", server.base_url);
    let zoe = server.create_user(&new_user("zoe", "Zoë Martin")).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("approver");
    cli(&server, &data, &["enroll", &server.invitation("zoe", 600).await, "--yes"]).await;

    // The agent's client, registered as an Auth0 application is: a secret
    // sent in the body (the SDK's client authentication), poll mode.
    let ca = std::fs::read(server.ca.as_ref().unwrap()).unwrap();
    let http =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap()).build().unwrap();
    let registration = json!({
        "client_name": "Support agent (@auth0/ai)",
        "grant_types": ["urn:openid:params:grant-type:ciba"],
        "token_endpoint_auth_method": "client_secret_post",
        "backchannel_token_delivery_mode": "poll",
        "authorization_details_types": ["urn:countersign:details:v1:send_email"],
        "scope": "openid",
    });
    let reg: Value = http.post(server.url("/register")).json(&registration).send().await.unwrap().json().await.unwrap();
    let client = (reg["client_id"].as_str().unwrap().to_owned(), reg["client_secret"].as_str().unwrap().to_owned());

    // Approved: the tool was interrupted while pending, then ran with
    // exactly the approved details.
    let mut sdk = Sdk::spawn(&server, &client, &zoe.sub, "MAIL-ACME-1", 300);
    let first = sdk.next().await;
    assert_eq!(first["outcome"], "interrupt", "{first}");
    assert_eq!(first["code"], "ASYNC_AUTHORIZATION_AUTHORIZATION_PENDING");
    let id = pending_id(&server, &data, "MAIL-ACME-1").await;
    let shown = cli(&server, &data, &["show", &id]).await;
    assert_eq!(shown["item"]["request"]["authorization_details"], details(), "{shown}");
    cli(&server, &data, &["approve", &id, "--yes"]).await;
    let ran = sdk.outcome().await;
    assert_eq!(ran["outcome"], "ran", "{ran}");
    assert_eq!(ran["authorization_details"], details());
    assert_eq!(ran["has_access_token"], true);
    assert_eq!(ran["ran"], json!({ "to": "customer@example.org", "order": "ACME-10" }));

    // Denied: the SDK's AccessDeniedInterrupt, and the tool did not run.
    let mut sdk = Sdk::spawn(&server, &client, &zoe.sub, "MAIL-ACME-2", 300);
    let id = pending_id(&server, &data, "MAIL-ACME-2").await;
    cli(&server, &data, &["deny", &id, "--reason", "wrong_details"]).await;
    let denied = sdk.outcome().await;
    assert_eq!((denied["outcome"].as_str(), denied["name"].as_str()), (Some("refused"), Some("AccessDeniedInterrupt")));

    // Not tested: expiry. The SDK keeps its pending request in its store
    // for `expires_in` only; once the store has dropped it, the next call
    // of the tool starts a new request (seen here: a new request every
    // `expires_in` seconds), and a poll that races the store's expiry gets
    // the server's `expired_token` as the library's AuthApiError. Neither
    // is an outcome a test can wait for without racing the SDK's clock.
    server.stop().await;
}
