//! `cargo xtask demo --headless`: the whole flow without a display.
//!
//! Starts `countersign-server` on a temporary SQLite file, creates a demo
//! user, enrolls a CLI approver (its own data directory, keys in the
//! passphrase-encrypted file so the user's keychain is not touched), has the
//! demo agent send a stock trade, a money transfer and an e-mail request
//! (built-in display-schema types), then lists and shows them (rendered with
//! the schemas the server publishes), approves the e-mail and denies the
//! trade with `countersign-cli`, and shows the agent receiving its token. With a terminal it then keeps the
//! server running so you can try the commands yourself.

use crate::demo::enrollment_uri;
use crate::shell::{exec_command, step};
use std::io::{BufRead as _, IsTerminal as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSPHRASE: &str = "demo passphrase (not for real keys)";

/// The types the demo agent registers (built-in display schemas).
const TYPES: &str = "urn:countersign:details:v1:stock_trade,urn:countersign:details:v1:money_transfer,\
                     urn:countersign:details:v1:send_email";
const TRADE: &str = r#"[{"type":"urn:countersign:details:v1:stock_trade","action":"buy","symbol":"ACME","exchange":"XNAS","quantity":"10","order_type":"limit","limit_price":{"amount":"123.50","currency":"EUR"},"time_in_force":"day","account":"DE4711","valid_until":"2030-03-05T21:00:00Z"}]"#;
const TRANSFER: &str = r#"[{"type":"urn:countersign:details:v1:money_transfer","amount":{"amount":"1250.00","currency":"EUR"},"creditor_name":"Møller & Søn ApS","creditor_iban":"DK5000400440116243","reference":"Invoice 2024-117","execution_date":"2030-03-01"}]"#;
const EMAIL: &str = r#"[{"type":"urn:countersign:details:v1:send_email","to":["bob@example.org"],"subject":"Minutes of Tuesday's meeting","body_preview":"Hi Bob,\n\nthe minutes are attached.\n\nZoë","attachments":[{"filename":"minutes.pdf","media_type":"application/pdf","size_bytes":48213}]}]"#;

/// Stops the server when the demo ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes the demo directory at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bin(name: &str) -> PathBuf {
    crate::target_dir().join("debug").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Runs a command, echoing it and its output; returns the output.
fn capture(command: &mut Command) -> Result<String, String> {
    let shown = describe(command);
    println!("    $ {shown}");
    let out = command.output().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for line in stdout.lines().chain(stderr.lines()) {
        println!("      {line}");
    }
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("`{shown}` failed ({})", out.status))
    }
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        let a = arg.to_string_lossy();
        if a.contains(' ') || a.contains('&') || a.contains('?') {
            text.push_str(&format!(" '{a}'"));
        } else {
            text.push(' ');
            text.push_str(&a);
        }
    }
    text
}

fn wait_for_port(port: u16, server: &mut Server, log: &Path) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("countersign-server exited ({status}):\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("countersign-server did not listen on port {port} within 30 s"))
}

/// The value after `key: ` on a line of `text`.
fn field(text: &str, key: &str) -> Result<String, String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_owned()))
        .ok_or_else(|| format!("no {key:?} in the output"))
}

