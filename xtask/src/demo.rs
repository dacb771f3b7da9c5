//! `cargo xtask demo`: the whole product with one command.
//!
//! Starts `countersign-server` on a temporary SQLite file with a demo user,
//! enrolls the desktop app into a demo account (through `countersign-cli
//! enroll` on the app's own data directory, which the app then opens: same
//! store, same encrypted key file), registers a demo agent and has it send
//! requests from time to time while the app runs. Everything lives in a
//! temporary directory (keys in a passphrase-encrypted file, so no keychain
//! is touched) and is removed when the app quits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::prereq;
use crate::programs::Need;
use crate::shell::{exec, exec_command, step};

/// How long the window may take to appear under Xvfb (a cold WebKit start on
/// a loaded 2-core machine takes a few seconds).
const WINDOW_WAIT_SECONDS: u32 = 60;

const PASSPHRASE: &str = "demo passphrase (not for real keys)";
const USER: &str = "zoe";
/// Seconds between the agent's requests after the first batch.
const DEFAULT_EVERY: u64 = 45;

/// A purchase whose item hides a right-to-left override, and a customer-data
/// request with a field no schema describes: what warnings look like.
const SHADY_PURCHASE: &str = r#"[{"type":"urn:countersign:details:v1:purchase","merchant":{"name":"Example Outdoor Supply","url":"https://shop.example.com"},"items":[{"description":"Trail shoes \u202e34 ezis","quantity":1,"unit_price":{"amount":"129.90","currency":"EUR"}}],"total":{"amount":"129.90","currency":"EUR"}},{"type":"customer_information","locations":["https://shop.example.com/customers"],"actions":["read"],"datatypes":["contacts"],"newsletter_opt_in":true}]"#;

/// The demo agent's requests: (file in crates/details/testdata/valid or inline
/// details, binding code prefix, scope).
const REQUESTS: &[(&str, &str, &str)] = &[
    ("stock_trade-limit-buy.json", "TRADE", "openid trade"),
    ("send_email-with-attachment.json", "MAIL", "openid email"),
    ("inline:shady-purchase", "SHOP", "openid payments"),
    ("money_transfer-sepa.json", "PAY", "openid payments"),
    ("calendar_event-create.json", "CAL", "openid calendar"),
    ("database_query-delete.json", "SQL", "openid db"),
    ("code_deploy-production.json", "DEPLOY", "openid deploy"),
];

struct Options {
    screenshot: Option<PathBuf>,
    every: u64,
    https: bool,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut options = Options { screenshot: None, every: DEFAULT_EVERY, https: false };
    let headless = args.iter().any(|a| a == "--headless");
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--headless" => {}
            "--https" => options.https = true,
            "--screenshot" => {
                let path = args.next().ok_or("--screenshot needs a file path")?;
                options.screenshot = Some(absolute(Path::new(path)));
            }
            "--every" => {
                let secs = args.next().ok_or("--every needs a number of seconds")?;
                options.every = secs.parse().ok().filter(|s| *s > 0).ok_or("--every needs a positive number")?;
            }
            other => return Err(format!("demo: unknown option `{other}`")),
        }
    }
    if headless {
        if options.screenshot.is_some() {
            return Err("demo: --headless has no window to take a screenshot of".into());
        }
        return crate::demo_headless::run(options.https);
    }
    run_demo(&options)
}

fn run_demo(options: &Options) -> Result<(), String> {
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let under_xvfb = options.screenshot.is_some() || !has_display;
    let mut needs = vec![Need::Build];
    if under_xvfb {
        needs.push(Need::Headless);
    }
    if options.screenshot.is_some() {
        needs.push(Need::Screenshot);
    }
    prereq::install(&needs)?;
    prereq::ui_packages()?;
    prereq::build_ui()?;
    step("Build countersign-server and countersign-cli");
    exec(&crate::root(), "cargo", &["build", "-p", "countersign-server", "-p", "countersign-cli"])?;
    let app = build_app()?;

    if !under_xvfb {
        polkit_action();
    }

    let demo = DemoWorld::start(options.https)?;
    let agent = demo.agent_loop(options.every, options.screenshot.is_none());

    let result = if let Some(path) = &options.screenshot {
        demo.wait_for_requests(3)?;
        screenshot_under_xvfb(&app, &demo.env(), path)
    } else if under_xvfb {
        step("Run Countersign under Xvfb (no display found: the window is invisible; Ctrl-C to stop)");
        println!("    tip: `cargo xtask demo --screenshot shot.png` saves a picture of the window");
        let mut command = Command::new("dbus-run-session");
        command.arg("--").arg(&app).envs(demo.env());
        exec_command(xvfb(&mut command))
    } else {
        step("Run Countersign (quit from the tray menu to end the demo)");
        println!("    the demo agent sends a request every {} s; approve or deny them in the window", options.every);
        exec_command(Command::new(&app).envs(demo.env()))
    };
    agent.stop();
    result
}

