//! Interop: an agent built on Auth0's AI SDKs (`@auth0/ai` from npm, pinned
//! in `tests/interop/package-lock.json`, `tests/interop/auth0-ai-ciba.mjs`;
//! `auth0-ai` from PyPI, pinned in `tests/interop/auth0-ai-python`) asks
//! Countersign, unchanged, over HTTPS with the development certificate: its
//! tool waits in interrupt mode until the user approves with the CLI
//! approver, then runs with the approved `authorization_details`; a denial
//! reaches it as the SDK's own AccessDeniedInterrupt. Needs Node.js with
//! `npm ci` in `tests/interop`, and the Python SDK's virtual environment,
//! hence `#[ignore]` (`cargo xtask test` installs both and runs them).

use countersign_protocol::ciba::Audience;
use countersign_server::testing::{http, new_user, spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};

mod common;

use common::BIN;

/// The API the test servers issue tokens for beside themselves.
const ORDERS_API: &str = "https://orders.example.org/";

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

/// Which of Auth0's AI SDKs runs the agent.
#[derive(Clone, Copy)]
enum Lang {
    /// `@auth0/ai` (tests/interop/auth0-ai-ciba.mjs).
    Node,
    /// `auth0-ai` (tests/interop/auth0-ai-python/auth0_ai_ciba.py).
    Python,
}

impl Lang {
    /// The SDK's own code for "the user has not decided yet".
    fn pending_code(self) -> &'static str {
        match self {
            Lang::Node => "ASYNC_AUTHORIZATION_AUTHORIZATION_PENDING",
            Lang::Python => "ASYNC_AUTHORIZATION_PENDING",
        }
    }
}

/// The SDK's run for one tool call; each line it printed.
struct Sdk {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    lang: Lang,
}

impl Sdk {
    fn spawn(server: &TestServer, client: &(String, String), sub: &str, binding: &str, expiry: u64) -> Sdk {
        Self::spawn_in(Lang::Node, server, client, sub, binding, expiry, &[])
    }

