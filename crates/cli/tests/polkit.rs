//! User verification by polkit through the product's own path: the
//! `countersign-cli` binary, run as a non-root test user, asks a real
//! polkitd, and its text agent (`pkttyagent`) prompts on a pseudo-terminal
//! the test types at; the approvals go to a real server.
//!
//! `countersign-test-polkit` (as root) starts a private system bus and
//! polkitd in a mount namespace with the shipped action (and, for one case,
//! a rule answering no), and runs the CLI as its test user with only the
//! environment given here: no `COUNTERSIGN_DANGER_FIXED_VERIFIER`, so the
//! test build's stand-in verifier never answers. The server runs in this
//! process on 127.0.0.1; the test user's CLI reaches it over loopback.
//!
//! Not root, or a program missing: the test prints `SKIPPED: …` (and fails
//! in CI or with `COUNTERSIGN_REQUIRE_POLKIT=1`).
#![cfg(target_os = "linux")]

use countersign_server::testing::{new_user, spawn_test_server, TestOptions, TestServer};
use countersign_test_polkit::{skip, Options, PtyChild, TestUser, World};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_countersign-cli");
/// The shipped action, as the packages install it.
const POLICY: &str = include_str!("../../../packaging/linux/org.countersign.approve.policy");
const ACTION: &str = "org.countersign.approve";
/// A rule answering "no" for the approval action, in the second world.
const RULE_NO: &str = r#"polkit.addRule(function (action, subject) {
    if (action.id == "org.countersign.approve") {
        return polkit.Result.NO;
    }
});
"#;
const PASSPHRASE: &str = "correct horse battery staple";
/// What the test user's CLI gets besides the harness's minimal
/// environment: no keychain (the session bus address points nowhere), so
/// the key goes to the encrypted file.
const ENV: &[(&str, &str)] = &[
    ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/countersign-test-bus"),
    ("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", PASSPHRASE),
    ("RUST_BACKTRACE", "1"),
];
const TYPES: &str = "urn:countersign:details:v1:stock_trade";
const PROMPT: Duration = Duration::from_secs(20);
/// A wrong password costs pam_unix's delay (about 2 seconds).
const EXIT: Duration = Duration::from_secs(30);
/// What the CLI prints when the stand-in verifier is on: never here.
const FIXED_WARNING: &str = "answers without asking anyone";
const TYPE_CODE: &str = "Type its binding message to approve it: ";
const REASON_LINE: &str = "Countersign asks you to verify it is you to sign: ";

fn options(rule_no: bool) -> Options {
    Options {
        actions: vec![(format!("{ACTION}.policy"), POLICY.to_owned())],
        rules: if rule_no { vec![("10-countersign-test-no.rules".to_owned(), RULE_NO.to_owned())] } else { vec![] },
    }
}

/// A private polkit; `None` when this machine cannot (after saying so).
fn world(rule_no: bool) -> Option<World> {
    match World::start(&options(rule_no)) {
        Ok(world) => Some(world),
        Err(why) => {
            skip(&why);
            None
        }
    }
}

/// The test user's approver: the CLI copied where the user can run it
/// (the build directory is usually root's only), and a data directory of
/// the user's. Both outlive a world, so the second world finds the account.
struct Approver {
    dir: tempfile::TempDir,
    bin: PathBuf,
    data: PathBuf,
}

