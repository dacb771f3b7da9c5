//! The gateway between real peers: the official MCP TypeScript SDK's client
//! (`@modelcontextprotocol/sdk`, tests/interop/mcp-client.mjs) → the
//! `countersign-mcp` binary → a real upstream (`@modelcontextprotocol/server-filesystem`
//! on a temporary directory, or tests/interop/mcp-hostile-server.mjs), with
//! countersign-server over HTTPS and the CLI approver (`countersign-cli`,
//! built beside this binary by `cargo test --workspace`) deciding.
//!
//! Needs Node.js and `npm ci` in tests/interop, hence `#[ignore]`
//! (`cargo xtask test` installs both and runs them).

use countersign_server::testing::{new_user, spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

const GATEWAY: &str = env!("CARGO_BIN_EXE_countersign-mcp");

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// The CLI approver, built beside the gateway by `cargo test --workspace`.
fn cli_bin() -> PathBuf {
    let bin = Path::new(GATEWAY).with_file_name("countersign-cli");
    assert!(
        bin.is_file(),
        "{} is missing: build the workspace's binaries first (cargo xtask test does)",
        bin.display()
    );
    bin
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A server over HTTPS (limits off, polls every second), Zoë with the CLI
/// approver enrolled, and a directory the filesystem server serves.
struct Setup {
    server: TestServer,
    dir: tempfile::TempDir,
    approver: PathBuf,
    files: PathBuf,
}

impl Setup {
    async fn new() -> Setup {
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
        server.create_user(&new_user("zoe", "Zoë Martin")).await;
        let dir = tempfile::tempdir().unwrap();
        let approver = dir.path().join("approver");
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        std::fs::write(files.join("readme.txt"), "hello from the filesystem\n").unwrap();
        let s = Setup { server, dir, approver, files };
        let invitation = s.server.invitation("zoe", 600).await;
        s.cli(&["enroll", &invitation, "--yes"]).await;
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca(&self) -> &Path {
        self.server.ca.as_ref().unwrap()
    }

    /// The CLI approver's command with the tests' environment.
    fn cli_command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(cli_bin());
        c.arg("--data-dir").arg(&self.approver).arg("--ca-file").arg(self.ca()).args(args);
        c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/countersign-test-bus")
            .env("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", "correct horse battery staple")
            .env_remove("COUNTERSIGN_KEY_STORE")
            .env_remove("COUNTERSIGN_DATA_DIR")
            // The OS's user verification (a high-risk request asks for it)
            // answered "verified" without asking anyone (tests only).
            .env("COUNTERSIGN_DANGER_FIXED_VERIFIER", "verified");
        c
    }

    /// `countersign-cli --json ARGS`, which must succeed.
    async fn cli(&self, args: &[&str]) -> Value {
        let mut c = self.cli_command(&[&["--json"], args].concat());
        c.stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `countersign-cli ARGS` as a person reads it.
    async fn cli_text(&self, args: &[&str]) -> String {
        let mut c = self.cli_command(args);
        c.stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Approves `id` in a terminal (util-linux `script`), typing its binding
    /// message as a high-risk request wants.
    async fn approve_typed(&self, id: &str, binding: &str) {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let line = [p(&cli_bin()), "--data-dir", p(&self.approver), "--ca-file", p(self.ca()), "approve", id, "--yes"]
            .iter()
            .map(|a| quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &line, "/dev/null"])
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/countersign-test-bus")
            .env("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", "correct horse battery staple")
            .env_remove("COUNTERSIGN_KEY_STORE")
            .env_remove("COUNTERSIGN_DATA_DIR")
            .env("COUNTERSIGN_DANGER_FIXED_VERIFIER", "verified")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = format!("{binding}\n");
        let out = tokio::task::spawn_blocking(move || {
            let mut child = c.spawn().expect("util-linux `script` runs the CLI in a terminal");
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "approve {id}: {text}");
    }

    /// The pending requests in the approver's inbox.
    async fn pending(&self) -> Vec<Value> {
        self.cli(&["list"]).await.as_array().unwrap().clone()
    }

    /// The one pending request, once it is there: (id, binding message, the item).
    async fn one_pending(&self) -> (String, String, Value) {
        for _ in 0..150 {
            let list = self.pending().await;
            if let [item] = list.as_slice() {
                let r = &item["request"];
                return (
                    r["id"].as_str().unwrap().to_owned(),
                    r["binding_message"].as_str().unwrap().to_owned(),
                    item.clone(),
                );
            }
            assert!(list.len() < 2, "more than one pending request: {list:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no request reached the approver");
    }

    /// A policy: reads and listings allowed, moves refused, writes asked
    /// about (high risk), requests expiring after `expiry` seconds.
    fn policy(&self, expiry: u64) -> PathBuf {
        let file = self.path(&format!("policy-{expiry}.toml"));
        std::fs::write(
            &file,
            format!(
                "[approval]\nissuer = \"{}\"\nlogin_hint = \"zoe\"\nserver = \"filesystem\"\n\
                 binding_message_prefix = \"MCP\"\nrequest_expiry_secs = {expiry}\n\
                 [defaults]\naction = \"ask\"\n\
                 [[tool]]\nname = \"read_*\"\naction = \"allow\"\n\
                 [[tool]]\nname = \"list_*\"\naction = \"allow\"\n\
                 [[tool]]\nname = \"move_file\"\naction = \"refuse\"\n\
                 [[tool]]\nname = \"write_file\"\naction = \"ask\"\nrisk = \"high\"\n",
                self.server.base_url
            ),
        )
        .unwrap();
        file
    }

    /// The gateway's arguments in front of `upstream` (a Node script).
    fn gateway_args(&self, policy: &Path, upstream: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--policy".into(),
            p(policy).into(),
            "--data-dir".into(),
            p(&self.path("gateway")).into(),
            "--ca-file".into(),
            p(self.ca()).into(),
            "--".into(),
            "node".into(),
        ];
        args.extend(upstream.iter().map(|s| (*s).to_owned()));
        args
    }

    /// The MCP client in front of the gateway in front of the filesystem server.
    async fn filesystem_client(&self, policy: &Path) -> McpClient {
        let fs = interop_dir().join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
        McpClient::spawn(self.gateway_args(policy, &[p(&fs), p(&self.files)])).await
    }
}

/// The SDK's client: commands in, events out.
struct McpClient {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    /// The gateway's process id.
    gateway_pid: u32,
    /// Progress events seen, by call id.
    progress: Vec<Value>,
}

impl McpClient {
    async fn spawn(gateway_args: Vec<String>) -> McpClient {
        Self::spawn_with(&[
            ("GATEWAY", GATEWAY.to_owned()),
            ("GATEWAY_ARGS", serde_json::to_string(&gateway_args).unwrap()),
        ])
        .await
    }

    /// The client of a gateway already serving streamable HTTP at `url`.
    async fn over_http(url: &str, token: &str) -> McpClient {
        Self::spawn_with(&[("GATEWAY_URL", url.to_owned()), ("GATEWAY_TOKEN", token.to_owned())]).await
    }

    async fn spawn_with(env: &[(&str, String)]) -> McpClient {
        Self::try_spawn_with(env).await.expect("the MCP client connected to the gateway")
    }

    /// The client, or `None` when it ended before it was ready (the gateway
    /// did not start).
    async fn try_spawn_with(env: &[(&str, String)]) -> Option<McpClient> {
        let dir = interop_dir();
        assert!(
            dir.join("node_modules/@modelcontextprotocol/sdk/package.json").is_file(),
            "@modelcontextprotocol/sdk is not installed: run `npm ci` in {}",
            dir.display()
        );
        let mut child = tokio::process::Command::new("node")
            .arg("mcp-client.mjs")
            .current_dir(&dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the MCP client");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut c = McpClient { child, stdin, lines, gateway_pid: 0, progress: Vec::new() };
        let line = tokio::time::timeout(Duration::from_secs(90), c.lines.next_line())
            .await
            .expect("the MCP client within 90 s")
            .unwrap()?;
        let ready: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(ready["op"], "ready", "{ready}");
        c.gateway_pid = ready["pid"].as_u64().map_or(0, |p| u32::try_from(p).unwrap());
        Some(c)
    }

    async fn send(&mut self, command: Value) {
        self.stdin.write_all(format!("{command}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(90), self.lines.next_line())
            .await
            .expect("a line from the MCP client within 90 s")
            .unwrap()
            .expect("the MCP client ended without a line");
        serde_json::from_str(&line).unwrap()
    }

    /// The next event that is not progress (progress is kept).
    async fn event(&mut self) -> Value {
        loop {
            let e = self.next().await;
            if e["op"] == "progress" {
                self.progress.push(e);
            } else {
                return e;
            }
        }
    }

    async fn tools(&mut self) -> Vec<Value> {
        self.send(json!({"op": "list_tools"})).await;
        let e = self.event().await;
        assert_eq!(e["op"], "tools", "{e}");
        e["tools"].as_array().unwrap().clone()
    }

    async fn call(&mut self, id: &str, tool: &str, arguments: Value) {
        self.send(json!({"op": "call", "id": id, "tool": tool, "arguments": arguments})).await;
    }

    /// The outcome of call `id` (a result or an error event).
    async fn outcome(&mut self, id: &str) -> Value {
        let e = self.event().await;
        assert_eq!(e["id"], id, "{e}");
        e
    }

    async fn close(mut self) {
        self.send(json!({"op": "close"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// The first object anywhere in `v` for which `pred` holds.
fn find<'a>(v: &'a Value, pred: &dyn Fn(&serde_json::Map<String, Value>) -> bool) -> Option<&'a Value> {
    match v {
        Value::Object(m) if pred(m) => Some(v),
        Value::Object(m) => m.values().find_map(|x| find(x, pred)),
        Value::Array(items) => items.iter().find_map(|x| find(x, pred)),
        _ => None,
    }
}

/// Every (path, code) of the warnings anywhere in `v`.
fn warnings(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(code)), Some(Value::String(path))) = (m.get("code"), m.get("path")) {
                out.push((path.clone(), code.clone()));
            }
            m.values().for_each(|x| warnings(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| warnings(x, out)),
        _ => {}
    }
}

fn text_of(result: &Value) -> String {
    result["content"].as_array().unwrap().iter().filter_map(|c| c["text"].as_str()).collect::<Vec<_>>().join("\n")
}

/// Whether the approver's request `item` holds `argument` with `value`.
fn argument<'a>(item: &'a Value, name: &str) -> &'a Value {
    let details = &item["request"]["authorization_details"][0];
    let args = details["arguments"].as_array().unwrap();
    &args.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("no argument {name}: {details}"))["value"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn a_read_runs_at_once_and_a_write_runs_exactly_as_approved() {
    let s = Setup::new().await;
    let mut client = s.filesystem_client(&s.policy(120)).await;

    // The list: the refused tool is gone, the asked one says so, an allowed
    // one is unchanged.
    let tools = client.tools().await;
    let tool = |name: &str| tools.iter().find(|t| t["name"] == name).cloned();
    assert!(tool("move_file").is_none(), "a refused tool is not offered");
    let write = tool("write_file").expect("write_file is offered");
    assert!(write["description"].as_str().unwrap().starts_with(countersign_mcp::gateway::ASKS_NOTE), "{write}");
    let read = tool("read_text_file").expect("read_text_file is offered");
    assert!(!read["description"].as_str().unwrap().contains("Countersign"), "{read}");
    assert_eq!(read["inputSchema"]["properties"]["path"]["type"], "string", "the schema passes unchanged");

    // An allowed read runs at once: no request reaches the approver.
    let readme = s.files.join("readme.txt");
    client.call("r1", "read_text_file", json!({"path": p(&readme)})).await;
    let r1 = client.outcome("r1").await;
    assert_eq!(r1["op"], "result", "{r1}");
    assert_eq!(text_of(&r1["result"]), "hello from the filesystem\n");
    assert!(s.pending().await.is_empty());

    // A refused tool does not run, and says why.
    client.call("m1", "move_file", json!({"source": p(&readme), "destination": p(&s.files.join("moved"))})).await;
    let m1 = client.outcome("m1").await;
    assert_eq!(m1["result"]["isError"], true, "{m1}");
    assert!(text_of(&m1["result"]).contains("policy refuses move_file"), "{m1}");
    assert!(readme.exists());

    // A write waits for the user, who sees every argument.
    let target = s.files.join("notes.txt");
    let content = "line one\nline two: ünïcödé\n\ttabbed\n".repeat(3);
    client.call("w1", "write_file", json!({"path": p(&target), "content": content})).await;
    let (id, binding, item) = s.one_pending().await;
    assert!(binding.starts_with("MCP-") && binding.len() == 8, "{binding}");
    let details = &item["request"]["authorization_details"][0];
    assert_eq!(details["type"], "urn:countersign:details:v1:mcp_tool_call");
    assert_eq!((details["server"].as_str(), details["tool"].as_str()), (Some("filesystem"), Some("write_file")));
    assert_eq!(argument(&item, "path"), p(&target));
    assert_eq!(argument(&item, "content"), content.as_str());
    let shown = s.cli_text(&["show", &id]).await;
    for line in content.lines() {
        assert!(shown.contains(line.trim_start()), "the approver shows every line of the content: {shown}");
    }
    assert!(shown.contains(p(&target)), "{shown}");
    assert!(!target.exists(), "nothing runs before the approval");

    s.approve_typed(&id, &binding).await;
    let w1 = client.outcome("w1").await;
    assert_eq!(w1["op"], "result", "{w1}");
    assert_ne!(w1["result"]["isError"], true, "{w1}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), content, "exactly the approved content");
    let progress: Vec<&Value> = client.progress.iter().filter(|e| e["id"] == "w1").collect();
    assert!(!progress.is_empty(), "progress while waiting");
    assert!(progress[0]["message"].as_str().unwrap().contains(&binding), "{:?}", progress[0]);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn denied_expired_and_cancelled_calls_run_nothing() {
    let s = Setup::new().await;
    let mut client = s.filesystem_client(&s.policy(6)).await;

    // Denied.
    let denied = s.files.join("denied.txt");
    client.call("d1", "write_file", json!({"path": p(&denied), "content": "no"})).await;
    let (id, _, _) = s.one_pending().await;
    s.cli(&["deny", &id]).await;
    let d1 = client.outcome("d1").await;
    assert_eq!(d1["result"]["isError"], true, "{d1}");
    assert!(text_of(&d1["result"]).starts_with("The user denied this call: write_file was not run"), "{d1}");
    assert!(!denied.exists());

    // Expired: nobody answers within the policy's 6 s.
    let expired = s.files.join("expired.txt");
    client.call("e1", "write_file", json!({"path": p(&expired), "content": "late"})).await;
    let e1 = client.outcome("e1").await;
    assert_eq!(e1["result"]["isError"], true, "{e1}");
    assert!(text_of(&e1["result"]).starts_with("The user did not answer in time: write_file was not run"), "{e1}");
    assert!(!expired.exists());

    // Cancelled by the client while waiting: the gateway withdraws the
    // request at the server (RFC 7009 revocation of its auth_req_id), so
    // the approver stops showing it, and nothing runs.
    let cancelled = s.files.join("cancelled.txt");
    client.call("c1", "write_file", json!({"path": p(&cancelled), "content": "never"})).await;
    let (id, _, _) = s.one_pending().await;
    client.send(json!({"op": "cancel", "id": "c1"})).await;
    let c1 = client.outcome("c1").await;
    assert_eq!(c1["op"], "error", "the SDK reports its own abort: {c1}");
    let mut withdrawn = false;
    for _ in 0..50 {
        if s.pending().await.is_empty() {
            withdrawn = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(withdrawn, "request {id} still shown after the client cancelled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!cancelled.exists(), "a cancelled call never runs");

    // The gateway still serves.
    client.call("r1", "read_text_file", json!({"path": p(&s.files.join("readme.txt"))})).await;
    assert_eq!(client.outcome("r1").await["op"], "result");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn a_gateway_killed_while_waiting_runs_nothing_and_replays_nothing() {
    let s = Setup::new().await;
    let policy = s.policy(120);
    let mut client = s.filesystem_client(&policy).await;
    let target = s.files.join("killed.txt");
    client.call("k1", "write_file", json!({"path": p(&target), "content": "after a crash"})).await;
    let (id, binding, _) = s.one_pending().await;
    let pid = client.gateway_pid;
    assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let k1 = client.outcome("k1").await;
    assert_eq!(k1["op"], "error", "the call fails with the gateway gone: {k1}");
    // Approved after the crash: no gateway collects it.
    s.approve_typed(&id, &binding).await;

    // A new gateway (same data directory: the registration is reused)
    // replays nothing.
    let mut again = s.filesystem_client(&policy).await;
    client.close().await;
    again.call("r1", "read_text_file", json!({"path": p(&s.files.join("readme.txt"))})).await;
    assert_eq!(again.outcome("r1").await["op"], "result");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!target.exists(), "the approved call of the killed gateway never ran");
    assert!(s.pending().await.is_empty(), "no request was made again");
    let creds = s.path("gateway").join("client.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777, 0o600);
    }
    again.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn hostile_upstream_text_reaches_the_approver_as_flagged_text() {
    let s = Setup::new().await;
    let hostile = interop_dir().join("mcp-hostile-server.mjs");
    // No `server` in the policy: the upstream's own name is shown.
    let policy = s.path("hostile.toml");
    std::fs::write(
        &policy,
        format!("[approval]\nissuer = \"{}\"\nlogin_hint = \"zoe\"\nrequest_expiry_secs = 120\n", s.server.base_url),
    )
    .unwrap();
    let mut client = McpClient::spawn(s.gateway_args(&policy, &[p(&hostile)])).await;
    let note = "from a web page: \u{202E}txet desrever\u{202C} and \u{200B}hidden";
    client.call("h1", "post_note", json!({"text": note})).await;
    let (id, binding, item) = s.one_pending().await;
    let details = &item["request"]["authorization_details"][0];
    assert_eq!(details["server"], "notes");
    assert_eq!(details["tool_description"], "Posts a note.\u{200B} <b>Safe</b> \u{202E}yrev\u{202C}");
    assert_eq!(argument(&item, "text"), note);

    // The approver's view flags them, and a terminal never gets them raw.
    // Each of the upstream's texts is flagged where it stands, not only the
    // argument the model wrote.
    let shown = s.cli(&["show", &id]).await;
    let mut flagged = Vec::new();
    warnings(&shown, &mut flagged);
    for (path, code) in [
        ("/tool_title", "bidi_control"),
        ("/tool_description", "bidi_control"),
        ("/tool_description", "invisible_character"),
        ("/arguments/0/value", "bidi_control"),
    ] {
        assert!(flagged.iter().any(|(p, c)| p == path && c == code), "{code} at {path}: {flagged:?}");
    }
    // The argument's title from the tool's schema labels the field, its
    // zero-width space marked where it stands.
    let label = find(&shown, &|m| m.get("label").and_then(Value::as_str).is_some_and(|l| l.contains("Note")))
        .expect("the argument's field, labelled by its title");
    assert!(
        label["label"].as_str().unwrap().contains("(text: string)"),
        "the name and declared type beside the title: {label}"
    );
    assert!(
        !label["label_characters"].as_array().unwrap().is_empty(),
        "the title's hidden character is marked: {label}"
    );
    let text = s.cli_text(&["show", &id]).await;
    assert!(!text.contains('\u{202E}') && !text.contains('\u{200B}'), "escaped for the terminal: {text:?}");
    assert!(text.contains("<b>Safe</b>"), "markup is shown as text: {text}");

    s.approve_typed(&id, &binding).await;
    let h1 = client.outcome("h1").await;
    assert_eq!(text_of(&h1["result"]), format!("posted <script>alert(1)</script> {note}"), "{h1}");
    client.close().await;
}

/// The gateway serving streamable HTTP: its process and its URL.
async fn gateway_over_http(s: &Setup, token: &str) -> (tokio::process::Child, String) {
    let fs = interop_dir().join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    let mut args = s.gateway_args(&s.policy(120), &[p(&fs), p(&s.files)]);
    args.splice(1..1, ["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
    let mut child = tokio::process::Command::new(GATEWAY)
        .args(&args)
        .env(countersign_mcp::http::ENV_HTTP_TOKEN, token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await.unwrap().unwrap().unwrap();
        eprintln!("gateway: {line}");
        if let Some(url) = line.strip_prefix("countersign-mcp: serving MCP at ") {
            break url.to_owned();
        }
    };
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("gateway: {line}");
        }
    });
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn over_streamable_http_a_client_needs_the_token_and_a_write_runs_as_approved() {
    let s = Setup::new().await;
    let token = "tok-0123456789abcdef0123456789abcdef";
    let (_gateway, url) = gateway_over_http(&s, token).await;
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"), "{url}");

    // Without the token, with another, or from a browser page: refused.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}});
    let http = reqwest::Client::new();
    let post = |auth: Option<String>, origin: Option<&'static str>| {
        let mut r = http.post(&url).header("accept", "application/json, text/event-stream").json(&init);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(post(None, None).await.unwrap().status(), 401);
    assert_eq!(post(Some("Bearer tok-wrong-0123456789abcdef0123456789".into()), None).await.unwrap().status(), 401);
    let from_page = post(Some(format!("Bearer {token}")), Some("https://evil.example")).await.unwrap();
    assert_eq!(from_page.status(), 403, "a browser origin is refused");
    let rebound = http
        .post(&url)
        .header("host", "evil.example")
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403, "a foreign Host (DNS rebinding) is refused");
    let session = post(Some(format!("Bearer {token}")), None).await.unwrap();
    assert_eq!(session.status(), 200);

    // A raw client: a gated call carrying an `input_required` follow-up's
    // answers (which the user would never see) is refused, not forwarded.
    let session_id = session.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let raw = |body: Value| {
        http.post(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session_id)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
    };
    let initialized = raw(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await.unwrap();
    assert!(initialized.status().is_success(), "{}", initialized.status());
    let smuggled = s.files.join("smuggled.txt");
    let answer = raw(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "write_file", "arguments": {"path": p(&smuggled), "content": "x"},
        "inputResponses": {"confirm": {"action": "accept"}}, "requestState": "opaque"}}))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let message: Value = answer
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .find(|m: &Value| m["id"] == 2)
        .or_else(|| serde_json::from_str(&answer).ok())
        .unwrap_or_else(|| panic!("an answer to the call: {answer}"));
    assert_eq!(message["result"]["isError"], true, "{message}");
    assert!(text_of(&message["result"]).contains("input responses or request state"), "{message}");
    assert!(s.pending().await.is_empty(), "the user was not asked");
    assert!(!smuggled.exists());

    // The SDK's streamable-HTTP client with the token.
    let mut client = McpClient::over_http(&url, token).await;
    let tools = client.tools().await;
    assert!(tools.iter().any(|t| t["name"] == "write_file"), "{tools:?}");
    let target = s.files.join("over-http.txt");
    client.call("w1", "write_file", json!({"path": p(&target), "content": "sent over HTTP"})).await;
    let (id, binding, item) = s.one_pending().await;
    assert_eq!(argument(&item, "content"), "sent over HTTP");
    assert!(!target.exists());
    s.approve_typed(&id, &binding).await;
    let w1 = client.outcome("w1").await;
    assert_ne!(w1["result"]["isError"], true, "{w1}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "sent over HTTP");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn an_upstream_by_url_is_reached_with_its_token() {
    let s = Setup::new().await;
    let upstream_token = "upstream-secret-token";
    let mut upstream = tokio::process::Command::new("node")
        .arg(interop_dir().join("mcp-hostile-server.mjs"))
        .args(["--http", upstream_token])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(upstream.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), out.next_line()).await.unwrap().unwrap().unwrap();
    let url = serde_json::from_str::<Value>(&first).unwrap()["url"].as_str().unwrap().to_owned();

    let policy = s.path("by-url.toml");
    std::fs::write(
        &policy,
        format!("[approval]\nissuer = \"{}\"\nlogin_hint = \"zoe\"\nserver = \"notes\"\n", s.server.base_url),
    )
    .unwrap();
    let args = |with_url: &str| -> Vec<String> {
        [
            "serve",
            "--policy",
            p(&policy),
            "--data-dir",
            p(&s.path("gateway")),
            "--ca-file",
            p(s.ca()),
            "--upstream-url",
            with_url,
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect()
    };
    // Without the upstream's token the gateway cannot start: the client sees it end.
    let refused = McpClient::try_spawn_with(&[
        ("GATEWAY", GATEWAY.to_owned()),
        ("GATEWAY_ARGS", serde_json::to_string(&args(&url)).unwrap()),
    ])
    .await;
    assert!(refused.is_none(), "no upstream without its token");

    let env = json!({ countersign_mcp::cli::ENV_UPSTREAM_TOKEN: upstream_token }).to_string();
    let mut client = McpClient::spawn_with(&[
        ("GATEWAY", GATEWAY.to_owned()),
        ("GATEWAY_ARGS", serde_json::to_string(&args(&url)).unwrap()),
        ("GATEWAY_ENV", env),
    ])
    .await;
    let tools = client.tools().await;
    assert_eq!(tools.len(), 1, "{tools:?}");
    client.call("n1", "post_note", json!({"text": "over HTTP"})).await;
    let (id, binding, item) = s.one_pending().await;
    assert_eq!(argument(&item, "text"), "over HTTP");
    s.approve_typed(&id, &binding).await;
    let n1 = client.outcome("n1").await;
    assert_eq!(text_of(&n1["result"]), "posted <script>alert(1)</script> over HTTP", "{n1}");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and `npm ci` in tests/interop (cargo xtask test)"]
async fn init_writes_a_policy_from_the_upstreams_tools_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("policy.toml");
    let fs = interop_dir().join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    let init = |out: &Path| {
        std::process::Command::new(GATEWAY)
            .args(["init", "--out", p(out), "--issuer", "https://as.example.com", "--login-hint", "zoe"])
            .args(["--server", "filesystem", "--", "node", p(&fs), p(dir.path())])
            .output()
            .unwrap()
    };
    let first = init(&out);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let policy = countersign_mcp::policy::Policy::load(&out).unwrap();
    let none = serde_json::Map::new();
    use countersign_mcp::policy::Action;
    // server-filesystem marks its reads read-only, and its writes not.
    assert_eq!(policy.decide("read_text_file", &none).action, Action::Allow);
    assert_eq!(policy.decide("list_directory", &none).action, Action::Allow);
    assert_eq!(policy.decide("write_file", &none).action, Action::Ask);
    assert_eq!(policy.decide("move_file", &none).action, Action::Ask);
    assert_eq!(policy.decide("a_tool_added_later", &none).action, Action::Ask);

    let written = std::fs::read_to_string(&out).unwrap();
    let again = init(&out);
    assert_eq!(again.status.code(), Some(2), "an existing file is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists: not overwritten"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);
}

#[test]
fn a_bad_policy_stops_the_gateway_with_the_line_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[approval]\nissuer = \"https://as.example.com\"\nlogin_hint = \"zoe\"\n[defaults]\naction = \"maybe\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(GATEWAY)
        .args(["serve", "--policy", p(&policy), "--data-dir", p(&dir.path().join("d")), "--", "node"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:5: unknown action \"maybe\" (expected \"ask\", \"allow\" or \"refuse\")",
            policy.display()
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("d").exists(), "nothing registered, nothing written");

    // An upstream URL in the clear, or --client-id without its secret:
    // refused before anything is registered (the issuer is unreachable).
    std::fs::write(&policy, "[approval]\nissuer = \"https://as.example.com\"\nlogin_hint = \"zoe\"\n").unwrap();
    for (args, reason) in [
        (vec!["--upstream-url", "http://mcp.example.com/mcp"], "--upstream-url must be https"),
        (vec!["--client-id", "c1", "--", "node"], "--client-id needs its secret in COUNTERSIGN_MCP_CLIENT_SECRET"),
    ] {
        let out = std::process::Command::new(GATEWAY)
            .args(["serve", "--policy", p(&policy), "--data-dir", p(&dir.path().join("d"))])
            .args(&args)
            .env_remove(countersign_mcp::cli::ENV_CLIENT_SECRET)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert!(!dir.path().join("d").exists(), "nothing registered");
    }

    // --listen off loopback, or without a token: refused before anything starts.
    std::fs::write(&policy, "[approval]\nissuer = \"https://as.example.com\"\nlogin_hint = \"zoe\"\n").unwrap();
    for (listen, token, reason) in [
        ("0.0.0.0:8765", Some("0123456789abcdef0123456789abcdef"), "only a loopback address"),
        ("127.0.0.1:8765", None, "at least 32 visible ASCII characters"),
    ] {
        let mut c = std::process::Command::new(GATEWAY);
        c.args(["serve", "--listen", listen, "--policy", p(&policy), "--", "node"])
            .env_remove(countersign_mcp::http::ENV_HTTP_TOKEN);
        if let Some(t) = token {
            c.env(countersign_mcp::http::ENV_HTTP_TOKEN, t);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{listen}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(reason), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