    /// As [`Sdk::spawn`], on the SDK of `lang`, with more of the script's
    /// settings (`MODE`, `SCOPES`, `AUDIENCE`, `AUTHORIZATION_DETAILS` = ""
    /// for none).
    fn spawn_in(
        lang: Lang,
        server: &TestServer,
        client: &(String, String),
        sub: &str,
        binding: &str,
        expiry: u64,
        env: &[(&str, &str)],
    ) -> Sdk {
        let dir = interop_dir();
        let ca = server.ca.as_ref().unwrap();
        let mut command = match lang {
            Lang::Node => {
                assert!(
                    dir.join("node_modules/@auth0/ai/package.json").is_file(),
                    "@auth0/ai is not installed: run `npm ci` in {}",
                    dir.display()
                );
                let mut c = tokio::process::Command::new("node");
                c.arg("auth0-ai-ciba.mjs").current_dir(&dir).env("NODE_EXTRA_CA_CERTS", ca);
                c
            }
            Lang::Python => {
                let dir = dir.join("auth0-ai-python");
                let python = dir.join(".venv/bin/python");
                assert!(python.is_file(), "auth0-ai is not installed: cargo xtask test makes {}", python.display());
                let mut c = tokio::process::Command::new(python);
                c.arg("auth0_ai_ciba.py").current_dir(&dir).env("REQUESTS_CA_BUNDLE", ca);
                c
            }
        };
        let domain = server.base_url.strip_prefix("https://").expect("an https issuer");
        let mut child = command
            .env("DOMAIN", domain)
            .env("CLIENT_ID", &client.0)
            .env("CLIENT_SECRET", &client.1)
            .env("USER_ID", sub)
            .env("BINDING_MESSAGE", binding)
            .env("AUTHORIZATION_DETAILS", details().to_string())
            .env("REQUESTED_EXPIRY", expiry.to_string())
            .env("WAIT_SECS", "60")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the SDK's script runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Sdk { child, lines, lang }
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
                assert_eq!(line["code"], self.lang.pending_code(), "{line}");
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
    let list = cli(server, data, &["list"]).await;
    panic!("{binding} never reached the approver: {list}");
}

/// A server over HTTPS with its development certificate (limits off, polls
/// every second), Zoë with the CLI approver enrolled in `data`, and the
/// agent's client, registered as an Auth0 application is: a secret sent in
/// the body (the SDK's client authentication), poll mode.
struct Setup {
    server: TestServer,
    /// Holds `data`: bind it (`_dir`, not `..`) or the directory goes at once.
    _dir: tempfile::TempDir,
    data: PathBuf,
    sub: String,
    client: (String, String),
}

async fn setup() -> Setup {
    setup_for("Support agent (@auth0/ai)", "urn:countersign:details:v1:send_email").await
}

/// [`setup`] with the agent's client named `name`, registered for the
/// details type `details_type`.
async fn setup_for(name: &str, details_type: &str) -> Setup {
    setup_scoped(name, details_type, "openid").await
}

/// [`setup_for`] with the client registered for `scope`.
async fn setup_scoped(name: &str, details_type: &str, scope: &str) -> Setup {
    let server = spawn_test_server(TestOptions {
        tls: true,
        ..TestOptions::with_config(|c| {
            c.limits.user_per_minute = 0;
            c.limits.client_per_minute = 0;
            c.poll_interval_secs = 1;
            c.apis = vec![Audience::new(ORDERS_API).unwrap()];
            // Unlike the 300 s every SDK run asks for unless told otherwise.
            c.default_expiry_secs = 240;
        })
    })
    .await
    .unwrap();
    assert!(server.base_url.starts_with("https://localhost:"), "{}", server.base_url);
    let zoe = server.create_user(&new_user("zoe", "Zoë Martin")).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("approver");
    cli(&server, &data, &["enroll", &server.invitation("zoe", 600).await, "--yes"]).await;
    let registration = json!({
        "client_name": name,
        // A refresh token only for a client registered for them.
        "grant_types": if scope.split(' ').any(|s| s == "offline_access") {
            json!(["urn:openid:params:grant-type:ciba", "refresh_token"])
        } else {
            json!(["urn:openid:params:grant-type:ciba"])
        },
        "token_endpoint_auth_method": "client_secret_post",
        "backchannel_token_delivery_mode": "poll",
        "authorization_details_types": [details_type],
        "scope": scope,
    });
    // The test client trusts the TLS test servers' development CAs.
    let reg: Value =
        http().post(server.url("/register")).json(&registration).send().await.unwrap().json().await.unwrap();
    let client = (reg["client_id"].as_str().unwrap().to_owned(), reg["client_secret"].as_str().unwrap().to_owned());
    Setup { server, _dir: dir, data, sub: zoe.sub, client }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn an_agent_on_auth0_ai_waits_for_the_cli_approval_and_gets_the_approved_details() {
    let Setup { server, _dir, data, sub, client } = setup().await;
    let zoe_sub = sub.as_str();

    // Approved: the tool was interrupted while pending, then ran with
    // exactly the approved details.
    let mut sdk = Sdk::spawn(&server, &client, zoe_sub, "MAIL-ACME-1", 300);
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
    let mut sdk = Sdk::spawn(&server, &client, zoe_sub, "MAIL-ACME-2", 300);
    let id = pending_id(&server, &data, "MAIL-ACME-2").await;
    cli(&server, &data, &["deny", &id, "--reason", "wrong_details"]).await;
    let denied = sdk.outcome().await;
    assert_eq!((denied["outcome"].as_str(), denied["name"].as_str()), (Some("refused"), Some("AccessDeniedInterrupt")));

    server.stop().await;
}

// A scope-only request (no `authorizationDetails`, as a standard CIBA client
// sends): the approver shows the scopes, the user approves them, and the
// tool runs with a token for exactly those scopes, a refresh token for
// `offline_access`, and no authorization details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn a_scope_only_request_from_auth0_ai_is_approved_for_its_scopes() {
    let Setup { server, _dir, data, sub, client } = setup_scoped(
        "Calendar agent (@auth0/ai)",
        "urn:countersign:details:v1:send_email",
        "openid email offline_access",
    )
    .await;
    let env = [("AUTHORIZATION_DETAILS", ""), ("SCOPES", "openid email offline_access")];
    let mut sdk = Sdk::spawn_in(Lang::Node, &server, &client, &sub, "CAL-SYNC-1", 300, &env);
    let id = pending_id(&server, &data, "CAL-SYNC-1").await;
    let shown = cli(&server, &data, &["show", &id]).await;
    let request = &shown["item"]["request"];
    let details = &request["authorization_details"];
    assert!(details.is_null() || details == &json!([]), "no details were asked for: {shown}");
    let mut scope: Vec<&str> = match &request["scope"] {
        Value::String(s) => s.split(' ').collect(),
        v => v.as_array().expect("scope").iter().filter_map(Value::as_str).collect(),
    };
    scope.sort_unstable();
    assert_eq!(scope, ["email", "offline_access", "openid"], "{shown}");
    cli(&server, &data, &["approve", &id, "--yes"]).await;
    let ran = sdk.outcome().await;
    assert_eq!(ran["outcome"], "ran", "{ran}");
    let mut scopes: Vec<&str> = ran["scopes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["email", "offline_access", "openid"], "{ran}");
    assert_eq!(ran["authorization_details"], Value::Null, "{ran}");
    assert_eq!((ran["has_access_token"].as_bool(), ran["has_refresh_token"].as_bool()), (Some(true), Some(true)));
    server.stop().await;
}

// The same with Auth0's AI SDK for Python (`auth0-ai` from PyPI, on
// auth0-python, which sends the `iss_sub` login hint and form bodies): the
// tool runs after the CLI approves, with a token for the API it named that
// carries exactly the approved details, and a denial is the SDK's
// AccessDeniedInterrupt. Without an `audience` the SDK sends the text
// `audience=None` (auth0-python 4.13 form-encodes Python's None), which the
// server refuses as the unknown API it is (`invalid_target`, RFC 8707 §2)
// rather than guess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Python and tests/interop/auth0-ai-python/.venv (cargo xtask test)"]
async fn an_agent_on_the_python_sdk_waits_for_the_cli_approval_and_gets_the_approved_details() {
    let Setup { server, _dir, data, sub, client } = setup().await;
    let api = [("AUDIENCE", ORDERS_API)];

    let mut sdk = Sdk::spawn_in(Lang::Python, &server, &client, &sub, "MAIL-PY-1", 300, &api);
    let first = sdk.next().await;
    let first_was = (first["outcome"].as_str(), first["code"].as_str());
    assert_eq!(first_was, (Some("interrupt"), Some("ASYNC_AUTHORIZATION_PENDING")), "{first}");
    let id = pending_id(&server, &data, "MAIL-PY-1").await;
    let shown = cli(&server, &data, &["show", &id]).await;
    assert_eq!(shown["item"]["request"]["authorization_details"], details(), "{shown}");
    cli(&server, &data, &["approve", &id, "--yes"]).await;
    let ran = sdk.outcome().await;
    assert_eq!(ran["outcome"], "ran", "{ran}");
    assert_eq!(ran["authorization_details"], details(), "{ran}");
    assert_eq!(ran["aud"], ORDERS_API, "{ran}");
    assert_eq!(ran["ran"], json!({ "to": "customer@example.org", "order": "ACME-10" }));
    assert_eq!((ran["has_access_token"].as_bool(), ran["has_refresh_token"].as_bool()), (Some(true), Some(false)));

    let mut sdk = Sdk::spawn_in(Lang::Python, &server, &client, &sub, "MAIL-PY-2", 300, &api);
    let id = pending_id(&server, &data, "MAIL-PY-2").await;
    cli(&server, &data, &["deny", &id, "--reason", "wrong_details"]).await;
    let denied = sdk.outcome().await;
    assert_eq!((denied["outcome"].as_str(), denied["name"].as_str()), (Some("refused"), Some("AccessDeniedInterrupt")));
    assert_eq!(denied["code"], "ASYNC_AUTHORIZATION_ACCESS_DENIED", "{denied}");

    let mut sdk = Sdk::spawn_in(Lang::Python, &server, &client, &sub, "MAIL-PY-3", 300, &[]);
    let refused = sdk.outcome().await;
    assert_eq!((refused["outcome"].as_str(), refused["error"].as_str()), (Some("refused"), Some("invalid_target")));
    assert!(refused["message"].as_str().unwrap().contains("'None'"), "{refused}");
    // Without `requested_expiry` it sends none (auth0-python leaves that
    // one out when unset): the request is made, with the server's expiry.
    let mut sdk =
        Sdk::spawn_in(Lang::Python, &server, &client, &sub, "MAIL-PY-4", 300, &[api[0], ("REQUESTED_EXPIRY", "")]);
    let first = sdk.next().await;
    assert_eq!(first["code"], "ASYNC_AUTHORIZATION_PENDING", "{first}");
    let id = pending_id(&server, &data, "MAIL-PY-4").await;
    let shown = cli(&server, &data, &["show", &id]).await;
    let request = &shown["item"]["request"];
    let lasts = request["expires_at"].as_u64().unwrap() - request["created_at"].as_u64().unwrap();
    // (One second more when it was made between two whole seconds: the
    // server rounds a request's end up, never before what it announced.)
    assert!((240..=241).contains(&lasts), "the server's default expiry: {shown}");
    server.stop().await;
}

// Expiry, both ways the SDK meets it. The server's clock passes the
// request's expiry while the SDK still waits: the next poll is answered
// `expired_token`, which the SDK hands to the tool's caller as its own
// AuthApiError with that code (it maps no interrupt to it), and the tool
// does not run. A request nobody decides within `requested_expiry` ends in
// the SDK's AuthorizationRequestExpiredInterrupt when it polls (block mode,
// where it keeps polling on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn an_expired_request_reaches_the_agent_as_the_sdks_own_errors() {
    let Setup { server, _dir, data, sub, client } = setup().await;

    let mut sdk = Sdk::spawn(&server, &client, &sub, "MAIL-ACME-3", 300);
    let first = sdk.next().await;
    assert_eq!(first["code"], "ASYNC_AUTHORIZATION_AUTHORIZATION_PENDING", "{first}");
    pending_id(&server, &data, "MAIL-ACME-3").await;
    server.clock.advance(301);
    let expired = sdk.outcome().await;
    assert_eq!(expired["outcome"], "refused", "{expired}");
    assert_eq!(expired["error"], "expired_token", "{expired}");
    assert_eq!(expired["name"], "AuthApiError", "{expired}");

    // (Not looked for in the approver: it expires 2 s after it is made.)
    let mut sdk = Sdk::spawn_in(Lang::Node, &server, &client, &sub, "MAIL-ACME-4", 2, &[("MODE", "block")]);
    let expired = sdk.outcome().await;
    assert_eq!(expired["outcome"], "refused", "{expired}");
    assert_eq!(expired["name"], "AuthorizationRequestExpiredInterrupt", "{expired}");
    assert_eq!(expired["code"], "ASYNC_AUTHORIZATION_AUTHORIZATION_REQUEST_EXPIRED", "{expired}");
    server.stop().await;
}

/// `args` of the CLI approver in a terminal (util-linux's `script` gives it
/// a pseudo-terminal), typing `input`; the OS's user verification answers
/// "verified" (the approver's fixed test verifier, as tests/cli.rs uses).
async fn cli_in_terminal(server: &TestServer, data: &Path, args: &[&str], input: &str) -> String {
    let (data, ca) = (data.display().to_string(), server.ca.as_ref().expect("a TLS server").display().to_string());
    let mut all = vec!["--data-dir", &data, "--ca-file", &ca];
    all.extend_from_slice(args);
    let mut c = common::in_terminal(&all);
    c.env(countersign_approver::verify::ENV_DANGER_FIXED_VERIFIER, "verified");
    let (ok, text) = common::typing(c, input).await;
    assert!(ok, "{args:?}: {text}");
    text
}

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/buy-shares-langchain")
}

