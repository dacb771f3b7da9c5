//! The `countersign-cli` binary end to end: a real server (in process, real
//! socket, temporary SQLite file), the CLI as child processes on its own data
//! directory. No keychain is reachable (the session bus address points
//! nowhere), so keys go to the encrypted key file: the fallback is tested.

use countersign_server::testing::{new_user, spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

use common::BIN;
use countersign_approver::verify::ENV_DANGER_FIXED_VERIFIER;

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
        server.create_user(&new_user("zoe", "Zoë Martin")).await;
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
            // Stands in for the OS prompt (tests/polkit.rs runs polkit's).
            .env(ENV_DANGER_FIXED_VERIFIER, "verified")
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
        self.server.invitation("zoe", 600).await
    }

    async fn agent_request(&self, details: &Value, binding: &str) -> String {
        let file = self.path(&format!("details-{binding}.json"));
        std::fs::write(&file, details.to_string()).unwrap();
        let agent = self.path("agent.json");
        let mut args = agent_request_args(&agent, &file, binding);
        args.extend(["--scope", "openid email"]); // scopes the server describes (an unknown one is a warning)
        let v = self.json(&args).await;
        v["auth_req_id"].as_str().unwrap().to_owned()
    }
}

/// `agent request`: the agent saved in `agent` asks zoe to approve the
/// details in the file `details`, with binding message `binding`.
fn agent_request_args<'a>(agent: &'a Path, details: &'a Path, binding: &'a str) -> Vec<&'a str> {
    vec![
        "agent",
        "request",
        "--agent",
        p(agent),
        "--user",
        "zoe",
        "--details",
        p(details),
        "--binding-message",
        binding,
    ]
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
    let request = agent_request_args(&agent, &details, "B-1");
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

/// `shown` without the note that explains the escapes (the one line that
/// writes a backslash on purpose).
fn data_lines(shown: &str) -> String {
    shown.lines().filter(|l| *l != countersign_cli::render::NOTE).collect::<Vec<_>>().join("\n")
}

/// What `show` prints, line by line: every line is free of raw control and
/// flagged characters, and (but for the note that explains the escapes) in
/// the escape grammar, so that unescaping it gives back the text exactly.
fn unescaped_lines(shown: &str) -> Vec<String> {
    assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "a raw control character: {shown:?}");
    shown
        .lines()
        .filter(|line| *line != countersign_cli::render::NOTE)
        .map(|line| {
            assert!(
                countersign_text::is_clean(line, countersign_text::Context::Line),
                "a raw flagged character in {line:?}"
            );
            countersign_text::unescape(line).unwrap_or_else(|e| panic!("{line:?} is not in the escape grammar: {e}"))
        })
        .collect()
}

