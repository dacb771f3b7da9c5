//! Desktop app benchmark: Countersign beside an empty Tauri app built the
//! same way (`benches/empty-tauri/`, an example of this package). Linux only;
//! needs a display, a session bus and tauri-driver, so it is run by
//! `cargo xtask bench-desktop`, which builds both apps and runs this under
//! `xvfb-run` and `dbus-run-session`. Without `--bench` (for instance under
//! `cargo test --all-targets`) it does nothing.
//!
//! Parts (`COUNTERSIGN_BENCH_PARTS`, default all:
//! `start,idle,idle-inbox,click,inbox,fetch,admin`):
//!
//! - `start`: cold start to an interactive window, through tauri-driver
//!   (WebDriver) for both apps, alternating, after one unreported warm-up
//!   launch of each. A fresh process, fresh data directory and fresh XDG data
//!   and cache directories (WebKit's storage) per run; the OS file cache is
//!   warm. "Interactive" is Countersign's inbox rendered after its first IPC
//!   round trip (the empty inbox of a fresh data directory) or the empty
//!   app's ready marker, and a frame produced after it (two
//!   `requestAnimationFrame`s). Measured from the app process's start
//!   (`/proc/PID/stat`, 10 ms resolution) and from the WebDriver new-session
//!   request.
//! - `idle`: the app started directly (no WebDriver), Countersign with an
//!   account enrolled on a real in-process `countersign-server` and its
//!   event stream connected (checked on the server), the empty app as it is
//!   (no account). Once settled, CPU time (utime + stime) and memory (RSS
//!   and PSS) of the whole process tree (the app, WebKitWebProcess,
//!   WebKitNetworkProcess) are sampled every second over the idle window.
//! - `idle-inbox`: the same for Countersign with 1,000 pending requests:
//!   expiring in an hour, its window open on the inbox, then hidden in the
//!   tray (`--hidden`); then expiring in five minutes, window open.
//! - `click`: a notification click (dunst's default action, through
//!   `dunstctl`) to the request's view on screen (in the page: the view in
//!   the DOM and two frames after it), with the app started hidden in the
//!   tray, then with its window open on the inbox; a fresh app per run.
//! - `inbox`: Countersign opened through WebDriver on a data directory that
//!   already holds 1,000 pending requests (synced before the launch): the
//!   time until all are listed, then the page is scrolled from top to bottom
//!   at a steady speed while a script records the intervals between
//!   animation frames. The empty app scrolls 1,000 plain rows made by its
//!   script, measured the same way.
//! - `fetch`: once, the time until 1,000 requests are listed when they are
//!   only on the server and the app fetches them as it connects.
//! - `admin`: the user is an administrator of a server whose database holds
//!   100,000 audit entries and 10,000 grants
//!   (`countersign_server::testing::seed`); Countersign opened through
//!   WebDriver, Admin view, then for the audit log and for the grants: the
//!   time from clicking the tab to its first rows and a frame after them,
//!   then the list element (not the page) scrolled at the same steady speed
//!   for a fixed number of rows while the list fetches its further pages
//!   (200 a page, asked for 40 rows before the end of what is loaded), the
//!   intervals between animation frames recorded as for the inbox.
//!
//! Knobs: `COUNTERSIGN_BENCH_RUNS` (launches per figure, default 5),
//! `COUNTERSIGN_BENCH_IDLE_SECS` (default 60), `COUNTERSIGN_BENCH_REQUESTS`
//! (default 1000), `COUNTERSIGN_BENCH_SCROLL_SPEED` (pixels per second,
//! default 3000), `COUNTERSIGN_BENCH_AUDIT` and `COUNTERSIGN_BENCH_GRANTS`
//! (the admin part's audit entries and grants, default 100,000 and 10,000,
//! as the server's admin bench), `COUNTERSIGN_BENCH_ADMIN_ROWS` (rows
//! scrolled per admin list, default 2000), `COUNTERSIGN_BENCH_EMPTY_APP`
//! (the empty app's binary, required), `TAURI_DRIVER`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_approver::{Approver, ApproverConfig, KeyStoreChoice};
use countersign_server::testing::{seed, Agent};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// Clock ticks per second of `/proc` times (USER_HZ).
const HZ: f64 = 100.0;
const PASSPHRASE: &str = "bench passphrase (throwaway keys)";
/// How long one wait (a launch, a listing, a scroll) may take.
const LONG: Duration = Duration::from_secs(600);
/// Details of the seeded requests (crates/details/testdata/valid), in turn.
const DETAILS: &[&str] = &[
    "stock_trade-limit-buy.json",
    "send_email-with-attachment.json",
    "money_transfer-sepa.json",
    "calendar_event-create.json",
    "database_query-delete.json",
    "code_deploy-production.json",
    "purchase-two-items.json",
    "payment_initiation-rfc9396.json",
];

/// Countersign's inbox after its first IPC answer, in any of its states.
const COUNTERSIGN_READY: &str =
    "[data-testid=\"inbox-empty\"], [data-testid=\"inbox-list\"], [data-testid=\"inbox-error\"], [data-testid=\"startup-error\"]";
const EMPTY_READY: &str = "[data-testid=\"ready\"]";

/// Resolves once `selector` matches `count` elements and a frame was
/// produced after that; returns what the page saw.
const WAIT_SCRIPT: &str = r#"
const [selector, count, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const firstCheck = performance.now();
let checks = 0;
const check = () => {
  checks += 1;
  const failed = document.querySelector('[data-testid="inbox-error"], [data-testid="startup-error"]');
  if (failed) { done({ error: failed.textContent }); return; }
  const found = document.querySelectorAll(selector).length;
  if (found >= count) {
    const seen = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() =>
      done({ found, checks, first_check_ms: firstCheck, seen_ms: seen, frame_ms: performance.now() })));
  } else {
    setTimeout(check, 5);
  }
};
check();
"#;

/// The page's performance timeline: its clock's origin (Unix ms), the
/// navigation's milestones and every mark and measure, in start order.
const TIMELINE_SCRIPT: &str = r#"
const nav = performance.getEntriesByType('navigation')[0];
const entries = [...performance.getEntriesByType('mark'), ...performance.getEntriesByType('measure')]
  .sort((a, b) => a.startTime - b.startTime)
  .map((e) => ({ name: e.name, start: e.startTime, duration: e.duration }));
return {
  origin: performance.timeOrigin,
  response_end: nav ? nav.responseEnd : null,
  dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null,
  entries,
};
"#;

