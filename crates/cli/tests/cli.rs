//! The `countersign-cli` binary end to end: a real server (in process, real
//! socket, temporary SQLite file), the CLI as child processes on its own data
//! directory. No keychain is reachable (the session bus address points
//! nowhere), so keys go to the encrypted key file: the fallback is tested.

use countersign_server::testing::{spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_countersign-cli");

struct Setup {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let server = spawn_test_server(TestOptions::with_config(|c| {
            c.limits.user_per_minute = 0;
            c.limits.client_per_minute = 0;
        }))
        .await
        .unwrap();
        countersign_server::admin::add_user(
            &server.state.db,
            &countersign_server::admin::NewUser {
                username: "zoe".into(),
                name: "Zoë Martin".into(),
                email: None,
                admin: false,
            },
            server.state.now(),
        )
        .await
        .unwrap();
        Setup { server, dir: tempfile::tempdir().unwrap() }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/countersign-test-bus")
            .env("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", "correct horse battery staple")
            .env_remove("COUNTERSIGN_KEY_STORE")
            .env_remove("COUNTERSIGN_DATA_DIR")
            .stdin(Stdio::null());
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd(args);
        tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(out.status.success(), "{args:?}: {}\n{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stdout).unwrap()
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a).await;
        assert!(out.is_ascii(), "JSON output is ASCII: {out}");
        serde_json::from_str(&out).unwrap()
    }

    async fn invitation(&self) -> String {
        let s = &self.server;
        countersign_server::admin::enrollment_link(&s.state.db, &s.state.config.issuer, "zoe", 600, s.state.now())
            .await
            .unwrap()
            .to_app_uri()
    }

    async fn agent_request(&self, details: &Value, binding: &str) -> String {
        let file = self.path(&format!("details-{binding}.json"));
        std::fs::write(&file, details.to_string()).unwrap();
        let agent = self.path("agent.json");
        let v = self
            .json(&[
                "agent",
                "request",
                "--agent",
                p(&agent),
                "--user",
                "zoe",
                "--details",
                p(&file),
                "--binding-message",
                binding,
                "--scope",
                "openid trade",
            ])
            .await;
        v["auth_req_id"].as_str().unwrap().to_owned()
    }
}

/// The ticket of an app URI (to check it is never printed).
fn ticket_of(uri: &str) -> &str {
    &uri[uri.find("ticket=").unwrap() + "ticket=".len()..]
}