/// Issue 19, items 1, 2, 5, 6, 7: a hostile corpus sent through a real
/// agent into a real server, shown by the real binary. Every line states
/// the text exactly (one escape, reversible: no doubled backslash where the
/// data has none), descriptions are shown, the short view flags every
/// request with warnings, and the note appears even when the only hidden
/// character is a CR or a TAB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_show_and_list_print_states_the_text_exactly() {
    let s = Setup::new().await;
    s.ok(&["enroll", &s.invitation().await, "--yes"]).await;
    let agent = s.path("agent.json");
    let types = format!("{TYPES},payment_initiation,urn:auth0:schemas:authorization-details:v1:transfer");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", &types, "--out", p(&agent)]).await;

    let bidi_subject = "Hello \u{202E}evil\u{202C} x";
    let body = "Total:\t10 EUR\r\nIBAN:\tDE02 p\u{0430}ypal";
    let email = json!([{ "type": "urn:countersign:details:v1:send_email", "to": ["bob@example.org"],
                         "subject": bidi_subject, "body_preview": body }]);
    let cr_only = json!([{ "type": "urn:countersign:details:v1:send_email", "to": ["bob@example.org"],
                           "subject": "cr\roverwrite" }]);
    let tab_only = json!([{ "type": "urn:countersign:details:v1:send_email", "to": ["bob@example.org"],
                            "subject": "tab\there" }]);
    let payment = json!([{ "type": "payment_initiation",
        "instructedAmount": { "currency": "EUR", "amount": "10.00" },
        "creditorName": "p\u{0430}ypal.com", "creditorAccount": { "iban": "DE02100100109307118603" },
        "\u{1b}[2K": "erased", "tab\there": "aligned" }]);
    let description = "\u{202E}serahs LPAA 01 yuB";
    let auth0 = json!([{ "type": "urn:auth0:schemas:authorization-details:v1:transfer",
        "instruction": "Transfer 10 EUR to p\u{0430}ypal.com",
        "properties": { "amount": { "display": true, "name": "Amount", "display_order": 1,
                                    "value": "10.00 EUR", "description": description } } }]);
    let clean = json!([{ "type": "urn:countersign:details:v1:send_email", "to": ["bob@example.org"],
                         "subject": "Minutes" }]);
    for (details, binding) in [
        (&email, "H-MAIL"),
        (&cr_only, "H-CR"),
        (&tab_only, "H-TAB"),
        (&payment, "H-PAY"),
        (&auth0, "H-AUTH0"),
        (&clean, "CLEAN"),
    ] {
        s.agent_request(details, binding).await;
    }
    let list = s.json(&["list"]).await;
    let id = |binding: &str| {
        list.as_array().unwrap().iter().find(|i| i["request"]["binding_message"] == binding).unwrap()["request"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Item 1: one escape; unescaping the printed lines gives the text back.
    let shown = s.ok(&["show", &id("H-MAIL")]).await;
    assert!(!data_lines(&shown).contains("\\\\"), "no doubled backslash: none is in the data: {shown}");
    let lines = unescaped_lines(&shown);
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has(&format!("Send “{bidi_subject}” to bob@example.org")),
        "the summary line states the subject: {lines:#?}"
    );
    assert!(has(&format!("Subject: \"{bidi_subject}\"")), "{lines:#?}");
    assert!(has(&format!("Message: \"{body}\"")), "{lines:#?}");
    // Item 7: the TAB in the multi-line body is counted and named.
    assert!(has("2 unusual space characters: U+0009 CHARACTER TABULATION at position 6"), "{lines:#?}");
    assert!(shown.contains("Total:\\t10 EUR\\r\\nIBAN:\\tDE02 p\\u{0430}ypal"), "{shown}");
    assert!(shown.contains(countersign_cli::render::NOTE), "{shown}");

    // Item 2: the note also when the only such character is a CR or a TAB.
    for (binding, subject) in [("H-CR", "cr\roverwrite"), ("H-TAB", "tab\there")] {
        let shown = s.ok(&["show", &id(binding)]).await;
        let lines = unescaped_lines(&shown);
        assert!(lines.iter().any(|l| l.contains(&format!("Send “{subject}” to"))), "{binding}: {lines:#?}");
        assert!(!data_lines(&shown).contains("\\\\"), "{binding}: {shown}");
        assert!(shown.contains(countersign_cli::render::NOTE), "{binding}: {shown}");
    }
    let shown = s.ok(&["show", &id("CLEAN")]).await;
    assert!(!shown.contains("Note:"), "nothing to explain: {shown}");

    // Field paths and undescribed members, in warnings and labels; the
    // lookalike letter in the summary, where it stands (item 6).
    let shown = s.ok(&["show", &id("H-PAY")]).await;
    assert!(!data_lines(&shown).contains("\\\\"), "{shown}");
    let lines = unescaped_lines(&shown);
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(has("Not described by the schema: /\u{1b}[2K"), "{lines:#?}");
    assert!(has("Not described by the schema: /tab\there"), "{lines:#?}");
    assert!(has("\u{1b}[2K: \"erased\""), "{lines:#?}");
    assert!(has("Pay 10.00 EUR to p\u{0430}ypal.com"), "{lines:#?}");
    assert!(
        shown.contains("Pay 10.00 EUR to p\\u{0430}ypal.com"),
        "the lookalike letter is escaped where it stands: {shown}"
    );
    assert!(shown.contains("Not described by the schema: /\\u{001B}[2K"), "{shown}");

    // Item 5: the Auth0 description is shown, revealed, and its instruction.
    let shown = s.ok(&["show", &id("H-AUTH0")]).await;
    let lines = unescaped_lines(&shown);
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(has(&format!("description: \"{description}\"")), "{lines:#?}");
    assert!(shown.contains("description: \"\\u{202E}serahs LPAA 01 yuB\""), "{shown}");
    // The description's findings mark the description, not the value beside it.
    assert!(shown.contains("Amount: \"10.00 EUR\""), "the value is clean and printed as sent: {shown}");
    assert!(has("Transfer 10 EUR to p\u{0430}ypal.com"), "{lines:#?}");
    assert!(!data_lines(&shown).contains("\\\\"), "{shown}");

    // Item 2: the short view marks every request with warnings: how many,
    // and the worst kind; a clean one has no mark.
    let human = s.ok(&["list"]).await;
    let line_of = |binding: &str| human.lines().find(|l| l.contains(&format!("\"{binding}\""))).unwrap().to_owned();
    assert!(line_of("H-MAIL").contains("warnings (DANGER: direction-changing characters)"), "{human}");
    assert!(line_of("H-PAY").contains("5 warnings (DANGER: lookalike letters)"), "{human}");
    assert!(line_of("H-AUTH0").contains("(DANGER: direction-changing characters)"), "{human}");
    assert!(line_of("H-TAB").contains("! 1 warning (DANGER: control characters)"), "{human}");
    assert!(!line_of("CLEAN").contains('!'), "{human}");
    assert!(!human.contains("Note:"), "the list lines quote no hidden character: {human}");
    let json = s.json(&["list"]).await;
    let mail = json.as_array().unwrap().iter().find(|i| i["request"]["binding_message"] == "H-MAIL").unwrap();
    assert_eq!(mail["worst_warning"]["code"], "bidi_control", "{mail}");
    assert!(mail["warning_count"].as_u64().unwrap() >= 3, "{mail}");
}