/// Scrolls the document from top to bottom at `speed` px/s, one step per
/// animation frame, and returns the intervals between frames.
const SCROLL_SCRIPT: &str = r#"
const [speed, done] = [arguments[0], arguments[arguments.length - 1]];
const page = document.scrollingElement;
page.scrollTop = 0;
const intervals = [];
let start = null;
let last = null;
const frame = (now) => {
  if (start === null) start = now;
  if (last !== null) intervals.push(now - last);
  last = now;
  // The bottom as laid out now (sizes of content not rendered yet are estimates).
  const max = page.scrollHeight - page.clientHeight;
  const y = Math.min(max, ((now - start) * speed) / 1000);
  page.scrollTop = y;
  if (y >= max) done({ intervals, height: page.scrollHeight, viewport: page.clientHeight, ms: now - start });
  else requestAnimationFrame(frame);
};
requestAnimationFrame(() => requestAnimationFrame(frame));
"#;

/// Clicks the admin tab `arguments[0]` and resolves once the admin list
/// shows rows and a frame was produced after them; times from the click.
const ADMIN_OPEN_SCRIPT: &str = r#"
const [tab, done] = [arguments[0], arguments[arguments.length - 1]];
const button = document.querySelector(`[data-testid="admin-tab-${tab}"]`);
if (!button) { done({ error: `no admin tab ${tab}` }); return; }
const clicked = performance.now();
button.click();
let checks = 0;
const check = () => {
  checks += 1;
  const failed = document.querySelector('[data-testid="admin-list-error"]');
  if (failed) { done({ error: failed.textContent }); return; }
  const rows = document.querySelectorAll('[data-testid="admin-list"] [data-testid="admin-row"]');
  if (rows.length > 0 && button.getAttribute('aria-selected') === 'true') {
    const seen = performance.now() - clicked;
    requestAnimationFrame(() => requestAnimationFrame(() =>
      done({ rows: rows.length, checks, seen_ms: seen, frame_ms: performance.now() - clicked })));
  } else {
    setTimeout(check, 2);
  }
};
// After the click's state changes are flushed (the previous list's rows gone).
setTimeout(check, 0);
"#;

/// Scrolls the admin list element (not the page) from its top by
/// `arguments[2]` pixels at `speed` px/s, one step per animation frame, as
/// far as the rows loaded so far reach (the list fetches more as it nears
/// their end); returns the intervals between frames, when pages arrived,
/// and the frames where the wanted position was past the loaded rows.
const ADMIN_SCROLL_SCRIPT: &str = r#"
const [speed, rowHeight, distance, done] = [arguments[0], arguments[1], arguments[2], arguments[arguments.length - 1]];
const list = document.querySelector('[data-testid="admin-list"]');
if (!list) { done({ error: 'no admin list' }); return; }
const spacer = list.firstElementChild;
const loaded = () => Math.round(spacer.offsetHeight / rowHeight);
list.scrollTop = 0;
const intervals = [];
const long = [];
const pages = [];
let behind = 0;
let rows = loaded();
const firstRows = rows;
let start = null;
let last = null;
// Give up 60 s after the time the distance takes.
const limit = (distance / speed) * 1000 + 60000;
const frame = (now) => {
  if (start === null) start = now;
  if (last !== null) {
    intervals.push(now - last);
    if (now - last > 50) long.push([Math.round(last - start), Math.round(now - last)]);
  }
  last = now;
  const nowRows = loaded();
  if (nowRows !== rows) { pages.push([Math.round(now - start), nowRows]); rows = nowRows; }
  const max = list.scrollHeight - list.clientHeight;
  const want = Math.min(distance, ((now - start) * speed) / 1000);
  if (want > max) behind += 1;
  list.scrollTop = Math.min(max, want);
  const end = document.querySelector('[data-testid="admin-list-end"]') !== null && want >= max;
  if (want >= distance || end || now - start > limit) {
    done({ intervals, long, pages, behind, first_rows: firstRows, rows, scrolled: list.scrollTop,
      viewport: list.clientHeight, ms: now - start, end });
  } else {
    requestAnimationFrame(frame);
  }
};
requestAnimationFrame(() => requestAnimationFrame(frame));
"#;

struct Settings {
    runs: usize,
    idle_secs: u64,
    requests: usize,
    scroll_speed: f64,
    admin_audit: u64,
    admin_grants: u64,
    admin_rows: u64,
    parts: Vec<String>,
    countersign: PathBuf,
    empty: PathBuf,
    driver: PathBuf,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("desktop: needs a display and tauri-driver; run it with `cargo xtask bench-desktop`");
        return;
    }
    let empty = std::env::var_os("COUNTERSIGN_BENCH_EMPTY_APP")
        .map(PathBuf::from)
        .expect("COUNTERSIGN_BENCH_EMPTY_APP: the empty Tauri app (cargo xtask bench-desktop builds it)");
    let settings = Settings {
        runs: env_or("COUNTERSIGN_BENCH_RUNS", 5usize).max(1),
        idle_secs: env_or("COUNTERSIGN_BENCH_IDLE_SECS", 60u64).max(1),
        requests: env_or("COUNTERSIGN_BENCH_REQUESTS", 1000usize).max(1),
        scroll_speed: env_or("COUNTERSIGN_BENCH_SCROLL_SPEED", 3000.0f64),
        admin_audit: env_or("COUNTERSIGN_BENCH_AUDIT", 100_000u64),
        admin_grants: env_or("COUNTERSIGN_BENCH_GRANTS", 10_000u64),
        admin_rows: env_or("COUNTERSIGN_BENCH_ADMIN_ROWS", 2000u64).max(1),
        parts: std::env::var("COUNTERSIGN_BENCH_PARTS")
            .unwrap_or_else(|_| "start,idle,idle-inbox,click,inbox,fetch,admin".into())
            .split(',')
            .map(|p| p.trim().to_owned())
            .collect(),
        countersign: PathBuf::from(env!("CARGO_BIN_EXE_countersign")),
        empty: std::fs::canonicalize(&empty).unwrap_or(empty),
        driver: std::env::var_os("TAURI_DRIVER").map(PathBuf::from).unwrap_or_else(|| "tauri-driver".into()),
    };
    assert!(settings.empty.is_file(), "no empty app at {}", settings.empty.display());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut report = Report::default();
    runtime.block_on(async {
        println!("machine: {} cores, load average {}", cores(), load_average());
        let renderer: Vec<String> =
            countersign_desktop::pending_renderer_settings().iter().map(|(n, v)| format!("{n}={v}")).collect();
        println!(
            "renderer (both apps): {}",
            if renderer.is_empty() { "WebKit's default (a GPU is usable)".to_owned() } else { renderer.join(" ") }
        );
        if settings.parts.iter().any(|p| p == "start") {
            cold_start(&settings, &mut report).await;
        }
        if settings.parts.iter().any(|p| p == "idle") {
            idle(&settings, &mut report).await;
        }
        if settings.parts.iter().any(|p| p == "idle-inbox") {
            idle_inbox(&settings, &mut report).await;
        }
        if settings.parts.iter().any(|p| p == "inbox") {
            inbox(&settings, &mut report).await;
        }
        if settings.parts.iter().any(|p| p == "fetch") {
            fetch(&settings, &mut report).await;
        }
        if settings.parts.iter().any(|p| p == "click") {
            click(&settings, &mut report).await;
        }
        if settings.parts.iter().any(|p| p == "admin") {
            admin(&settings, &mut report).await;
        }
    });
    report.print(&settings);
}