/// Where polkit reads the actions of installed programs.
const POLKIT_ACTIONS: &str = "/usr/share/polkit-1/actions";
/// The action every approval that requires user verification checks.
const POLKIT_ACTION_FILE: &str = "org.countersign.approve.policy";

/// Installs Countersign's polkit action, as the .deb and .rpm packages do,
/// on a desktop that has polkit and lacks it: without it the window cannot
/// ask the system to verify the user, and high-risk requests cannot be
/// approved (it says why). Not fatal: the demo runs either way.
fn polkit_action() {
    let target = Path::new(POLKIT_ACTIONS).join(POLKIT_ACTION_FILE);
    if !Path::new(POLKIT_ACTIONS).is_dir() || target.exists() {
        return;
    }
    step("Install Countersign's polkit action (approvals of high-risk requests ask your password)");
    let source = crate::root().join("packaging/linux").join(POLKIT_ACTION_FILE);
    let (source, target) = (source.to_string_lossy().into_owned(), target.to_string_lossy().into_owned());
    let args = ["install", "-m", "644", source.as_str(), target.as_str()];
    let installed =
        if prereq::is_root() { exec(&crate::root(), args[0], &args[1..]) } else { exec(&crate::root(), "sudo", &args) };
    if let Err(e) = installed {
        println!("    not installed ({e}): the window will say why high-risk requests cannot be approved");
    }
}

/// Builds the desktop app and returns the path of its binary.
pub fn build_app() -> Result<PathBuf, String> {
    step("Build the desktop app");
    exec(&crate::root(), "cargo", &["build", "--package", "countersign-desktop", "--bin", "countersign"])?;
    Ok(bin("countersign"))
}