// ---------------------------------------------------------------------------
// Security keys (`keys add|list|remove`, approvals that require a key), with
// the software token of the `danger-soft-authenticator` feature standing in
// for a USB or NFC key (no hardware here).
// ---------------------------------------------------------------------------

use countersign_cli::ENV_DANGER_SOFT_AUTHENTICATOR;

impl Setup {
    /// A server whose issuer is `http://localhost:PORT` (WebAuthn needs a
    /// domain) and that requires a security key from `critical` on, as in
    /// production.
    async fn with_security_keys() -> Setup {
        let mut options = TestOptions::with_config(|c| {
            c.limits.user_per_minute = 0;
            c.limits.client_per_minute = 0;
            c.webauthn_at = Some(countersign_protocol::device::Risk::Critical);
        });
        options.localhost_issuer = true;
        let server = spawn_test_server(options).await.unwrap();
        server.create_user(&new_user("zoe", "Zoë Martin")).await;
        Setup { server, dir: tempfile::tempdir().unwrap() }
    }

    /// `args` with the software token in `token` (a file) as the key.
    async fn with_key(&self, token: &Path, args: &[&str]) -> Output {
        let mut c = self.cmd(args);
        c.env(ENV_DANGER_SOFT_AUTHENTICATOR, token);
        tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
    }

    /// `args` in a terminal (util-linux's `script` gives the CLI a
    /// pseudo-terminal), typing `input`; the software token in `token` as
    /// the key (`None`: the machine's USB and NFC keys). Standard output
    /// and error come together.
    async fn in_terminal(&self, token: Option<&Path>, args: &[&str], input: &str) -> (bool, String) {
        self.in_terminal_verified_by("verified", token, args, input).await
    }