impl Approver {
    fn new(user: &TestUser) -> Approver {
        let dir = tempfile::Builder::new().prefix("countersign-polkit-cli-").tempdir_in("/tmp").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("countersign-cli");
        std::fs::copy(BIN, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(user.uid), Some(user.gid)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        Approver { dir, bin, data }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--data-dir", self.data.to_str().unwrap()];
        all.extend_from_slice(args);
        all
    }

    /// `countersign-cli args` as the test user on a pseudo-terminal.
    fn in_terminal(&self, world: &World, args: &[&str]) -> PtyChild {
        world.spawn_as_user(&self.bin, &self.args(args), ENV)
    }

    /// `countersign-cli args` as the test user without a terminal.
    fn run(&self, world: &World, args: &[&str]) -> Output {
        world.output_as_user(&self.bin, &self.args(args), ENV, EXIT).unwrap()
    }

    /// `--json args` as the test user, which must succeed.
    fn json(&self, world: &World, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(world, &all);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)))
    }

    fn history(&self, world: &World) -> Vec<Value> {
        self.json(world, &["history"]).as_array().unwrap().clone()
    }

    /// The pending requests' ids (after a sync with the server).
    fn pending(&self, world: &World) -> Vec<String> {
        let list = self.json(world, &["list"]);
        list.as_array().unwrap().iter().map(|i| i["request"]["id"].as_str().unwrap().to_owned()).collect()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The demo agent, as root (it is not the approver): only PATH from this
/// process's environment.
fn agent(args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .arg("--json")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "agent {args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A limit order: high risk, so the server's request `requires`
/// `user_verification`.
fn trade(symbol: &str) -> Value {
    json!([{ "type": "urn:countersign:details:v1:stock_trade", "action": "buy", "symbol": symbol,
             "quantity": "10", "order_type": "limit", "limit_price": { "currency": "EUR", "amount": "123.50" } }])
}

/// The agent asks zoe to approve a trade of `symbol` with binding message
/// `code`; the auth_req_id.
fn ask(me: &Approver, symbol: &str, code: &str) -> String {
    let details = me.path(&format!("details-{code}.json"));
    std::fs::write(&details, trade(symbol).to_string()).unwrap();
    let (agent_file, details) = (me.path("agent.json"), details.to_str().unwrap().to_owned());
    let args = ["agent", "request", "--agent", agent_file.to_str().unwrap(), "--user", "zoe", "--details", &details];
    let v = agent(&[&args[..], &["--binding-message", code, "--scope", "openid trade"]].concat());
    v["auth_req_id"].as_str().unwrap().to_owned()
}

/// The local ids of the pending requests with binding messages `codes`
/// (one sync with the server); each requires user verification.
fn request_ids(me: &Approver, world: &World, codes: &[&str]) -> Vec<String> {
    let list = me.json(world, &["list"]);
    let id = |code: &str| {
        let item = list.as_array().unwrap().iter().find(|i| i["request"]["binding_message"] == code);
        let item = item.unwrap_or_else(|| panic!("{code} is not pending: {list}"));
        assert!(item["request"]["requires"].as_array().unwrap().contains(&json!("user_verification")), "{item}");
        item["request"]["id"].as_str().unwrap().to_owned()
    };
    codes.iter().map(|code| id(code)).collect()
}

/// The payload of a compact JWS or JWT.
fn payload(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&countersign_protocol::jws::b64url_decode(part).unwrap()).unwrap()
}

/// Waits for the end: its status and the whole terminal.
fn finish(child: &mut PtyChild) -> (ExitStatus, String) {
    let status = child.wait(EXIT).unwrap();
    (status, child.output())
}

/// The CLI at polkit's password prompt runs as the test user, really:
/// polkit authorizes root without asking.
fn assert_not_root(child: &PtyChild, user: &TestUser) {
    let (real, effective) = child.uids().unwrap();
    assert_eq!((real, effective), (user.uid, user.uid), "the CLI at the prompt");
    assert_ne!(real, 0);
}

/// `approve <id> --yes` in a terminal, typing the binding code when asked;
/// returns at polkit's prompt, or (`expect_prompt` false) right after the
/// code.
fn approve_until_prompt(me: &Approver, world: &World, id: &str, code: &str, expect_prompt: bool) -> PtyChild {
    let mut child = me.in_terminal(world, &["approve", id, "--yes"]);
    child.expect(TYPE_CODE, PROMPT).unwrap();
    child.type_line(code).unwrap();
    if expect_prompt {
        child.expect("Password:", PROMPT).unwrap();
        assert_not_root(&child, world.user());
    }
    child
}

/// Nothing was signed for `id` (the agent's `auth_req_id`): no history
/// entry, still pending here (`list --offline`: the local inbox), and no
/// decision at the server (the agent's token is still pending).
fn assert_nothing_signed(me: &Approver, world: &World, id: &str, auth_req_id: &str, history_before: usize) {
    let history = me.history(world);
    assert_eq!(history.len(), history_before, "{history:?}");
    assert!(history.iter().all(|h| h["request_id"] != id), "{history:?}");
    let local = me.json(world, &["list", "--offline"]);
    assert!(local.as_array().unwrap().iter().any(|i| i["request"]["id"] == id), "{id} is not pending: {local}");
    let agent_path = me.path("agent.json");
    let out = Command::new(BIN)
        .args(["agent", "poll", "--agent", agent_path.to_str().unwrap(), "--auth-req-id", auth_req_id])
        .args(["--timeout", "0"])
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success() && text(&out).contains("no decision yet"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polkit_verifies_the_person_before_the_cli_signs() {
    let Some(world) = world(false) else { return };
    let user = world.user().clone();
    let me = Approver::new(&user);
    let server = server().await;

    // The runner never runs the CLI as root (polkit would authorize root
    // without asking): checked on `id`, on what the CLI writes, and on the
    // CLI itself at each password prompt (`assert_not_root`).
    let id = world.output_as_user(Path::new("/usr/bin/id"), &["-u"], &[], EXIT).unwrap();
    assert_eq!(String::from_utf8_lossy(&id.stdout).trim(), user.uid.to_string(), "{}", text(&id));
    assert_ne!(user.uid, 0);

    // `verify-user` in a terminal: our reason line, then pkttyagent's
    // prompt (polkit's fixed message: unprivileged callers cannot pass
    // details); the right password verifies.
    let mut child = me.in_terminal(&world, &["verify-user"]);
    child.expect("Password:", PROMPT).unwrap();
    assert_not_root(&child, &user);
    let shown = child.output();
    let reason = shown.find(REASON_LINE).unwrap_or_else(|| panic!("no reason line:\n{shown}"));
    assert!(reason < shown.find("Password:").unwrap(), "{shown}");
    assert!(shown.contains("Check that Countersign can verify you before approvals (nothing is approved)"), "{shown}");
    assert!(shown.contains(&format!("AUTHENTICATING FOR {ACTION}")), "{shown}");
    assert!(shown.contains("Authentication is required to sign the approval you chose in Countersign"), "{shown}");
    assert!(shown.contains(&format!("({})", user.name)), "{shown}");
    child.type_password(PROMPT).unwrap();
    let (status, output) = finish(&mut child);
    assert!(status.success(), "{status}\n{output}");
    assert!(output.contains("AUTHENTICATION COMPLETE"), "{output}");
    assert!(output.contains("Verified by polkit (amr: user)."), "{output}");
    assert!(!output.contains(FIXED_WARNING), "{output}");
    assert!(!output.contains("<password>"), "the password was echoed:\n{output}");

    // Without a terminal there is no text agent, and this session has no
    // other: not available, and nothing is asked.
    let out = me.run(&world, &["verify-user"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("not possible here (no polkit authentication agent"), "{said}");
    assert!(said.contains("text agent") && said.contains("another device"), "{said}");
    assert!(!said.contains("Password:") && !said.contains(FIXED_WARNING), "{said}");

    // Enrolled as zoe; the agent asks for two stock trades (high risk:
    // they require user verification).
    let invitation = server.invitation("zoe", 600).await;
    let out = me.run(&world, &["enroll", &invitation, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    for entry in std::fs::read_dir(&me.data).unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.metadata().unwrap().uid(), user.uid, "{} is the test user's", entry.path().display());
    }
    let agent_file = me.path("agent.json");
    agent(&[
        "agent",
        "register",
        "--issuer",
        &server.base_url,
        "--types",
        TYPES,
        "--out",
        agent_file.to_str().unwrap(),
    ]);
    let first = ask(&me, "ACME", "TRADE-1");
    let second = ask(&me, "INIT", "TRADE-2");
    let [trade_1, trade_2] = <[String; 2]>::try_from(request_ids(&me, &world, &["TRADE-1", "TRADE-2"])).unwrap();

    // Approved: the code typed, then the password at polkit's prompt; the
    // signed decision and the agent's token say the OS verified the user.
    let mut child = approve_until_prompt(&me, &world, &trade_1, "TRADE-1", true);
    let shown = child.output();
    let reason = shown.find(REASON_LINE).unwrap_or_else(|| panic!("no reason line:\n{shown}"));
    assert!(shown[reason..].starts_with(&format!("{REASON_LINE}Approve: buy 10 ACME")), "{shown}");
    assert!(shown[reason..].lines().next().unwrap().contains("(TRADE-1)"), "{shown}");
    assert!(shown.find(TYPE_CODE).unwrap() < reason && reason < shown.find("Password:").unwrap(), "{shown}");
    child.type_password(PROMPT).unwrap();
    let (status, output) = finish(&mut child);
    assert!(status.success(), "{status}\n{output}");
    assert!(output.contains("delivered"), "{output}");
    assert!(!output.contains(FIXED_WARNING) && !output.contains("<password>"), "{output}");
    let history = me.history(&world);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["request_id"], trade_1.as_str());
    assert_eq!(history[0]["decision"], "approve");
    assert_eq!(payload(history[0]["decision_jws"].as_str().unwrap())["amr"], json!(["user"]), "{history:?}");
    let agent_path = agent_file.to_str().unwrap();
    let token =
        agent(&["agent", "poll", "--agent", agent_path, "--auth-req-id", &first, "--timeout", "20", "--show-token"]);
    assert_eq!(token["outcome"], "approved", "{token}");
    let access = payload(token["token"]["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["user"]), "{access}");

    // Without a terminal `show` renders the next request and says what
    // approving it takes (polkit cannot tell from here whether an agent
    // would answer: only asking does, as `verify-user` did above);
    // approving it there is refused before anything is asked.
    let out = me.run(&world, &["show", &trade_2]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("TRADE-2") && shown.contains("buy 10 INIT (limit)"), "{shown}");
    assert!(shown.contains("Approving it needs its binding message typed (in a terminal)."), "{shown}");
    assert!(shown.contains("Approving it asks your operating system to verify that it is you (polkit)."), "{shown}");
    let out = me.run(&world, &["approve", &trade_2, "--yes"]);
    assert!(!out.status.success() && text(&out).contains("approve it in a terminal"), "{}", text(&out));
    assert_nothing_signed(&me, &world, &trade_2, &second, 1);

    // A wrong password: refused, nothing signed, still pending.
    let mut child = approve_until_prompt(&me, &world, &trade_2, "TRADE-2", true);
    child.type_hidden("not-the-password", PROMPT).unwrap();
    let (status, output) = finish(&mut child);
    assert!(!status.success(), "{output}");
    assert!(output.contains("AUTHENTICATION FAILED"), "{output}");
    assert!(output.contains("the operating system did not verify you"), "{output}");
    assert!(output.contains("nothing was signed"), "{output}");
    assert_nothing_signed(&me, &world, &trade_2, &second, 1);

    // Ctrl-C at the prompt: the CLI and the agent stop; nothing signed.
    let mut child = approve_until_prompt(&me, &world, &trade_2, "TRADE-2", true);
    child.interrupt().unwrap();
    let (status, output) = finish(&mut child);
    assert!(!status.success(), "{output}");
    assert!(!output.contains("delivered"), "{output}");
    assert_nothing_signed(&me, &world, &trade_2, &second, 1);

    // The agent stopped at the prompt (as when only it gets the signal):
    // cancelled, nothing signed.
    let mut child = approve_until_prompt(&me, &world, &trade_2, "TRADE-2", true);
    child.interrupt_descendants("pkttyagent").unwrap();
    let (status, output) = finish(&mut child);
    assert!(!status.success(), "{output}");
    assert!(output.contains("user verification was cancelled; nothing was signed"), "{output}");
    assert_nothing_signed(&me, &world, &trade_2, &second, 1);

    // A polkit rule answering no (a second world: one at a time): refused
    // without a password prompt, nothing signed.
    drop(world);
    let Some(world) = self::world(true) else { return };
    let mut child = approve_until_prompt(&me, &world, &trade_2, "TRADE-2", false);
    let (status, output) = finish(&mut child);
    assert!(!status.success(), "{output}");
    assert!(!output.contains("Password:") && !output.contains("AUTHENTICATING FOR"), "{output}");
    assert!(output.contains("the operating system did not verify you"), "{output}");
    assert!(output.contains("nothing was signed"), "{output}");
    assert_nothing_signed(&me, &world, &trade_2, &second, 1);
    assert!(me.pending(&world).contains(&trade_2), "after a sync with the server, {trade_2} is still pending");
}

async fn server() -> TestServer {
    let server = spawn_test_server(TestOptions::with_config(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
    }))
    .await
    .unwrap();
    assert!(server.base_url.starts_with("http://127.0.0.1:"), "{}", server.base_url);
    server.create_user(&new_user("zoe", "Zoë Martin")).await;
    server
}