// ---------------------------------------------------------------- figures

#[derive(Default)]
struct Report {
    /// (row, Countersign, empty app, ratio)
    rows: Vec<(String, String, String, String)>,
    /// The empty app's cold start (text, median ms), once measured.
    empty_start: Option<(String, f64)>,
}

impl Report {
    fn row(&mut self, name: impl Into<String>, countersign: impl Into<String>, empty: impl Into<String>) {
        self.push(name.into(), countersign.into(), empty.into(), "–".into());
    }

    /// A row with both apps' figures and their ratio (Countersign's over
    /// the empty app's, from the unrounded values).
    fn compare(&mut self, name: impl Into<String>, countersign: (String, f64), empty: (String, f64)) {
        let ratio = if empty.1 > 0.0 { format!("{:.2}×", countersign.1 / empty.1) } else { "n/a".into() };
        self.push(name.into(), countersign.0, empty.0, ratio);
    }

    fn push(&mut self, name: String, countersign: String, empty: String, ratio: String) {
        println!("    {name}: Countersign {countersign} | empty Tauri app {empty} | ratio {ratio}");
        self.rows.push((name, countersign, empty, ratio));
    }

    fn print(&self, settings: &Settings) {
        println!("\n## Desktop app: Countersign vs an empty Tauri app\n");
        println!(
            "runs per launch figure: {}, idle window: {} s, requests: {}, scroll speed: {} px/s, admin: {} audit \
             entries, {} grants, {} rows scrolled per list, load average now: {}\n",
            settings.runs,
            settings.idle_secs,
            settings.requests,
            settings.scroll_speed,
            settings.admin_audit,
            settings.admin_grants,
            settings.admin_rows,
            load_average()
        );
        println!("| figure | Countersign | empty Tauri app | ratio |");
        println!("|---|---|---|---|");
        for (name, countersign, empty, ratio) in &self.rows {
            println!("| {name} | {countersign} | {empty} | {ratio} |");
        }
    }
}

/// "median (min – max)" in ms.
fn spread_ms(values: &[f64]) -> String {
    if values.is_empty() {
        return "n/a".into();
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    format!("{:.0} ms ({:.0} – {:.0})", median(&v), v[0], v[v.len() - 1])
}

/// The median of sorted values (NaN for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// `spread_ms` and the median, for [`Report::compare`].
fn spread_and_median(values: &[f64]) -> (String, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    (spread_ms(&v), median(&v))
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------- /proc

struct ProcStat {
    ppid: u32,
    /// utime + stime, ticks.
    cpu: u64,
    /// Start after boot, ticks.
    start: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" of the command name, from field 3 (state) on.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ProcStat { ppid: u32::try_from(field(4)?).ok()?, cpu: field(14)? + field(15)?, start: field(22)? })
}

/// `pid` and all its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
            if let Some(stat) = proc_stat(p) {
                children.entry(stat.ppid).or_default().push(p);
            }
        }
    }
    let mut out = vec![pid];
    let mut next = 0;
    while next < out.len() {
        out.extend(children.get(&out[next]).cloned().unwrap_or_default());
        next += 1;
    }
    out
}

/// The approver benchmark's `/proc` reading (one copy for both benchmarks).
#[path = "../crates/approver/benches/support/procfs.rs"]
mod procfs;

fn status_kib(pid: u32, file: &str, field: &str) -> u64 {
    procfs::field_kib(&format!("/proc/{pid}/{file}"), field)
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

/// Seconds since boot (10 ms resolution).
fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(0)
}

fn cpu_ticks(pids: &[u32]) -> HashMap<u32, u64> {
    pids.iter().filter_map(|&p| proc_stat(p).map(|s| (p, s.cpu))).collect()
}

/// CPU ticks used between two snapshots (processes that appeared count whole).
fn cpu_used(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after.iter().map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0))).sum()
}

fn kill(pid: u32) {
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}

fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some()
}

// ---------------------------------------------------------------- apps

#[derive(Clone, Copy, PartialEq)]
enum App {
    Countersign,
    Empty,
}

impl App {
    fn name(self) -> &'static str {
        match self {
            App::Countersign => "Countersign",
            App::Empty => "empty Tauri app",
        }
    }

    fn binary(self, settings: &Settings) -> &Path {
        match self {
            App::Countersign => &settings.countersign,
            App::Empty => &settings.empty,
        }
    }
}

/// A fresh directory for one launch: the approver's data directory and the
/// XDG data and cache directories (WebKit's storage), removed when dropped.
struct RunDir {
    dir: tempfile::TempDir,
}

impl RunDir {
    fn new() -> RunDir {
        RunDir { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The app's environment. Both apps get the renderer variables
    /// Countersign would set for itself (software painting where there is
    /// no usable GPU, as under Xvfb), so that they render the same way: an
    /// empty app left compositing through llvmpipe starts slower and holds
    /// more memory than the same app painting in software.
    fn env(&self) -> Vec<(String, PathBuf)> {
        let p = self.dir.path();
        let renderer = countersign_desktop::pending_renderer_settings()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), PathBuf::from(value)));
        renderer
            .chain([
                ("COUNTERSIGN_DATA_DIR".into(), self.data()),
                ("COUNTERSIGN_KEY_STORE".into(), "file".into()),
                ("COUNTERSIGN_INSECURE_KEY_PASSPHRASE".into(), PASSPHRASE.into()),
                ("COUNTERSIGN_EXPORT_DIR".into(), p.join("exports")),
                ("XDG_DATA_HOME".into(), p.join("xdg-data")),
                ("XDG_CACHE_HOME".into(), p.join("xdg-cache")),
            ])
            .collect()
    }
}

/// The app running under tauri-driver, with a WebDriver session.
struct Driven {
    client: Client,
    driver: Child,
    app_pid: Option<u32>,
    /// When the new-session request was sent.
    requested: Instant,
    /// Boot-relative seconds of that request.
    requested_uptime: f64,
}

/// How long a launch took until the page showed what was awaited.
struct Launch {
    /// App process start → awaited state and a frame after it, ms.
    from_process: f64,
    /// WebDriver new-session request → the same, ms.
    from_request: f64,
    /// The new-session request took, ms.
    session: f64,
    /// The app process started this long after the new-session request, ms.
    exec_after_request: f64,
    /// The awaited state was there at the first check (so the times are upper bounds).
    at_first_check: bool,
    /// What the page saw (`WAIT_SCRIPT`'s answer: `seen_ms`, `frame_ms` on the page's clock).
    page: Value,
    /// The app process's start, Unix ms (10 ms resolution).
    process_start_epoch_ms: f64,
}