    /// [`Setup::in_terminal`] with the OS prompt answering `verifier`
    /// (`verified`, `refused`, `cancelled`, `unavailable`).
    async fn in_terminal_verified_by(
        &self,
        verifier: &str,
        token: Option<&Path>,
        args: &[&str],
        input: &str,
    ) -> (bool, String) {
        let data = self.data();
        let mut all = vec!["--data-dir", p(&data)];
        all.extend_from_slice(args);
        let mut c = common::in_terminal(&all);
        c.env_remove(ENV_DANGER_SOFT_AUTHENTICATOR).env(ENV_DANGER_FIXED_VERIFIER, verifier);
        if let Some(token) = token {
            c.env(ENV_DANGER_SOFT_AUTHENTICATOR, token);
        }
        common::typing(c, input).await
    }
}

/// A payment (critical risk on the server: it requires a security key).
fn payment() -> Value {
    json!([{ "type": "payment_initiation", "instructedAmount": { "currency": "EUR", "amount": "1.00" },
             "creditorName": "Møller & Søn ApS", "creditorAccount": { "iban": "DK5000400440116243" } }])
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_add_list_remove_and_a_critical_approval_with_the_key() {
    let s = Setup::with_security_keys().await;
    s.ok(&["enroll", &s.invitation().await, "--yes"]).await;
    let agent = s.path("agent.json");
    let types = format!("{TYPES},payment_initiation");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", &types, "--out", p(&agent)]).await;
    let token = s.path("soft-token.cbor");
    let other_token = s.path("other-token.cbor");

    // No key yet.
    let list = s.json(&["keys", "list"]).await;
    assert_eq!(list["rp_id"], "localhost", "{list}");
    assert_eq!(list["credentials"], json!([]), "{list}");
    assert!(s.ok(&["keys", "list"]).await.contains("none. Add one with `countersign-cli keys add --name NAME`."));

    // A critical payment requires the key; with none registered the
    // approval is refused before the key is asked, and nothing is signed.
    let first = s.agent_request(&payment(), "PAY-1").await;
    let list = s.json(&["list"]).await;
    assert!(list[0]["request"]["requires"].as_array().unwrap().contains(&json!("webauthn")), "{list}");
    let pay_1 = list[0]["request"]["id"].as_str().unwrap().to_owned();
    let shown = s.ok(&["show", &pay_1]).await;
    assert!(shown.contains("Approving it needs your security key (see `countersign-cli keys`)."), "{shown}");
    assert!(!shown.contains("CANNOT BE APPROVED"), "{shown}");
    let (ok, output) = s.in_terminal(Some(&token), &["approve", &pay_1, "--yes"], "PAY-1\n").await;
    assert!(!ok, "{output}");
    assert!(output.contains("Type its binding message to approve it: "), "{output}");
    assert!(output.contains("none is registered for this account: add one, then approve"), "{output}");
    assert!(!output.contains("Touch your security key"), "the key was not asked: {output}");
    assert_eq!(s.json(&["history"]).await, json!([]));

    // A bad name is refused before anything else.
    let out = s.with_key(&token, &["keys", "add", "--name", "line\nbreak"]).await;
    assert!(!out.status.success() && stderr(&out).contains("security key name refused"), "{}", stderr(&out));

    // Added: the touch prompt names the key; listed, never used.
    let out = s.with_key(&token, &["--json", "keys", "add", "--name", "Test key"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Touch your security key to add it as \"Test key\""), "{}", stderr(&out));
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["name"], "Test key");
    let credential_id = added["credential_id"].as_str().unwrap().to_owned();
    let human = s.ok(&["keys", "list"]).await;
    assert!(human.contains(&format!("{credential_id}  \"Test key\"  added ")), "{human}");
    assert!(human.contains("never used"), "{human}");

    // Another key at hand: not registered for the account, refused.
    let (ok, output) = s.in_terminal(Some(&other_token), &["approve", &pay_1, "--yes"], "PAY-1\n").await;
    assert!(!ok, "{output}");
    assert!(output.contains("security key"), "{output}");
    assert_eq!(s.json(&["history"]).await, json!([]), "nothing signed");

    // The registered key approves: typed binding message, then the touch.
    let (ok, output) = s.in_terminal(Some(&token), &["approve", &pay_1, "--yes"], "PAY-1\n").await;
    assert!(ok, "{output}");
    assert!(output.contains("This request requires your security key."), "{output}");
    assert!(output.contains("Touch your security key to approve: PAY-1"), "{output}");
    assert!(output.contains("delivered"), "{output}");
    let result = s.json(&["agent", "poll", "--agent", p(&agent), "--auth-req-id", &first, "--timeout", "20"]).await;
    assert_eq!(result["outcome"], "approved", "{result}");
    assert_eq!(result["granted_authorization_details"], payment());
    let check = s.ok(&["verify", &pay_1]).await;
    assert!(check.to_lowercase().contains("valid"), "{check}");
    let list = s.json(&["keys", "list"]).await;
    assert!(list["credentials"][0]["last_used_at"].is_u64(), "{list}");
    assert!(s.ok(&["keys", "list"]).await.contains("last used "));

    // Removed; gone; removing it again is refused by the server.
    let removed = s.json(&["keys", "remove", &credential_id]).await;
    assert_eq!(removed["removed"], credential_id.as_str());
    assert_eq!(s.json(&["keys", "list"]).await["credentials"], json!([]));
    let out = s.run(&["keys", "remove", &credential_id]).await;
    assert!(!out.status.success(), "{}", stderr(&out));
    let out = s.run(&["keys", "remove", "../requests"]).await;
    assert!(!out.status.success() && stderr(&out).contains("not a credential id"), "{}", stderr(&out));
}