/// A PNG of a QR code holding `content`: 5 px modules, 4-module margin.
fn qr_png(content: &str) -> Vec<u8> {
    let code = qrcode::QrCode::new(content.as_bytes()).unwrap();
    let (modules, colors) = (code.width() as u32, code.to_colors());
    let side = (modules + 8) * 5;
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / 5).wrapping_sub(4), (y / 5).wrapping_sub(4));
        let dark = mx < modules && my < modules && colors[(my * modules + mx) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const TYPES: &str = "urn:countersign:details:v1:stock_trade,urn:countersign:details:v1:send_email";

/// A limit order (risk high: approving it needs user verification, which
/// needs a terminal).
fn trade() -> Value {
    json!([{ "type": "urn:countersign:details:v1:stock_trade", "action": "buy", "symbol": "ACME",
             "quantity": "10", "order_type": "limit", "limit_price": { "currency": "EUR", "amount": "123.50" } }])
}

/// An e-mail (risk medium) with hostile text in its subject.
fn email() -> Value {
    json!([{ "type": "urn:countersign:details:v1:send_email", "to": ["bob@example.org"],
             "subject": "for Zo\u{eb} \u{202e}txt.exe \u{1b}[31mred" }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_list_show_approve_deny_verify_with_the_binary() {
    let s = Setup::new().await;
    let uri = s.invitation().await;

    // Enrollment shows the server and the user from the preview, then
    // refuses without confirmation when there is no terminal.
    let out = s.run(&["enroll", &uri]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("Server: {}  (plain http", s.server.base_url)), "{err}");
    assert!(err.contains("User:   Zoë Martin <") && err.contains(">  roles: user"), "{err}");
    assert!(err.contains("Invitation expires in 9m") || err.contains("Invitation expires in 10m"), "{err}");
    assert!(err.contains("pass --yes to confirm enrolling with") && err.contains("as Zoë Martin"), "{err}");
    assert!(!err.contains(ticket_of(&uri)), "the ticket is never printed: {err}");
    assert!(out.stdout.is_empty());
    assert!(!s.data().join("keys").exists() || std::fs::read_dir(s.data().join("keys")).unwrap().count() == 0);

    // The preview did not spend the ticket. --json: stdout is the account,
    // the preview goes to standard error.
    let out = s.run(&["--json", "enroll", &uri, "--yes", "--device-name", "ci box"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: no OS keychain is reachable"), "{}", stderr(&out));
    assert!(stderr(&out).contains("User:   Zoë Martin <"), "{}", stderr(&out));
    let account: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(account["key_store"], "file");
    assert_eq!(account["user"]["name"], "Zoë Martin");
    let key_files: Vec<_> = std::fs::read_dir(s.data().join("keys")).unwrap().collect();
    assert_eq!(key_files.len(), 1, "one encrypted key file");

    let agent = s.path("agent.json");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", TYPES, "--out", p(&agent)]).await;
    let first = s.agent_request(&email(), "MAIL-1").await;
    let second = s.agent_request(&trade(), "TRADE-2").await;

    let list = s.json(&["list"]).await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let by_binding = |b: &str| items.iter().find(|i| i["request"]["binding_message"] == b).unwrap().clone();
    let mail_id = by_binding("MAIL-1")["request"]["id"].as_str().unwrap().to_owned();
    let trade_id = by_binding("TRADE-2")["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(by_binding("MAIL-1")["request"]["authorization_details"], email());

    // `show` prints the display model: warnings first, title, summary,
    // labelled fields; hostile text escaped, never raw.
    let shown = s.ok(&["show", &mail_id]).await;
    assert!(shown.contains("\\u{202E}txt.exe \\u{001B}[31mred"), "{shown}");
    assert!(!shown.contains('\u{202e}') && !shown.contains('\u{1b}'), "raw control characters reach the terminal");
    assert!(shown.contains("MAIL-1") && shown.contains("[1] Send email  (risk medium)"), "{shown}");
    assert!(shown.find("Warnings (").unwrap() < shown.find("Details:").unwrap(), "{shown}");
    assert!(shown.contains("DANGER (detail 1, /subject): 1 bidirectional control"), "{shown}");
    assert!(shown.contains("* To:") && shown.contains("#1: \"bob@example.org\""), "{shown}");
    let shown = s.ok(&["show", &trade_id]).await;
    assert!(shown.contains("[1] Stock trade  (risk high)") && shown.contains("buy 10 ACME (limit)"), "{shown}");
    assert!(shown.contains("Approving it needs its binding message typed"), "{shown}");
    assert!(shown.contains("Limit price: 123.50 EUR"), "{shown}");
    // --json: the view the desktop app gets.
    let view = s.json(&["show", &trade_id]).await;
    assert_eq!(view["display"]["details"][0]["title"], "Stock trade", "{view}");
    assert_eq!(view["approvable"], true);
    assert_eq!(view["confirmation_required"], true, "the core says to ask for the code");
    assert_eq!(s.json(&["show", &mail_id]).await["confirmation_required"], false, "medium risk");
    assert_eq!(view["item"]["request"]["authorization_details"], trade());

    // Approval needs --yes without a terminal.
    let out = s.run(&["approve", &mail_id]).await;
    assert!(!out.status.success() && stderr(&out).contains("--yes"));
    // A high-risk request needs user verification, which needs a terminal.
    let out = s.run(&["approve", &trade_id, "--yes"]).await;
    assert!(!out.status.success() && stderr(&out).contains("requires user verification"), "{}", stderr(&out));
    let approved = s.json(&["approve", &mail_id, "--yes"]).await;
    assert_eq!(approved["delivery"]["outcome"], "delivered", "{approved}");
    let token = s.json(&["agent", "poll", "--agent", p(&agent), "--auth-req-id", &first, "--timeout", "20"]).await;
    assert_eq!(token["outcome"], "approved", "{token}");
    assert_eq!(token["granted_authorization_details"], email());
    assert_eq!(token["token"]["access_token"], "(hidden: pass --show-token)");

    let denied = s.json(&["deny", &trade_id, "--reason", "not_me"]).await;
    assert_eq!(denied["delivery"]["outcome"], "delivered", "{denied}");
    let out = s.run(&["--json", "agent", "poll", "--agent", p(&agent), "--auth-req-id", &second]).await;
    assert_eq!(out.status.code(), Some(3));
    let refused: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(refused["error"]["error"], "access_denied", "{refused}");

    let verify = s.ok(&["verify", &mail_id]).await;
    assert!(verify.trim_end().ends_with("VALID") && !verify.contains("INVALID"), "{verify}");
    let history = s.json(&["history"]).await;
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert!(history.as_array().unwrap().iter().all(|h| h["delivery"] == "delivered"));
    assert_eq!(s.json(&["list"]).await, json!([]));

    // A wrong passphrase cannot sign.
    s.agent_request(&email(), "MAIL-3").await;
    let third = s.json(&["list"]).await[0]["request"]["id"].as_str().unwrap().to_owned();
    let mut c = s.cmd(&["approve", &third, "--yes"]);
    c.env("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", "wrong");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("passphrase does not open"), "{}", stderr(&out));

    let accounts = s.json(&["accounts"]).await;
    let id = accounts[0]["id"].as_str().unwrap().to_owned();
    s.ok(&["remove-account", &id, "--yes"]).await;
    assert_eq!(s.json(&["accounts"]).await, json!([]));
    assert_eq!(std::fs::read_dir(s.data().join("keys")).unwrap().count(), 0, "key file removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prompts_and_approves_a_pushed_request() {
    let s = Setup::new().await;
    s.ok(&["enroll", &s.invitation().await, "--yes"]).await;
    let agent = s.path("agent.json");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", TYPES, "--out", p(&agent)]).await;

    let mut watch = s.cmd(&["--json", "watch", "--prompt", "--for", "8"]);
    watch.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = watch.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"a\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let auth_req_id = s.agent_request(&email(), "MAIL-W").await;
    let token =
        s.json(&["agent", "poll", "--agent", p(&agent), "--auth-req-id", &auth_req_id, "--timeout", "20"]).await;
    assert_eq!(token["outcome"], "approved", "{token}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().any(|e| e["event"] == "connection" && e["state"]["state"] == "push"), "{stdout}");
    assert!(events.iter().any(|e| e["event"] == "new_request"), "{stdout}");
    assert!(events.iter().any(|e| e["history"]["decision"] == "approve"), "{stdout}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[a]pprove, [d]eny or [s]kip?") && err.contains("MAIL-W"), "{err}");
    assert!(err.contains("[1] Send email"), "the prompt shows the rendering: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_from_a_qr_code_image() {
    let s = Setup::new().await;
    let uri = s.invitation().await;
    let image = s.path("invitation.png");
    std::fs::write(&image, qr_png(&uri)).unwrap();

    // Exactly one of the link and --qr-image (usage errors, exit 2).
    let out = s.run(&["enroll", &uri, "--qr-image", p(&image), "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
    let out = s.run(&["enroll", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("required"), "{}", stderr(&out));

    // The image's invitation is previewed, then used.
    let out = s.run(&["--json", "enroll", "--qr-image", p(&image), "--yes"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("User:   Zoë Martin <") && err.contains(&format!("Server: {}", s.server.base_url)), "{err}");
    assert!(!err.contains(ticket_of(&uri)), "{err}");
    let account: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(account["issuer"], s.server.base_url.as_str());
    assert_eq!(account["user"]["name"], "Zoë Martin");
    assert_eq!(s.json(&["accounts"]).await.as_array().unwrap().len(), 1);

    // The same image again: its ticket is spent (the preview says so first).
    let out = s.run(&["enroll", "--qr-image", p(&image), "--yes"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the enrollment ticket was refused"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(ticket_of(&uri)), "{}", stderr(&out));

    // Images that hold no invitation, and files that are no image.
    let other = s.path("menu.png");
    std::fs::write(&other, qr_png("https://example.com/menu?table=12")).unwrap();
    let text_file = s.path("notes.txt");
    std::fs::write(&text_file, "countersign://enroll is not a picture").unwrap();
    let zeros = s.path("zeros.png");
    std::fs::write(&zeros, vec![0u8; 4096]).unwrap();
    let cases = [
        (p(&other).to_owned(), "none of them a Countersign enrollment link"),
        (p(&text_file).to_owned(), "not a PNG or JPEG image"),
        (p(&zeros).to_owned(), "not a PNG or JPEG image"),
        (p(&s.path("missing.png")).to_owned(), "cannot read"),
    ];
    for (file, expected) in cases {
        let out = s.run(&["--json", "enroll", "--qr-image", &file, "--yes"]).await;
        assert_eq!(out.status.code(), Some(1), "{file}");
        let err = stderr(&out);
        assert!(err.contains(expected) && err.contains(&file), "{file}: {err}");
        assert!(!err.contains("example.com"), "the QR content is not echoed: {err}");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(json["error"].as_str().unwrap().contains(expected), "{json}");
    }
    // An image over the size limit is refused without being decoded.
    let huge = s.path("huge.png");
    let mut bytes = qr_png(&uri);
    bytes.resize(10 * 1024 * 1024 + 1, 0);
    std::fs::write(&huge, bytes).unwrap();
    let out = s.run(&["enroll", "--qr-image", p(&huge), "--yes"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("too large"), "{}", stderr(&out));
    assert_eq!(s.json(&["accounts"]).await.as_array().unwrap().len(), 1, "nothing else was enrolled");
}

/// The user's block of unverified agents: shown per account, lifted from
/// the CLI; the server refuses unverified agents while it is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_block_of_unverified_agents_is_shown_and_lifted() {
    let s = Setup::new().await;
    let account = s.json(&["enroll", &s.invitation().await, "--yes"]).await;
    let account_id = account["id"].as_str().unwrap().to_owned();
    let agent = s.path("agent.json");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", TYPES, "--out", p(&agent)]).await;

    let state = s.json(&["unverified-block"]).await;
    assert_eq!(state, json!([{ "account_id": account_id, "blocked": false, "since": null }]));
    assert!(s.ok(&["unverified-block"]).await.contains("unverified agents are not blocked"));

    // Three requests of an unverified agent reported as "not me" start the block.
    for n in 0..3 {
        s.agent_request(&email(), &format!("SPAM-{n}")).await;
    }
    for item in s.json(&["list"]).await.as_array().unwrap() {
        let id = item["request"]["id"].as_str().unwrap();
        s.ok(&["deny", id, "--reason", "not_me"]).await;
    }
    let state = s.json(&["unverified-block", "--account", &account_id]).await;
    assert_eq!(state[0]["blocked"], true, "{state}");
    assert!(state[0]["since"].as_u64().unwrap() >= s.server.state.now() - 60, "{state}");
    let human = s.ok(&["unverified-block"]).await;
    assert!(human.contains("unverified agents are blocked since 20") && human.contains(" UTC ("), "{human}");
    assert!(human.contains(&format!("unverified-block --account {account_id} --lift")), "{human}");
    let details = s.path("details-blocked.json");
    std::fs::write(&details, email().to_string()).unwrap();
    let request = [
        "agent",
        "request",
        "--agent",
        p(&agent),
        "--user",
        "zoe",
        "--details",
        p(&details),
        "--binding-message",
        "B-1",
    ];
    let refused = s.run(&request).await;
    assert!(!refused.status.success(), "the server refuses unverified agents while blocked");
    assert!(stderr(&refused).contains("access_denied"), "{}", stderr(&refused));

    // Errors: an unknown account; nothing is lifted.
    let out = s.run(&["unverified-block", "--account", "acct_nope", "--lift"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("acct_nope"), "{}", stderr(&out));
    assert_eq!(s.json(&["unverified-block"]).await[0]["blocked"], true);

    // Lifted: the agent may ask again.
    let lifted = s.json(&["unverified-block", "--lift"]).await;
    assert_eq!(lifted, json!([{ "account_id": account_id, "blocked": false, "since": null }]));
    assert_eq!(s.json(&["unverified-block"]).await[0]["blocked"], false);
    s.ok(&request).await;
}