/// `https`: the server speaks TLS with its development certificate
/// (`--tls-self-signed`), and the CLI trusts its CA (`COUNTERSIGN_CA_FILE`).
pub fn run(https: bool) -> Result<(), String> {
    let root = crate::root();
    step("Build countersign-server and countersign-cli");
    exec_command(
        Command::new("cargo").args(["build", "-p", "countersign-server", "-p", "countersign-cli"]).current_dir(&root),
    )?;
    let (server_bin, cli_bin) = (bin("countersign-server"), bin("countersign-cli"));

    let work = TempDir(std::env::temp_dir().join(format!("countersign-demo-{}", std::process::id())));
    std::fs::create_dir_all(&work.0).map_err(|e| format!("{}: {e}", work.0.display()))?;
    let dir = work.0.clone();
    let db = dir.join("server.sqlite3");
    let approver_dir = dir.join("approver");
    let agent_file = dir.join("agent.json");
    let port = free_port()?;
    let issuer = if https { format!("https://localhost:{port}") } else { format!("http://127.0.0.1:{port}") };
    // Where `--tls-self-signed` keeps its CA: `tls/` beside the database.
    let ca_file = dir.join("tls").join("dev-ca.pem");
    let server_cmd = |args: &[&str]| {
        let mut c = Command::new(&server_bin);
        c.arg("--db").arg(&db).args(args);
        c
    };
    let cli = |args: &[&str]| {
        let mut c = Command::new(&cli_bin);
        c.args(args)
            .env("COUNTERSIGN_DATA_DIR", &approver_dir)
            .env("COUNTERSIGN_KEY_STORE", "file")
            .env("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null());
        if https {
            c.env("COUNTERSIGN_CA_FILE", &ca_file);
        }
        c
    };

    step("Create a demo user (a temporary SQLite database)");
    capture(&mut server_cmd(&["user", "add", "zoe", "--name", "Zoë Martin", "--email", "zoe@example.com"]))?;

    step(&format!("Start countersign-server at {issuer}"));
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let listen = format!("127.0.0.1:{port}");
    // The headless demo approves without anyone at hand to touch a
    // security key: critical requests are approved with the device key (the
    // server's default, `critical`, would require one; WebAuthn also needs a
    // domain, and the demo serves on an IP address).
    // The demo agent is an unverified client that sends three requests at
    // once: the default limit for unverified clients (2 a minute per user)
    // would refuse the third.
    let mut server_command = server_cmd(&[
        "serve",
        "--listen",
        &listen,
        "--issuer",
        &issuer,
        "--webauthn-at",
        "never",
        "--unverified-rate-limit",
        "0",
    ]);
    if https {
        server_command.arg("--tls-self-signed");
    }
    println!("    $ {} &   (log: {})", describe(&server_command), log_path.display());
    let child = server_command
        .stdout(log)
        .stderr(log_err)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start countersign-server: {e}"))?;
    let mut server = Server(child);
    wait_for_port(port, &mut server, &log_path)?;

    step("Create a one-time enrollment link for zoe");
    let links = capture(&mut server_cmd(&["enroll-link", "zoe", "--issuer", &issuer, "--no-qr"]))?;
    let uri = enrollment_uri(&links)?;

    step("Enroll the CLI approver (its own data directory; key in the encrypted file)");
    capture(&mut cli(&["enroll", &uri, "--yes", "--device-name", "demo CLI"]))?;
    capture(&mut cli(&["accounts"]))?;

    step("Register the demo agent (RFC 7591)");
    capture(&mut cli(&[
        "agent",
        "register",
        "--issuer",
        &issuer,
        "--name",
        "Portfolio Agent",
        "--types",
        TYPES,
        "--out",
        &agent_file.to_string_lossy(),
    ]))?;

    step("The agent asks zoe for a stock trade, a money transfer and an e-mail");
    let mut auth_req_ids = Vec::new();
    for (name, details, binding, scope) in [
        ("trade", TRADE, "TRADE-7Q2", "openid trade"),
        ("transfer", TRANSFER, "PAY-4F7Q", "openid payments"),
        ("email", EMAIL, "MAIL-22KD", "openid email"),
    ] {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, details).map_err(|e| e.to_string())?;
        let out = capture(&mut cli(&[
            "agent",
            "request",
            "--agent",
            &agent_file.to_string_lossy(),
            "--user",
            "zoe",
            "--details",
            &file.to_string_lossy(),
            "--binding-message",
            binding,
            "--scope",
            scope,
        ]))?;
        auth_req_ids.push(field(&out, "auth_req_id:")?);
    }

    step("The approver lists them");
    let list = capture(&mut cli(&["list"]))?;
    let ids: Vec<String> = list.lines().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect();
    let find = |binding: &str| -> Result<String, String> {
        list.lines()
            .find(|l| l.contains(binding))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .ok_or_else(|| format!("request {binding} not listed"))
    };
    if ids.len() != 3 {
        return Err(format!("expected 3 pending requests, got {}", ids.len()));
    }
    let (trade, transfer, email) = (find("TRADE-7Q2")?, find("PAY-4F7Q")?, find("MAIL-22KD")?);

    step("Show each request, rendered with the server's display schemas: exactly what will be signed");
    capture(&mut cli(&["show", &trade]))?;
    capture(&mut cli(&["show", &transfer]))?;
    capture(&mut cli(&["show", &email]))?;

    step("Approve the e-mail (signed with the device key) and deny the trade");
    println!("    (the trade is high risk and the transfer critical: approving them needs user verification,");
    println!("    which the CLI asks for in a terminal)");
    capture(&mut cli(&["approve", &email, "--yes"]))?;
    capture(&mut cli(&["deny", &trade, "--reason", "wrong_details"]))?;

    step("The agent receives its token for the e-mail, and a refusal for the trade");
    let agent_path = agent_file.to_string_lossy().into_owned();
    capture(&mut cli(&[
        "agent",
        "poll",
        "--agent",
        &agent_path,
        "--auth-req-id",
        &auth_req_ids[2],
        "--timeout",
        "30",
    ]))?;
    let _ = capture(&mut cli(&["agent", "poll", "--agent", &agent_path, "--auth-req-id", &auth_req_ids[0]]));

    step("History and an offline check of the signed receipt");
    capture(&mut cli(&["history"]))?;
    capture(&mut cli(&["verify", &email]))?;

    println!(
        "\nThe money transfer {transfer} is still pending. Try it yourself in another terminal:\n\n    \
         export COUNTERSIGN_DATA_DIR={dir} COUNTERSIGN_KEY_STORE=file COUNTERSIGN_INSECURE_KEY_PASSPHRASE='{PASSPHRASE}'\n    \
         {cli} list\n    {cli} show {transfer}\n    {cli} approve {transfer}\n    \
         {cli} watch --prompt     # live: requests pushed as they come\n\n    \
         # and more requests from the agent:\n    \
         {cli} agent request --agent {agent} --user zoe --details {work}/transfer.json --binding-message PAY-2 --wait\n",
        dir = approver_dir.display(),
        work = dir.display(),
        cli = cli_bin.display(),
        agent = agent_file.display(),
    );
    if std::io::stdin().is_terminal() {
        println!("The server runs at {issuer} until you press Enter (then everything is removed).");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    } else {
        println!("(no terminal: stopping the server and removing {})", dir.display());
    }
    drop(server);
    Ok(())
}