/// A request that requires a key: with no key at hand (no software token,
/// no USB or NFC key on this machine) the approval is refused with the
/// reason, non-zero, nothing signed; without a terminal too; a denial
/// needs no key. (This runs the real transports: opening USB and NFC and
/// waiting for a key; no hardware is here.)
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_requires_a_key_is_refused_with_no_key_at_hand() {
    let s = Setup::with_security_keys().await;
    s.ok(&["enroll", &s.invitation().await, "--yes"]).await;
    let agent = s.path("agent.json");
    let types = format!("{TYPES},payment_initiation");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", &types, "--out", p(&agent)]).await;
    s.agent_request(&payment(), "PAY-2").await;
    let id = s.json(&["list"]).await[0]["request"]["id"].as_str().unwrap().to_owned();
    let token = s.path("soft-token.cbor");
    let out = s.with_key(&token, &["keys", "add", "--name", "k"]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // The hardware path: no key plugged in within a second.
    let started = std::time::Instant::now();
    let (ok, output) = s.in_terminal(None, &["approve", &id, "--yes", "--key-wait", "1"], "PAY-2\n").await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("error: no security key was found: plug it in (or hold it to the reader) and try again")
            || output.contains("error: cannot open the security key transports"),
        "{output}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert_eq!(s.json(&["history"]).await, json!([]), "nothing signed");

    // Without a terminal: the typed code cannot be asked.
    let out = s.with_key(&token, &["approve", &id, "--yes"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("approve it in a terminal"), "{}", stderr(&out));
    assert_eq!(s.json(&["history"]).await, json!([]));
    let denied = s.json(&["deny", &id, "--reason", "not_me"]).await;
    assert_eq!(denied["delivery"]["outcome"], "delivered", "{denied}");
}

/// User verification from the CLI: the OS prompt's answer decides, a
/// refusal signs nothing, and where it is not available the request says
/// so and cannot be approved, but can be denied. (The fixed verifier stands
/// in for polkit here; tests/polkit.rs runs polkit.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_verification_decides_approvals_and_is_never_skipped() {
    let s = Setup::new().await;
    s.ok(&["enroll", &s.invitation().await, "--yes"]).await;
    let agent = s.path("agent.json");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", TYPES, "--out", p(&agent)]).await;
    s.agent_request(&trade(), "TRADE-7").await;
    let id = s.json(&["list"]).await[0]["request"]["id"].as_str().unwrap().to_owned();

    // `show` says the OS will ask.
    let shown = s.ok(&["show", &id]).await;
    assert!(shown.contains("Approving it asks your operating system to verify that it is you"), "{shown}");

    // Refused, cancelled: nothing signed.
    for (answer, said) in [("refused", "did not verify you"), ("cancelled", "was cancelled")] {
        let (ok, output) = s.in_terminal_verified_by(answer, None, &["approve", &id, "--yes"], "TRADE-7\n").await;
        assert!(!ok, "{output}");
        assert!(output.contains(said) && output.contains("nothing was signed"), "{output}");
        assert_eq!(s.json(&["history"]).await, json!([]), "nothing signed");
    }

    // Not available here: `show` says why and what would work; approving
    // is refused before anything is asked, even with the code typed.
    let mut c = s.cmd(&["show", &id]);
    c.env(ENV_DANGER_FIXED_VERIFIER, "unavailable");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let shown = String::from_utf8(out.stdout).unwrap();
    let line = shown.lines().find(|l| l.starts_with("CANNOT BE APPROVED")).expect(&shown);
    assert!(line.contains("another device") && line.contains("(it can be denied)"), "{line}");
    let (ok, output) = s.in_terminal_verified_by("unavailable", None, &["approve", &id, "--yes"], "TRADE-7\n").await;
    assert!(!ok && output.contains("not possible here"), "{output}");
    let mut c = s.cmd(&["verify-user"]);
    c.env(ENV_DANGER_FIXED_VERIFIER, "unavailable");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("user verification (fixed (tests only)) is not available here"), "{}", stderr(&out));

    // `verify-user` checks the setup; then the approval goes through and
    // the signed decision states how the user was verified.
    let checked = s.json(&["verify-user"]).await;
    assert_eq!(checked, json!({"verified": true, "method": "fixed (tests only)", "amr": ["user"]}));
    let (ok, output) = s.in_terminal(None, &["approve", &id, "--yes"], "TRADE-7\n").await;
    assert!(ok, "{output}");
    let history = s.json(&["history"]).await;
    let jws = history[0]["decision_jws"].as_str().unwrap();
    let payload = countersign_protocol::jws::b64url_decode(jws.split('.').nth(1).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["amr"], json!(["user"]));
}