/// The example of docs/agents.md (`examples/buy-shares-langchain`: a
/// LangChain tool wrapped by `@auth0/ai-langchain`, from npm, unchanged),
/// run as the docs say: the user approves the trade it asks for in the CLI
/// approver (high risk: the binding message typed, the OS's verification),
/// and the tool runs with exactly that trade approved; a second run, denied,
/// does not buy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in examples/buy-shares-langchain (cargo xtask test)"]
async fn the_buy_shares_example_buys_only_what_the_user_approved() {
    let Setup { server, _dir, data, sub, client } =
        setup_for("Portfolio agent (LangChain)", "urn:countersign:details:v1:stock_trade").await;
    let dir = example_dir();
    assert!(
        dir.join("node_modules/@auth0/ai-langchain/package.json").is_file(),
        "the example's packages are not installed: run `npm ci` in {}",
        dir.display()
    );
    let run = |quantity: &str| {
        let domain = server.base_url.strip_prefix("https://").unwrap().to_owned();
        let mut c = tokio::process::Command::new("node");
        c.arg("agent.mjs")
            .current_dir(&dir)
            .env("NODE_EXTRA_CA_CERTS", server.ca.as_ref().unwrap())
            .env("COUNTERSIGN_DOMAIN", domain)
            .env("CLIENT_ID", &client.0)
            .env("CLIENT_SECRET", &client.1)
            .env("USER_SUB", &sub)
            .env("QUANTITY", quantity)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        c.spawn().expect("node runs")
    };
    let finish = |child: tokio::process::Child| async move {
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str::<Value>(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };

    let agent = run("10");
    let id = pending_id(&server, &data, "BUY-10-ACME").await;
    let shown = cli(&server, &data, &["show", &id]).await;
    let asked = &shown["item"]["request"]["authorization_details"];
    assert_eq!(asked[0]["symbol"], "ACME", "{shown}");
    assert_eq!(asked[0]["quantity"], "10", "{shown}");
    let said = cli_in_terminal(&server, &data, &["approve", &id, "--yes"], "BUY-10-ACME\n").await;
    assert!(said.contains("pproved"), "{said}");
    let bought = finish(agent).await;
    assert_eq!(bought["bought"], true, "{bought}");
    assert_eq!(&bought["approved"], asked, "the tool holds exactly what was approved: {bought}");

    let agent = run("500");
    let id = pending_id(&server, &data, "BUY-500-ACME").await;
    cli(&server, &data, &["deny", &id, "--reason", "wrong_details"]).await;
    let refused = finish(agent).await;
    assert_eq!(refused["bought"], false, "{refused}");
    assert_eq!(refused["reason"], "CIBA_ACCESS_DENIED", "{refused}");
    server.stop().await;
}