#[path = "../tests/support/driver.rs"]
mod driver;

/// The end-to-end tests' notification daemon (one copy of that code).
#[allow(dead_code)]
#[path = "../tests/support/dunst.rs"]
mod dunst;

use dunst::Dunst;

impl Driven {
    /// Starts tauri-driver, then (timed) opens a session, which launches `app`.
    async fn start(settings: &Settings, app: App, env: &[(String, PathBuf)]) -> Driven {
        Driven::start_with_args(settings, app, env, &[]).await
    }

    /// [`Driven::start`] with the app's command-line arguments.
    async fn start_with_args(settings: &Settings, app: App, env: &[(String, PathBuf)], args: &[&str]) -> Driven {
        let binary = app.binary(settings);
        let patience = driver::Patience { within: Duration::from_secs(30), every: Duration::from_millis(20) };
        let env = env.iter().map(|(key, value)| (key, value));
        let (driver, port) = driver::start_tauri_driver(&settings.driver, env, Stdio::null(), patience);
        let capabilities = driver::capabilities(json!({ "application": binary, "args": args }));
        let requested_uptime = uptime();
        let requested = Instant::now();
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session on the app");
        let app_pid = tree(driver.id())
            .into_iter()
            .find(|&p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|exe| exe == binary));
        Driven { client, driver, app_pid, requested, requested_uptime }
    }

    /// Waits (in the page) until `selector` matches `count` elements and a
    /// frame followed; returns the launch times.
    async fn wait_for(&self, selector: &str, count: usize) -> Launch {
        let session = self.requested.elapsed();
        self.client
            .update_timeouts(TimeoutConfiguration::new(Some(LONG), Some(LONG), Some(Duration::ZERO)))
            .await
            .expect("timeouts");
        let seen = self.client.execute_async(WAIT_SCRIPT, vec![json!(selector), json!(count)]).await;
        let (now, now_uptime) = (self.requested.elapsed(), uptime());
        let seen = seen.expect("waiting in the page");
        assert!(seen.get("error").is_none(), "the app shows an error: {seen}");
        let started = self.app_pid.and_then(proc_stat).map(|s| s.start as f64 / HZ);
        let process_start_epoch_ms = started.map_or(f64::NAN, |s| epoch_ms() - (uptime() - s) * 1000.0);
        Launch {
            page: seen.clone(),
            process_start_epoch_ms,
            from_process: started.map_or(f64::NAN, |s| (now_uptime - s) * 1000.0),
            from_request: now.as_secs_f64() * 1000.0,
            session: session.as_secs_f64() * 1000.0,
            exec_after_request: started.map_or(f64::NAN, |s| (s - self.requested_uptime) * 1000.0),
            at_first_check: seen["checks"] == 1,
        }
    }

    /// Where the start-up time went, in ms from the app process's start: the
    /// page's navigation, its marks (`ui/src/main.ts`), each IPC round trip
    /// finished by the time this runs (`ipc <command>`,
    /// `ui/src/lib/backend/tauri.ts`; some may have finished after the awaited
    /// state), and when the awaited state was seen and a frame followed.
    async fn timeline(&self, launch: &Launch) -> String {
        let Ok(page) = self.client.execute(TIMELINE_SCRIPT, vec![]).await else {
            return "timeline unavailable".into();
        };
        let origin = page["origin"].as_f64().unwrap_or(f64::NAN) - launch.process_start_epoch_ms;
        let at = |page_ms: &Value| page_ms.as_f64().map_or("?".to_owned(), |ms| format!("{:.0}", origin + ms));
        let mut parts = vec![
            format!("page clock at {origin:.0}"),
            format!("document {}", at(&page["response_end"])),
            format!("DOMContentLoaded {}", at(&page["dom_content_loaded"])),
        ];
        for entry in page["entries"].as_array().into_iter().flatten() {
            let start = entry["start"].as_f64().unwrap_or(f64::NAN);
            let duration = entry["duration"].as_f64().unwrap_or(0.0);
            let name = entry["name"].as_str().unwrap_or("?");
            parts.push(if duration > 0.0 {
                format!("{name} {:.0}–{:.0}", origin + start, origin + start + duration)
            } else {
                format!("{name} {:.0}", origin + start)
            });
        }
        parts.push(format!("seen {}", at(&launch.page["seen_ms"])));
        parts.push(format!("frame {}", at(&launch.page["frame_ms"])));
        parts.join(", ")
    }

    /// Scrolls the page top to bottom; returns the frame intervals (ms).
    async fn scroll(&self, speed: f64) -> (Vec<f64>, Value) {
        let result = self.client.execute_async(SCROLL_SCRIPT, vec![json!(speed)]).await.expect("scroll script");
        let mut intervals: Vec<f64> =
            result["intervals"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        intervals.sort_by(f64::total_cmp);
        (intervals, json!({ "height": result["height"], "viewport": result["viewport"], "ms": result["ms"] }))
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if let Some(pid) = self.app_pid {
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if alive(pid) {
                kill(pid);
            }
        }
        // Let the WebKit helpers of the closed app go before the next launch.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// ---------------------------------------------------------------- 1. cold start

async fn cold_start(settings: &Settings, report: &mut Report) {
    println!("\n==> cold start to an interactive window ({} runs each, alternating, after one warm-up)", settings.runs);
    let mut from_process: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut from_request: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for run in 0..=settings.runs {
        for app in [App::Countersign, App::Empty] {
            let dir = RunDir::new();
            let driven = Driven::start(settings, app, &dir.env()).await;
            let selector = if app == App::Countersign { COUNTERSIGN_READY } else { EMPTY_READY };
            let launch = driven.wait_for(selector, 1).await;
            if app == App::Countersign {
                let empty = driven.client.find(fantoccini::Locator::Css("[data-testid=\"inbox-empty\"]")).await;
                assert!(empty.is_ok(), "Countersign did not show its empty inbox");
                println!("      timeline: {}", driven.timeline(&launch).await);
            }
            driven.close().await;
            let label = if run == 0 { "warm-up".to_owned() } else { format!("run {run}") };
            println!(
                "    {label} {}: {:.0} ms from process start, {:.0} ms from session request (process started after {:.0} ms, session open after {:.0} ms{})",
                app.name(),
                launch.from_process,
                launch.from_request,
                launch.exec_after_request,
                launch.session,
                if launch.at_first_check { ", ready at first check" } else { "" }
            );
            if run > 0 {
                from_process.entry(app.name()).or_default().push(launch.from_process);
                from_request.entry(app.name()).or_default().push(launch.from_request);
            }
        }
    }
    let get =
        |m: &BTreeMap<&str, Vec<f64>>, app: App| spread_and_median(m.get(app.name()).map_or(&[][..], Vec::as_slice));
    report.empty_start = Some(get(&from_process, App::Empty));
    report.compare(
        "Cold start to interactive, from process start (median, min – max)",
        get(&from_process, App::Countersign),
        get(&from_process, App::Empty),
    );
    report.compare(
        "Cold start to interactive, from WebDriver session request",
        get(&from_request, App::Countersign),
        get(&from_request, App::Empty),
    );
}

// ---------------------------------------------------------------- server side

/// The end-to-end tests' server with user `zoe` (one copy of that code);
/// the benchmark uses part of it.
#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod test_server;

use test_server::{Server, USER};

/// The in-process server with user `zoe` and fatigue limits off (so 1,000
/// requests can be sent at once).
struct World {
    server: Server,
}

impl World {
    async fn start() -> World {
        World { server: Server::start_unlimited().await }
    }

    fn approver_config(data: &Path) -> ApproverConfig {
        let mut config = ApproverConfig::new(data);
        config.key_store = KeyStoreChoice::File;
        config.passphrase = Some(Arc::new(|_| Ok(Zeroizing::new(PASSPHRASE.to_owned()))));
        config.device_name = "Countersign desktop (bench)".into();
        config
    }

    /// Enrolls a data directory into zoe's account (the approver core, keys
    /// in the encrypted file, as the app opens them); returns the account id.
    async fn enroll(&self, data: &Path) -> String {
        let link = self.server.enrollment_link().await;
        let approver = Approver::open(Self::approver_config(data)).await.expect("open approver");
        let account = approver.enroll(&link).await.expect("enroll");
        approver.close().await;
        account.id
    }

    /// Fetches the pending requests into a data directory, as the app's
    /// transport does when it connects.
    async fn sync(data: &Path, account: &str) -> usize {
        let approver = Approver::open(Self::approver_config(data)).await.expect("open approver");
        let report = approver.sync(account).await.expect("sync");
        approver.close().await;
        report.new
    }

    /// A world whose agent sent `count` requests ([`World::seed`]), and a
    /// data directory enrolled there that holds them all ([`World::sync`]);
    /// how long sending them took.
    async fn with_synced_requests(count: usize, expiry_secs: u64) -> (World, RunDir, Duration) {
        let world = World::start().await;
        let dir = RunDir::new();
        let account = world.enroll(&dir.data()).await;
        let seeded = world.seed(count, expiry_secs).await;
        let synced = World::sync(&dir.data(), &account).await;
        assert_eq!(synced, count, "the data directory holds the seeded requests");
        (world, dir, seeded)
    }

    /// Registers an agent and has it send `count` requests expiring in
    /// `expiry_secs`, 8 at a time.
    async fn seed(&self, count: usize, expiry_secs: u64) -> Duration {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/details/testdata/valid");
        let details: Vec<String> = DETAILS
            .iter()
            .map(|f| std::fs::read_to_string(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
            .collect();
        let mut types: Vec<String> = Vec::new();
        for d in &details {
            let v: Value = serde_json::from_str(d).expect("details JSON");
            for t in v.as_array().into_iter().flatten().filter_map(|o| o["type"].as_str()) {
                if !types.iter().any(|x| x == t) {
                    types.push(t.to_owned());
                }
            }
        }
        let agent = Agent::register(
            &self.server.server,
            json!({ "client_name": "Bench Agent", "authorization_details_types": types }),
        )
        .await;
        let started = Instant::now();
        let details = Arc::new(details);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..8 {
            let (agent, details, next) = (agent.clone(), details.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= count {
                        break;
                    }
                    agent
                        .authorize(&[
                            ("scope", "openid".to_owned()),
                            ("login_hint", USER.to_owned()),
                            ("binding_message", format!("REQ-{n:04}")),
                            ("authorization_details", details[n % details.len()].clone()),
                            ("requested_expiry", expiry_secs.to_string()),
                        ])
                        .await;
                }
            }));
        }
        for w in workers {
            w.await.expect("seeding worker");
        }
        started.elapsed()
    }

    async fn wait_connected(&self) -> Duration {
        let started = Instant::now();
        while self.server.server.state.hub.connected_users() == 0 {
            assert!(started.elapsed() < Duration::from_secs(120), "the app did not open its event stream");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started.elapsed()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

// ---------------------------------------------------------------- 2. idle

struct Idle {
    rss_kib: u64,
    pss_kib: u64,
    cpu_secs: f64,
    window_secs: f64,
    settle_secs: f64,
    processes: String,
}

impl Idle {
    fn memory(&self) -> String {
        format!("{:.0} MiB RSS, {:.0} MiB PSS", self.rss_kib as f64 / 1024.0, self.pss_kib as f64 / 1024.0)
    }

    fn cpu(&self) -> String {
        format!("{:.2} s = {:.2} % of one core", self.cpu_secs, 100.0 * self.cpu_secs / self.window_secs)
    }
}

/// Launches `app` directly, waits for `ready` (the server connection),
/// lets it settle, then samples the process tree over the idle window.
async fn measure_idle(settings: &Settings, app: App, dir: &RunDir, world: Option<&World>, args: &[&str]) -> Idle {
    let log = std::fs::File::create(dir.dir.path().join("app.log")).expect("log file");
    let mut child = Command::new(app.binary(settings))
        .args(args)
        .envs(dir.env())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("start the app");
    let pid = child.id();
    let started = Instant::now();
    if let Some(world) = world {
        let took = world.wait_connected().await;
        println!("    {}: event stream open {:.1} s after launch", app.name(), took.as_secs_f64());
    }
    // Settled: at least 10 s after launch, then a 2 s span under 2 % CPU or
    // within a quarter of the span before (a steady state: ticking
    // countdowns), at most 120 s.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(started.elapsed())).await;
    let mut previous: Option<u64> = None;
    loop {
        let before = cpu_ticks(&tree(pid));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let used = cpu_used(&before, &cpu_ticks(&tree(pid)));
        let steady = previous.is_some_and(|p| used.abs_diff(p) <= (p / 4).max(4));
        if used <= 4 || steady || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        previous = Some(used);
    }
    let settle_secs = started.elapsed().as_secs_f64();
    let pids = tree(pid);
    let before = cpu_ticks(&pids);
    let window = Instant::now();
    let mut rss = Vec::new();
    let mut pss = Vec::new();
    let mut per_process: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    while window.elapsed() < Duration::from_secs(settings.idle_secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pids = tree(pid);
        rss.push(pids.iter().map(|&p| status_kib(p, "status", "VmRSS:")).sum::<u64>());
        pss.push(pids.iter().map(|&p| status_kib(p, "smaps_rollup", "Pss:")).sum::<u64>());
        per_process = pids
            .iter()
            .map(|&p| {
                (
                    format!("{} ({p})", comm(p)),
                    (status_kib(p, "status", "VmRSS:"), status_kib(p, "smaps_rollup", "Pss:")),
                )
            })
            .collect();
    }
    let window_secs = window.elapsed().as_secs_f64();
    let after = cpu_ticks(&tree(pid));
    let per_cpu: Vec<String> = after
        .iter()
        .map(|(p, t)| {
            format!("{} {:.2} s", comm(*p), t.saturating_sub(before.get(p).copied().unwrap_or(0)) as f64 / HZ)
        })
        .collect();
    let cpu_secs = cpu_used(&before, &after) as f64 / HZ;
    let _ = child.kill();
    let _ = child.wait();
    for p in pids {
        if alive(p) {
            kill(p);
        }
    }
    rss.sort_unstable();
    pss.sort_unstable();
    let processes = per_process
        .iter()
        .map(|(name, (r, p))| format!("{name}: RSS {:.0} MiB, PSS {:.0} MiB", *r as f64 / 1024.0, *p as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join("; ");
    println!("    {}: CPU per process: {}", app.name(), per_cpu.join(", "));
    Idle {
        rss_kib: rss.get(rss.len() / 2).copied().unwrap_or(0),
        pss_kib: pss.get(pss.len() / 2).copied().unwrap_or(0),
        cpu_secs,
        window_secs,
        settle_secs,
        processes,
    }
}

async fn idle(settings: &Settings, report: &mut Report) {
    println!("\n==> idle: {} s window, whole process tree, no WebDriver", settings.idle_secs);
    let world = World::start().await;
    let dir = RunDir::new();
    world.enroll(&dir.data()).await;
    let countersign = measure_idle(settings, App::Countersign, &dir, Some(&world), &[]).await;
    let empty = measure_idle(settings, App::Empty, &RunDir::new(), None, &[]).await;
    for (app, m) in [(App::Countersign, &countersign), (App::Empty, &empty)] {
        println!(
            "    {}: settled after {:.0} s; {}; {} over {:.0} s; {}",
            app.name(),
            m.settle_secs,
            m.memory(),
            m.cpu(),
            m.window_secs,
            m.processes
        );
    }
    report.compare(
        "Idle memory (median of 1 s samples): RSS sum, PSS sum (ratio of PSS)",
        (countersign.memory(), countersign.pss_kib as f64),
        (empty.memory(), empty.pss_kib as f64),
    );
    report.compare(
        "Idle CPU over the window (all processes)",
        (countersign.cpu(), countersign.cpu_secs / countersign.window_secs),
        (empty.cpu(), empty.cpu_secs / empty.window_secs),
    );

    world.server.server.stop().await;
}

/// Countersign idle with a full inbox: requests expiring in an hour (their
/// countdowns show whole minutes and change once a minute), the window open
/// on the inbox, then hidden in the tray (`--hidden`, as the login item
/// starts it); then requests expiring in five minutes (the server's default
/// expiry: the countdowns on or near the screen change every second).
async fn idle_inbox(settings: &Settings, report: &mut Report) {
    let count = settings.requests;
    println!("\n==> idle with {count} pending requests: {} s window, no WebDriver", settings.idle_secs);
    let cases: [(u64, &str, &[&str]); 3] = [
        (3600, "1 h expiry, window open", &[]),
        (3600, "1 h expiry, window hidden in the tray", &[countersign_desktop::ARG_HIDDEN]),
        (300, "5 min expiry, window open", &[]),
    ];
    let mut synced: Option<(u64, World, RunDir)> = None;
    for (expiry, shown, args) in cases {
        if synced.as_ref().is_none_or(|(e, _, _)| *e != expiry) {
            if let Some((_, world, _)) = synced.take() {
                world.server.server.stop().await;
            }
            let (world, dir, _) = World::with_synced_requests(count, expiry).await;
            synced = Some((expiry, world, dir));
        }
        let Some((_, world, dir)) = synced.as_ref() else { unreachable!("synced above") };
        let loaded = measure_idle(settings, App::Countersign, dir, Some(world), args).await;
        println!(
            "    Countersign with {count} requests, {shown}: settled after {:.0} s; {}; {}; {}",
            loaded.settle_secs,
            loaded.memory(),
            loaded.cpu(),
            loaded.processes
        );
        report.row(format!("Idle memory with {count} pending requests, {shown}"), loaded.memory(), "n/a");
        report.row(format!("Idle CPU with {count} pending requests, {shown}"), loaded.cpu(), "n/a");
    }
    if let Some((_, world, _)) = synced {
        world.server.server.stop().await;
    }
}

// ---------------------------------------------------------------- notification click

/// A request the click part sends (one `send_email` detail, as the
/// end-to-end test of notification clicks).
const CLICK_DETAILS: &str = r#"[{"type":"urn:countersign:details:v1:send_email","from":"zoe@example.com","to":["bob@example.org"],"subject":"Minutes of Tuesday's meeting","body_preview":"Hi Bob,\n\nthe minutes are attached.\n\nZoë"}]"#;

/// Resolves once the request view of the request `arguments[0]` is in the
/// page and two frames followed (it is on screen): the wall-clock time of
/// that frame, in ms since the epoch. Watches the DOM with a
/// MutationObserver, not a timer: a hidden page's timers are throttled.
const DETAIL_SCRIPT: &str = r#"
const [id, done] = [arguments[0], arguments[arguments.length - 1]];
const selector = `[data-testid="request-detail"][data-request-id="${CSS.escape(id)}"]`;
let seen = false;
const finish = () => {
  if (seen || !document.querySelector(selector)) return false;
  seen = true;
  observer.disconnect();
  requestAnimationFrame(() => requestAnimationFrame(() =>
    done({ frame_epoch_ms: performance.timeOrigin + performance.now() })));
  return true;
};
const observer = new MutationObserver(finish);
observer.observe(document.body, { childList: true, subtree: true, attributes: true });
finish();
"#;

fn epoch_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl Driven {
    /// The value of `script` (run in the page), polled until it is a string
    /// (no frame needed: the window may be hidden).
    async fn poll_string(&self, what: &str, script: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Value::String(v)) = self.client.execute(script, vec![]).await {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a request, waits for its notification, clicks it (dunst's
    /// default action), and returns the time from the click to its request
    /// view on screen, in ms.
    async fn click_notification(&self, world: &World, agent: &Agent, n: usize) -> f64 {
        world.server.request(agent, CLICK_DETAILS, &format!("CLICK-{n}"), "openid email").await;
        let id = self
            .poll_string(
                "the request in the inbox",
                &format!(
                    "const i = [...document.querySelectorAll('[data-testid=\"inbox-item\"]')]\
                     .find((e) => e.textContent.includes('CLICK-{n}')); return i ? i.dataset.requestId : null;"
                ),
            )
            .await;
        Dunst::wait_displayed(1).await;
        let client = self.client.clone();
        let watching = tokio::spawn(async move { client.execute_async(DETAIL_SCRIPT, vec![json!(id)]).await });
        // The watcher is installed before the click (WebDriver runs the
        // script at once; this leaves it ample time).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let clicked = epoch_ms();
        Dunst::ctl(&["action", "0"]);
        let shown = watching.await.expect("watcher task").expect("request view shown");
        Dunst::ctl(&["close-all"]);
        shown["frame_epoch_ms"].as_f64().expect("frame time") - clicked
    }
}

/// A notification click, with the app in the tray (started hidden, as at
/// login) and with its window open on the inbox: the time from the click to
/// the request's view on screen.
async fn click(settings: &Settings, report: &mut Report) {
    println!("\n==> notification click to the request on screen ({} runs)", settings.runs);
    let dunst = Dunst::start();
    let (mut hidden, mut open) = (Vec::new(), Vec::new());
    for run in 1..=settings.runs {
        // A fresh server per run: no request of an earlier run is waiting.
        let world = World::start().await;
        let agent = world.server.agent("Mail Assistant", &["urn:countersign:details:v1:send_email"]).await;
        let dir = RunDir::new();
        world.enroll(&dir.data()).await;
        let driven =
            Driven::start_with_args(settings, App::Countersign, &dir.env(), &[countersign_desktop::ARG_HIDDEN]).await;
        world.wait_connected().await;
        driven
            .poll_string(
                "the empty inbox",
                "return document.querySelector('[data-testid=\"inbox-empty\"]') ? 'yes' : null;",
            )
            .await;
        // Let the start settle: the click is timed on an idle app, after the
        // app has let go of its start-up code (`src-tauri/memory.rs`; the
        // transport starts at the first screen), as it is all day.
        tokio::time::sleep(countersign_desktop::PROGRAM_PAGES_RELEASED_AFTER + Duration::from_secs(3)).await;
        let from_tray = driven.click_notification(&world, &agent, run * 2).await;
        driven
            .client
            .find(fantoccini::Locator::Css("[data-testid=\"back\"]"))
            .await
            .expect("back")
            .click()
            .await
            .expect("click back");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let from_open = driven.click_notification(&world, &agent, run * 2 + 1).await;
        println!("    run {run}: window hidden {from_tray:.0} ms, window open {from_open:.0} ms");
        hidden.push(from_tray);
        open.push(from_open);
        driven.close().await;
        world.server.server.stop().await;
    }
    report.row(
        "Notification click to the request on screen, app in the tray (window hidden)",
        spread_ms(&hidden),
        "n/a",
    );
    report.row("Notification click to the request on screen, window open on the inbox", spread_ms(&open), "n/a");
    drop(dunst);
}

// ---------------------------------------------------------------- 3. inbox

struct Frames {
    intervals: Vec<f64>,
    scrolled: Value,
}

impl Frames {
    fn summary(&self) -> String {
        let v = &self.intervals;
        if v.is_empty() {
            return "n/a".into();
        }
        format!(
            "{} frames; p50 {:.1} / p95 {:.1} / p99 {:.1} / max {:.0} ms; {} over 50 ms",
            v.len(),
            percentile(v, 50.0),
            percentile(v, 95.0),
            percentile(v, 99.0),
            v[v.len() - 1],
            v.iter().filter(|&&i| i > 50.0).count()
        )
    }
}

async fn inbox(settings: &Settings, report: &mut Report) {
    let count = settings.requests;
    println!("\n==> inbox of {count} requests: listing and scrolling at {} px/s", settings.scroll_speed);
    let (world, template, seeded) = World::with_synced_requests(count, 3600).await;
    println!("    seeded {count} requests in {:.1} s and synced them into the data directory", seeded.as_secs_f64());

    let mut listed = Vec::new();
    let mut on_screen = Vec::new();
    let mut countersign_frames = Vec::new();
    let mut empty_frames = Vec::new();
    let mut scrolled = Vec::new();
    for run in 1..=settings.runs {
        let dir = RunDir::new();
        copy_dir(&template.data(), &dir.data());
        let driven = Driven::start(settings, App::Countersign, &dir.env()).await;
        let first = driven.wait_for("[data-testid=\"inbox-item\"]", 1).await;
        let first_timeline = driven.timeline(&first).await;
        let launch = driven.wait_for("[data-testid=\"inbox-item\"]", count).await;
        let frames = Frames::from(driven.scroll(settings.scroll_speed).await);
        driven.close().await;
        println!(
            "    run {run} Countersign: first requests on screen {:.0} ms, all {count} listed {:.0} ms after process start; scroll {} ({})",
            first.from_process,
            launch.from_process,
            frames.summary(),
            frames.scrolled
        );
        println!("      timeline to the first on screen: {first_timeline}");
        on_screen.push(first.from_process);
        listed.push(launch.from_process);
        countersign_frames.extend(frames.intervals.iter().copied());
        scrolled.push(frames.scrolled.clone());

        let dir = RunDir::new();
        let driven = Driven::start(settings, App::Empty, &dir.env()).await;
        driven.wait_for(EMPTY_READY, 1).await;
        let rows = driven.client.execute("return window.emptyAppRows(arguments[0]);", vec![json!(count)]).await;
        assert_eq!(rows.ok(), Some(json!(count)), "the empty app made its rows");
        driven.wait_for("[data-testid=\"row\"]", count).await;
        let frames = Frames::from(driven.scroll(settings.scroll_speed).await);
        driven.close().await;
        println!("    run {run} empty Tauri app: scroll {} ({})", frames.summary(), frames.scrolled);
        empty_frames.extend(frames.intervals.iter().copied());
    }
    countersign_frames.sort_by(f64::total_cmp);
    empty_frames.sort_by(f64::total_cmp);
    // Beside the empty app's cold start (the `start` part), when it ran.
    match report.empty_start.clone() {
        Some(empty) => report.compare(
            format!("{count} pending requests waiting: the first on screen, from process start (vs the empty app's cold start)"),
            spread_and_median(&on_screen),
            empty,
        ),
        None => report.row(
            format!("{count} pending requests waiting: the first on screen, from process start"),
            spread_ms(&on_screen),
            "n/a",
        ),
    }
    report.row(
        format!("{count} pending requests listed, from process start (data directory holding them)"),
        spread_ms(&listed),
        "n/a",
    );

    report.row(
        format!("Scrolling {count} items top to bottom at {} px/s, all runs", settings.scroll_speed),
        Frames { intervals: countersign_frames, scrolled: Value::Null }.summary(),
        Frames { intervals: empty_frames, scrolled: Value::Null }.summary(),
    );
    world.server.server.stop().await;
}

/// Countersign opened on a data directory without the requests: its
/// transport fetches them when it connects (one `new_request` event each).
async fn fetch(settings: &Settings, report: &mut Report) {
    let count = settings.requests;
    println!("\n==> {count} requests fetched from the server at start (1 run)");
    let world = World::start().await;
    let dir = RunDir::new();
    world.enroll(&dir.data()).await;
    world.seed(count, 3600).await;
    let driven = Driven::start(settings, App::Countersign, &dir.env()).await;
    let launch = driven.wait_for("[data-testid=\"inbox-item\"]", count).await;
    driven.close().await;
    report.row(
        format!("{count} pending requests listed, from process start (fetched from the server at start, 1 run)"),
        format!("{:.0} ms", launch.from_process),
        "n/a",
    );
    world.server.server.stop().await;
}

// ---------------------------------------------------------------- 4. admin

/// The admin lists' row height (`ROW_HEIGHT` in ui/src/lib/admin/Admin.svelte).
const ADMIN_ROW_HEIGHT: f64 = 64.0;

impl Driven {
    /// Clicks an admin tab; ms until its first rows and a frame after them.
    async fn admin_open(&self, tab: &str) -> (f64, Value) {
        let seen = self.client.execute_async(ADMIN_OPEN_SCRIPT, vec![json!(tab)]).await.expect("admin open script");
        assert!(seen.get("error").is_none(), "the admin list of {tab} failed: {seen}");
        (seen["frame_ms"].as_f64().unwrap_or(f64::NAN), seen)
    }

    /// Scrolls the admin list `distance` px down; what the page recorded.
    async fn admin_scroll(&self, speed: f64, distance: f64) -> Value {
        let args = vec![json!(speed), json!(ADMIN_ROW_HEIGHT), json!(distance)];
        let result = self.client.execute_async(ADMIN_SCROLL_SCRIPT, args).await.expect("admin scroll script");
        assert!(result.get("error").is_none(), "scrolling the admin list: {result}");
        result
    }
}

/// One admin list over all runs.
#[derive(Default)]
struct AdminFigures {
    open_ms: Vec<f64>,
    intervals: Vec<f64>,
    /// Rows loaded when each scroll ended.
    rows: Vec<u64>,
    /// Frames whose wanted position was past the rows loaded (waiting for a page).
    behind: u64,
}

/// The administrator's lists on a large organisation: open and scroll the
/// audit log and the grants in a fresh launch per run.
async fn admin(settings: &Settings, report: &mut Report) {
    let (audit, grants, rows, speed) =
        (settings.admin_audit, settings.admin_grants, settings.admin_rows, settings.scroll_speed);
    println!(
        "\n==> admin lists: {audit} audit entries, {grants} grants; each opened, then scrolled {rows} rows at {speed} px/s"
    );
    let world = World::start().await;
    // The role is carried to the app at enrollment.
    world.server.make_admin().await;
    let template = RunDir::new();
    world.enroll(&template.data()).await;
    let started = Instant::now();
    let seeded = seed::admin_data(&world.server.server, audit, grants).await;
    println!(
        "    seeded {audit} audit entries and {grants} grants in {:.1} s; the audit log verifies ({} entries)",
        started.elapsed().as_secs_f64(),
        seeded.log_entries
    );
    let distance = rows as f64 * ADMIN_ROW_HEIGHT;
    let lists = [("audit", "Audit log", format!("{audit} entries")), ("grants", "Grants", format!("{grants} grants"))];
    let mut figures: BTreeMap<&str, AdminFigures> = BTreeMap::new();
    for run in 1..=settings.runs {
        let dir = RunDir::new();
        copy_dir(&template.data(), &dir.data());
        let driven = Driven::start(settings, App::Countersign, &dir.env()).await;
        driven.wait_for("[data-testid=\"nav-admin\"]", 1).await;
        driven
            .client
            .execute("document.querySelector('[data-testid=\"nav-admin\"]').click();", vec![])
            .await
            .expect("open the admin view");
        // The pending list (empty: no request is pending) or its rows.
        driven.wait_for("[data-testid=\"admin-list-empty\"], [data-testid=\"admin-list\"]", 1).await;
        for (tab, name, _) in &lists {
            let (open_ms, opened) = driven.admin_open(tab).await;
            let scrolled = driven.admin_scroll(speed, distance).await;
            let mut intervals: Vec<f64> = scrolled["intervals"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            intervals.sort_by(f64::total_cmp);
            let frames = Frames {
                intervals,
                scrolled: json!({ "px": scrolled["scrolled"], "viewport": scrolled["viewport"], "ms": scrolled["ms"] }),
            };
            let loaded = scrolled["rows"].as_u64().unwrap_or(0);
            let behind = scrolled["behind"].as_u64().unwrap_or(0);
            println!(
                "    run {run} {name}: first {} rows {open_ms:.0} ms after the click (seen after {:.0} ms, {} checks); \
                 scroll {} ({}); rows fetched {} → {loaded}, page arrivals [ms, rows] {}; {behind} frames waiting \
                 for a page; frames over 50 ms [at ms, ms] {}",
                opened["rows"],
                opened["seen_ms"].as_f64().unwrap_or(f64::NAN),
                opened["checks"],
                frames.summary(),
                frames.scrolled,
                scrolled["first_rows"],
                scrolled["pages"],
                scrolled["long"],
            );
            let f = figures.entry(tab).or_default();
            f.open_ms.push(open_ms);
            f.intervals.extend(frames.intervals.iter().copied());
            f.rows.push(loaded);
            f.behind += behind;
        }
        driven.close().await;
    }
    for (tab, name, size) in &lists {
        let Some(f) = figures.get_mut(tab) else { continue };
        f.intervals.sort_by(f64::total_cmp);
        report.row(
            format!("Admin → {name} ({size}): first rows shown, from clicking the tab"),
            spread_ms(&f.open_ms),
            "n/a",
        );
        let (least, most) = (f.rows.iter().min().copied().unwrap_or(0), f.rows.iter().max().copied().unwrap_or(0));
        let loaded = if least == most { format!("{most}") } else { format!("{least} – {most}") };
        report.row(
            format!("Admin → {name}: scrolling the list {rows} rows at {speed} px/s while it fetches pages, all runs"),
            format!(
                "{}; {loaded} rows fetched; {} frames waiting for a page",
                Frames { intervals: std::mem::take(&mut f.intervals), scrolled: Value::Null }.summary(),
                f.behind
            ),
            "n/a",
        );
    }
    world.server.server.stop().await;
}

impl From<(Vec<f64>, Value)> for Frames {
    fn from((intervals, scrolled): (Vec<f64>, Value)) -> Frames {
        Frames { intervals, scrolled }
    }
}