// `admin`: an administrator's account reviews pending requests and grants,
// cancels, revokes and blocks; a user who is not one is refused; the role
// given on the server shows at the next sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_review_cancel_revoke_and_block() {
    let s = Setup::new().await;
    s.json(&["enroll", &s.invitation().await, "--yes"]).await;
    let agent = s.path("agent.json");
    s.ok(&["agent", "register", "--issuer", &s.server.base_url, "--types", TYPES, "--out", p(&agent)]).await;
    // Not an administrator yet: refused by the server, said plainly.
    let out = s.run(&["admin", "pending"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("forbidden") && stderr(&out).contains("admin role"), "{}", stderr(&out));
    assert_eq!(s.json(&["accounts"]).await[0]["user"]["roles"], json!(["user"]));
    let now = s.server.state.now();
    let by = countersign_server::ops::Actor::Operator;
    countersign_server::ops::set_admin(&s.server.state.db, "zoe", true, &by, now).await.unwrap();
    s.ok(&["sync"]).await;
    assert_eq!(s.json(&["accounts"]).await[0]["user"]["roles"], json!(["admin", "user"]), "refreshed at sync");

    let first = s.agent_request(&email(), "ADM-1").await;
    let pending = s.json(&["admin", "pending"]).await;
    let item = &pending["items"][0];
    assert_eq!(item["binding_message"], "ADM-1");
    let request_id = item["id"].as_str().unwrap().to_owned();
    // The human listing (what it escapes is tested in the CLI's unit
    // tests: the server refuses such text before it could reach it here).
    let human = s.ok(&["admin", "pending"]).await;
    assert!(human.contains(&request_id) && human.contains("UNVERIFIED") && human.contains("\"ADM-1\""), "{human}");
    // Cancel: asks first; without --yes and no answer, nothing changes.
    let out = s.run(&["admin", "cancel", &request_id]).await;
    assert!(!out.status.success() && stderr(&out).contains("nothing was changed"), "{}", stderr(&out));
    assert_eq!(s.json(&["admin", "cancel", &request_id, "--yes"]).await, json!({"changed": true}));
    let out = s.run(&["--json", "agent", "poll", "--agent", p(&agent), "--auth-req-id", &first]).await;
    let refused: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(refused["error"]["error_description"], "an administrator cancelled the request", "{refused}");

    // A grant, revoked.
    let second = s.agent_request(&email(), "ADM-2").await;
    let listed = s.json(&["list"]).await;
    let id = listed[0]["request"]["id"].as_str().unwrap().to_owned();
    s.json(&["approve", &id, "--yes"]).await;
    s.json(&["agent", "poll", "--agent", p(&agent), "--auth-req-id", &second, "--timeout", "20"]).await;
    let grants = s.json(&["admin", "grants", "--status", "active"]).await;
    let grant = grants["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.json(&["admin", "revoke", &grant, "--yes"]).await, json!({"changed": true}));
    assert_eq!(s.json(&["admin", "grants", "--status", "active"]).await["items"], json!([]));
    assert!(s.ok(&["admin", "revoke", &grant, "--yes"]).await.contains("already revoked"));

    // Block for zoe: the agent is refused for her; unblock.
    let client_id: Value = serde_json::from_str(&std::fs::read_to_string(&agent).unwrap()).unwrap();
    let client_id = client_id["client_id"].as_str().unwrap().to_owned();
    let sub = s.json(&["accounts"]).await[0]["user"]["sub"].as_str().unwrap().to_owned();
    s.json(&["admin", "block", &client_id, "--sub", &sub, "--yes"]).await;
    let clients = s.json(&["admin", "clients"]).await;
    assert_eq!(clients["items"][0]["blocked_for"], json!([sub]));
    let details = s.path("details-b.json");
    std::fs::write(&details, email().to_string()).unwrap();
    let refused = s.run(&agent_request_args(&agent, &details, "ADM-3")).await;
    assert!(!refused.status.success() && stderr(&refused).contains("access_denied"), "{}", stderr(&refused));
    assert_eq!(s.json(&["admin", "unblock", &client_id, "--sub", &sub]).await, json!({"changed": true}));
    s.ok(&agent_request_args(&agent, &details, "ADM-4")).await;

    // The log, filtered; users; devices; bad input.
    let log = s.json(&["admin", "audit", "--action", "request.cancelled"]).await;
    assert_eq!(log["items"][0]["target"], request_id.as_str());
    assert!(log["items"][0]["actor"].as_str().unwrap().starts_with("device:"));
    let page = s.json(&["admin", "audit", "--limit", "2"]).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let next = s.json(&["admin", "audit", "--limit", "2", "--cursor", &cursor]).await;
    assert!(next["items"][0]["seq"].as_u64().unwrap() < page["items"][1]["seq"].as_u64().unwrap());
    assert_eq!(s.json(&["admin", "users"]).await["items"][0]["username"], "zoe");
    assert_eq!(s.json(&["admin", "devices", "--sub", &sub]).await["items"].as_array().unwrap().len(), 1);
    let out = s.run(&["admin", "pending", "--risk", "huge"]).await;
    assert!(!out.status.success() && stderr(&out).contains("risk must be one of"), "{}", stderr(&out));
    s.server.stop().await;
}