fn bin(name: &str) -> PathBuf {
    crate::target_dir().join("debug").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The server, the demo account and the agent, in a temporary directory.
struct DemoWorld {
    dir: PathBuf,
    server: Child,
    issuer: String,
    cli: PathBuf,
    /// The server's development CA, trusted by the app and the CLI, when
    /// the demo runs over HTTPS.
    ca_file: Option<PathBuf>,
}

impl Drop for DemoWorld {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl DemoWorld {
    fn start(https: bool) -> Result<DemoWorld, String> {
        let dir = std::env::temp_dir().join(format!("countersign-demo-app-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let db = dir.join("server.sqlite3");
        let port = free_port()?;
        let issuer = if https { format!("https://localhost:{port}") } else { format!("http://127.0.0.1:{port}") };
        // Where `--tls-self-signed` keeps its CA: `tls/` beside the database.
        let ca_file = https.then(|| dir.join("tls").join("dev-ca.pem"));
        let server_bin = bin("countersign-server");
        let server_cmd = |args: &[&str]| {
            let mut c = Command::new(&server_bin);
            c.arg("--db").arg(&db).args(args);
            c
        };

        step("Demo server: a demo user on a temporary database");
        capture(&mut server_cmd(&["user", "add", USER, "--name", "Zoë Martin", "--email", "zoe@example.com"]))?;
        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let listen = format!("127.0.0.1:{port}");
        println!("    countersign-server serve at {issuer} (log: {})", log_path.display());
        // Whoever tries the demo may have no security key at hand: its
        // critical requests are approved with the device key (the server's
        // default, `critical`, would require one; WebAuthn also needs a
        // domain, and the demo serves on an IP address).
        // The demo agent is an unverified client that sends three requests at
        // once: the default limit for unverified clients (2 a minute per user)
        // would refuse the third.
        let mut serve = server_cmd(&[
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
            serve.arg("--tls-self-signed");
        }
        let server = serve
            .stdout(log)
            .stderr(log_err)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start countersign-server: {e}"))?;
        let mut world = DemoWorld { dir, server, issuer, cli: bin("countersign-cli"), ca_file };
        world.wait_for_server(port, &log_path)?;

        step("Enroll the desktop app into the demo account (its own data directory)");
        let links = capture(&mut server_cmd(&["enroll-link", USER, "--issuer", &world.issuer, "--no-qr"]))?;
        let uri = enrollment_uri(&links)?;
        capture(&mut world.cli(&["enroll", &uri, "--yes", "--device-name", "Countersign desktop (demo)"]))?;

        step("Register the demo agent");
        let types = world.request_types()?;
        let agent_file = world.dir.join("agent.json").display().to_string();
        capture(&mut world.cli(&[
            "agent",
            "register",
            "--issuer",
            &world.issuer,
            "--name",
            "Portfolio Agent",
            "--types",
            &types.join(","),
            "--out",
            &agent_file,
        ]))?;
        Ok(world)
    }

    fn wait_for_server(&mut self, port: u16, log: &Path) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.server.try_wait() {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                return Err(format!("countersign-server exited ({status}):\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("countersign-server did not listen on port {port} within 30 s"))
    }

    /// The app's (and the CLI's) environment: the demo data directory, keys
    /// in the encrypted file.
    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("COUNTERSIGN_DATA_DIR".into(), self.dir.join("approver").display().to_string()),
            ("COUNTERSIGN_KEY_STORE".into(), "file".into()),
            ("COUNTERSIGN_INSECURE_KEY_PASSPHRASE".into(), PASSPHRASE.into()),
            ("COUNTERSIGN_EXPORT_DIR".into(), self.dir.join("exports").display().to_string()),
        ];
        if let Some(ca) = &self.ca_file {
            env.push(("COUNTERSIGN_CA_FILE".into(), ca.display().to_string()));
        }
        env
    }

    fn cli(&self, args: &[&str]) -> Command {
        cli_command(&self.cli, &self.env(), args)
    }

    /// The details file of a demo request.
    fn details_file(&self, name: &str) -> Result<PathBuf, String> {
        if name == "inline:shady-purchase" {
            let path = self.dir.join("shady-purchase.json");
            std::fs::write(&path, SHADY_PURCHASE).map_err(|e| e.to_string())?;
            return Ok(path);
        }
        Ok(crate::root().join("crates/details/testdata/valid").join(name))
    }

    /// Every `type` the demo requests use (the agent registers them).
    fn request_types(&self) -> Result<Vec<String>, String> {
        let mut types = Vec::new();
        for (name, _, _) in REQUESTS {
            let path = self.details_file(name)?;
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for t in detail_types(&text) {
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
        Ok(types)
    }

    /// Sends three requests now, then one every `every` seconds, on a thread.
    fn agent_loop(&self, every: u64, keep_going: bool) -> AgentLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let jobs: Vec<(PathBuf, &str, &str)> = REQUESTS
            .iter()
            .filter_map(|(name, code, scope)| self.details_file(name).ok().map(|p| (p, *code, *scope)))
            .collect();
        let (cli, env, agent) = (self.cli.clone(), self.env(), self.dir.join("agent.json"));
        step(&format!("The demo agent sends three requests now, then one every {every} s"));
        let thread = std::thread::spawn(move || {
            for (n, (details, code, scope)) in jobs.iter().cycle().enumerate() {
                if flag.load(Ordering::SeqCst) || (!keep_going && n >= 3) {
                    break;
                }
                let binding = format!("{code}-{}", 100 + n);
                let details = details.display().to_string();
                let agent = agent.display().to_string();
                let args = [
                    "agent",
                    "request",
                    "--agent",
                    &agent,
                    "--user",
                    USER,
                    "--details",
                    &details,
                    "--binding-message",
                    &binding,
                    "--scope",
                    scope,
                ];
                match cli_command(&cli, &env, &args).output() {
                    Ok(out) if out.status.success() => println!("    demo agent: sent {binding}"),
                    Ok(out) => {
                        println!("    demo agent: {binding} refused: {}", String::from_utf8_lossy(&out.stderr).trim())
                    }
                    Err(e) => println!("    demo agent: cannot run countersign-cli: {e}"),
                }
                if n >= 2 {
                    let until = Instant::now() + Duration::from_secs(every);
                    while Instant::now() < until && !flag.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        });
        AgentLoop { stop, thread }
    }

    /// Waits until the demo account has `count` pending requests.
    fn wait_for_requests(&self, count: usize) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let out = cli_command(&self.cli, &self.env(), &["list"]).output().map_err(|e| e.to_string())?;
            let listed = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("req_")).count();
            if listed >= count {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Err(format!("the demo requests did not arrive (expected {count})"))
    }
}

struct AgentLoop {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl AgentLoop {
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

fn cli_command(cli: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = Command::new(cli);
    c.args(args).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
    c
}

/// The app URI (`countersign://enroll?...`) in the output of
/// `countersign-server enroll-link`.
pub fn enrollment_uri(enroll_link_output: &str) -> Result<String, String> {
    enroll_link_output
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("countersign://enroll?"))
        .map(str::to_owned)
        .ok_or_else(|| "no countersign:// URI in the enroll-link output".to_owned())
}

/// The values of `"type": "..."` members in a details file.
fn detail_types(json: &str) -> Vec<String> {
    json.split("\"type\"")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix(':'))
        .filter_map(|rest| rest.trim_start().strip_prefix('"'))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Runs a command, echoing it and its output; returns its standard output.
fn capture(command: &mut Command) -> Result<String, String> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    println!("    $ {shown}");
    let out = command.output().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in stdout.lines().chain(String::from_utf8_lossy(&out.stderr).lines()) {
        println!("      {line}");
    }
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("`{shown}` failed ({})", out.status))
    }
}

/// Wraps a command in `xvfb-run` with a screen large enough for the window.
pub fn xvfb(inner: &mut Command) -> &mut Command {
    let program = inner.get_program().to_owned();
    let args: Vec<_> = inner.get_args().map(ToOwned::to_owned).collect();
    let envs: Vec<_> = inner.get_envs().map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned))).collect();
    *inner = Command::new("xvfb-run");
    inner.args(["-a", "-s", "-screen 0 1280x800x24"]).arg(program).args(args);
    for (key, value) in envs {
        match value {
            Some(value) => inner.env(key, value),
            None => inner.env_remove(key),
        };
    }
    inner
}

/// Starts the app under Xvfb, waits for its window, saves a picture of it.
fn screenshot_under_xvfb(app: &Path, env: &[(String, String)], path: &Path) -> Result<(), String> {
    step(&format!("Screenshot of the window under Xvfb -> {}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    // The window title is set by tauri.conf.json; xwininfo sees it once mapped.
    // The extra seconds let WebKit paint the inbox after the window maps.
    let script = format!(
        r#"set -eu
"$APP" & app=$!
for _ in $(seq {WINDOW_WAIT_SECONDS}); do
  if xwininfo -root -tree | grep -q '"Countersign"'; then break; fi
  sleep 1
done
xwininfo -root -tree | grep -q '"Countersign"' || {{ echo "the window did not appear" >&2; kill $app; exit 1; }}
sleep 5
window=$(xwininfo -root -tree | awk '/"Countersign":/ {{
  for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+x[0-9]+[+-]/) {{
    split($i, g, /[x+-]/); if (g[1] * g[2] > best) {{ best = g[1] * g[2]; id = $1 }}
  }} }} END {{ print id }}')
import -window "$window" "$SHOT"
kill $app
wait $app || true
"#
    );
    let mut command = Command::new("dbus-run-session");
    command.args(["--", "sh", "-c", &script]).env("APP", app).env("SHOT", path).envs(env.iter().map(|(k, v)| (k, v)));
    exec_command(xvfb(&mut command))?;
    println!("    saved {}", path.display());
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|dir| dir.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_detail_types_of_a_file() {
        let types = super::detail_types(super::SHADY_PURCHASE);
        assert_eq!(types, ["urn:countersign:details:v1:purchase", "customer_information"]);
    }
}
