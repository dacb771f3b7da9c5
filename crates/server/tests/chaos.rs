//! Chaos run: the real `countersign-server` binary on a SQLite file and a
//! fixed 127.0.0.1 port, killed with SIGKILL at random intervals (2 to 7 s)
//! and restarted, while agents run CIBA flows against it: poll flows (the
//! device approves over the device channel, the agent redeems at the token
//! endpoint, a third of them repeat the token request on purpose) and push
//! flows (the tokens come to a local notification endpoint).
//!
//! Each kill is aimed: when its time comes, it lands as soon as the server
//! logs `tokens issued` (written right after a redemption commits, before
//! the response is sent), so that some kills fall between the commit and
//! the response, the issue's case, which the run counts. The other flows in
//! flight are cut wherever they are.
//!
//! It reports flows, kills, requests cut by a kill, lost tokens (approved,
//! but the agent never obtained the token within the 120 s replay window)
//! and duplicate grants (more than one `tokens` row for a request, or two
//! different token responses received for one `auth_req_id`), and asserts
//! that both are zero, that no answer was a 5xx and that SQLite is intact.
//!
//! The second test does the same with two instances on one PostgreSQL
//! database (a throwaway cluster) behind a TCP load balancer in the test,
//! killing either instance each time, and also checks that no request was
//! decided twice and that the audit log is one unbroken chain.
//!
//! `#[ignore]`d (it takes a few minutes):
//!
//! ```sh
//! cargo test -p countersign-server --test chaos -- --ignored --nocapture
//! ```
//!
//! `COUNTERSIGN_CHAOS_FLOWS` (poll flows at least, default 300),
//! `COUNTERSIGN_CHAOS_KILLS` (kills at least, default 30) and
//! `COUNTERSIGN_CHAOS_SECS` (longest run, default 300) change the run;
//! `COUNTERSIGN_CHAOS_REPLAY_WINDOW=0` runs the server without replays, the
//! control: it must fail with lost tokens. Every connection goes to
//! 127.0.0.1. Figures: `docs/performance.md`.

mod common;

use common::*;
use countersign_protocol::device::{ApproverRequest, Decision, HttpMethod, RequestList};
use countersign_server::Clock as _;
use countersign_server::SystemClock;
use ring::rand::SecureRandom as _;
use serde_json::{json, Value};
use sqlx::Row as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Poll workers (one user, device and client each) and push workers.
const POLL_WORKERS: usize = 4;
const PUSH_WORKERS: usize = 1;
/// The replay window of the server (its default) and the time an approved
/// flow has to obtain its token.
const WINDOW: Duration = Duration::from_secs(120);
/// Time a flow step keeps retrying through restarts.
const STEP: Duration = Duration::from_secs(60);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rand_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut b).expect("rng");
    u64::from_le_bytes(b) % n.max(1)
}

fn now() -> u64 {
    SystemClock.now()
}

/// An HTTP client that gives up on a dead server quickly. With `fresh`, a
/// new connection for every request, so that a load balancer that picks an
/// instance per connection spreads the requests (a kept-alive connection
/// would stay with one instance until it dies).
fn client(fresh: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(15));
    let builder = if fresh { builder.pool_max_idle_per_host(0) } else { builder };
    builder.build().expect("client")
}

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

struct Server {
    child: Option<Child>,
    /// Copies its standard error to `log` (and aims the kills).
    watch: Option<std::thread::JoinHandle<()>>,
    aim: Arc<Aim>,
    /// `--db` and `--secret-key-file`.
    global: Vec<std::ffi::OsString>,
    log: PathBuf,
    listen: String,
    /// Its own address (`http://127.0.0.1:<port>`).
    base: String,
    /// The issuer: its own address, or the load balancer's in front of
    /// several instances.
    issuer: String,
}

impl Server {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
            .args(&self.global)
            .args(["serve", "--listen", &self.listen, "--issuer", &self.issuer])
            // The agents' payments are critical; the test devices sign with
            // their device key alone (WebAuthn has tests of its own).
            .args(["--webauthn-at", "never"])
            .args(["--user-rate-limit", "0", "--client-rate-limit", "0", "--unverified-rate-limit", "0"])
            .args(["--max-pending-per-user", "0", "--danger-allow-http-loopback-notifications"])
            .args(
                std::env::var("COUNTERSIGN_CHAOS_REPLAY_WINDOW")
                    .map(|w| vec!["--token-replay-window".to_owned(), w])
                    .unwrap_or_default(),
            )
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut child = child;
        if let Some(stderr) = child.stderr.take() {
            self.watch = Some(watch_log(stderr, child.id(), log, self.aim.clone()));
        }
        self.child = Some(child);
    }

    async fn wait_ready(&self) {
        let http = client(false);
        let start = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/jwks", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the server did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9` (unless it is dead already), and reap it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(w) = self.watch.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// Tallies
// ---------------------------------------------------------------------------

/// Aiming the kills (see the module documentation).
#[derive(Default)]
struct Aim {
    /// A kill is due: the next `tokens issued` line fires it.
    armed: AtomicBool,
    /// The kill landed.
    fired: tokio::sync::Notify,
}

/// Copies the server's standard error to `log`, line by line; when a kill
/// is due and a line says `tokens issued`, kills the server (`pid`) at once.
fn watch_log(
    stderr: std::process::ChildStderr,
    pid: u32,
    mut log: std::fs::File,
    aim: Arc<Aim>,
) -> std::thread::JoinHandle<()> {
    use std::io::{BufRead as _, Write as _};
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("tokens issued") && aim.armed.swap(false, Ordering::SeqCst) {
                if let Ok(pid) = i32::try_from(pid) {
                    // SAFETY: kill(2) of our own child, not yet reaped: the
                    // killer waits for `fired` before it reaps it.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                aim.fired.notify_one();
            }
            let _ = writeln!(log, "{line}");
        }
    })
}

#[derive(Default)]
struct Tally {
    poll_flows: AtomicUsize,
    push_flows: AtomicUsize,
    deliberate_repeats: AtomicUsize,
    /// Requests that failed at the transport (the server died or was down).
    cut: AtomicUsize,
    cut_token_requests: AtomicUsize,
    server_errors: AtomicUsize,
    /// Unexpected answers (described).
    anomalies: Mutex<Vec<String>>,
    /// Approved flows whose token never came.
    lost: Mutex<Vec<String>>,
    /// Every token response (poll) or pushed body received, per auth_req_id.
    received: Mutex<BTreeMap<String, Vec<Vec<u8>>>>,
    /// Poll flows whose first token request was cut and which did not repeat
    /// on purpose, by auth_req_id.
    cut_flows: Mutex<BTreeSet<String>>,
}

impl Tally {
    fn anomaly(&self, what: String) {
        self.anomalies.lock().unwrap().push(what);
    }
}

/// Sends `send()` until it gets an HTTP answer below 500 or `within` passes.
async fn until_answered<F, Fut>(tally: &Tally, within: Duration, mut send: F) -> Option<reqwest::Response>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        match send().await {
            Ok(r) if r.status().is_server_error() => {
                tally.server_errors.fetch_add(1, Ordering::SeqCst);
                tally.anomaly(format!("answered {}", r.status()));
            }
            Ok(r) => return Some(r),
            Err(_) => {
                tally.cut.fetch_add(1, Ordering::SeqCst);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn agent_post(agent: &Agent, path: &str, form: &[(&str, &str)]) -> Result<reqwest::Response, reqwest::Error> {
    let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    agent.send(path, &form, 0).await
}

/// Starts a request; returns its `auth_req_id` and binding message. A cut
/// attempt may have created a request (never approved: it expires); the
/// next attempt uses a new binding message.
async fn start(tally: &Tally, agent: &Agent, user: &str, tag: &str) -> Option<(String, String)> {
    let deadline = Instant::now() + STEP;
    let mut attempt = 0;
    while Instant::now() < deadline {
        attempt += 1;
        let bm = format!("{tag}-{attempt}");
        let details = details().to_string();
        let form = [
            ("scope", "openid payments"),
            ("login_hint", user),
            ("binding_message", bm.as_str()),
            ("authorization_details", details.as_str()),
            ("client_notification_token", "cnt-0123456789abcdefghijklmnop"),
        ];
        match agent_post(agent, "/bc-authorize", &form).await {
            Ok(r) if r.status() == 200 => {
                let ack: Value = r.json().await.ok()?;
                return Some((ack["auth_req_id"].as_str()?.to_owned(), bm));
            }
            Ok(r) if r.status().is_server_error() => {
                tally.server_errors.fetch_add(1, Ordering::SeqCst);
                tally.anomaly(format!("bc-authorize answered {}", r.status()));
            }
            Ok(r) => {
                tally.anomaly(format!("bc-authorize answered {}", r.status()));
                return None;
            }
            Err(_) => {
                tally.cut.fetch_add(1, Ordering::SeqCst);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn device_get(dev: &TestDevice, path: &str) -> Result<reqwest::Response, reqwest::Error> {
    let url = format!("{}{path}", dev.endpoint);
    let proof = dev.proof(HttpMethod::Get, &url, now());
    dev.http.get(&url).header("Authorization", format!("Device {proof}")).send().await
}

/// The pending request with binding message `bm`, as the device lists it
/// (following the pages); the listing is retried while the server restarts.
async fn find_pending(tally: &Tally, dev: &TestDevice, bm: &str) -> Option<ApproverRequest> {
    let deadline = Instant::now() + STEP;
    'listing: while Instant::now() < deadline {
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/requests?status=pending&limit=20&cursor={c}"),
                None => "/requests?status=pending&limit=20".to_owned(),
            };
            let r = until_answered(tally, STEP, || device_get(dev, &path)).await?;
            let Ok(list) = r.json::<RequestList>().await else {
                // The body was cut (or was not a list): list again.
                tally.cut.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue 'listing;
            };
            if let Some(req) = list.requests.into_iter().find(|r| r.binding_message == bm) {
                return Some(req);
            }
            match list.next_cursor {
                Some(next) => cursor = Some(next),
                None => break 'listing,
            }
        }
    }
    tally.anomaly(format!("request {bm} not pending"));
    None
}

/// The device finds the request with binding message `bm` and approves it;
/// `true` once the server answered that it is approved (a decision cut by a
/// kill is sent again: the server answers an identical one as recorded).
async fn approve(tally: &Tally, dev: &TestDevice, bm: &str) -> bool {
    let Some(req) = find_pending(tally, dev, bm).await else { return false };
    let url = format!("{}/requests/{}/decision", dev.endpoint, req.id);
    let answer = until_answered(tally, STEP, || {
        let body = dev.submission(&req, Decision::Approve, None, now());
        let proof = dev.proof(HttpMethod::Post, &url, now());
        dev.http.post(&url).header("Authorization", format!("Device {proof}")).json(&body).send()
    })
    .await;
    match answer {
        Some(r) if r.status() == 200 => true,
        Some(r) => {
            tally.anomaly(format!("decision on {bm} answered {}", r.status()));
            false
        }
        None => false,
    }
}

/// Redeems `auth_req_id` until a token response comes, within the window.
/// `None` when the token is lost (`invalid_grant`, `expired_token`, or the
/// window passed).
async fn redeem(tally: &Tally, agent: &Agent, auth_req_id: &str, cut: &mut bool) -> Option<Vec<u8>> {
    let start = Instant::now();
    let form = [("grant_type", "urn:openid:params:grant-type:ciba"), ("auth_req_id", auth_req_id)];
    while start.elapsed() < WINDOW {
        match agent_post(agent, "/token", &form).await {
            Ok(r) if r.status() == 200 => match r.bytes().await {
                Ok(b) => return Some(b.to_vec()),
                Err(_) => *cut = true,
            },
            Ok(r) if r.status().is_server_error() => {
                tally.server_errors.fetch_add(1, Ordering::SeqCst);
                tally.anomaly(format!("token answered {}", r.status()));
            }
            Ok(r) => {
                let body: Value = r.json().await.unwrap_or_default();
                if body["error"] == "authorization_pending" || body["error"] == "slow_down" {
                    tally.anomaly(format!("token: {body} after the approval"));
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                tally.anomaly(format!("token: {body}"));
                return None;
            }
            Err(_) => {
                tally.cut.fetch_add(1, Ordering::SeqCst);
                tally.cut_token_requests.fetch_add(1, Ordering::SeqCst);
                *cut = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn poll_flow(tally: &Tally, agent: &Agent, dev: &TestDevice, user: &str, tag: &str, repeat: bool) {
    let Some((auth_req_id, bm)) = start(tally, agent, user, tag).await else { return };
    if !approve(tally, dev, &bm).await {
        return;
    }
    let mut cut = false;
    let Some(body) = redeem(tally, agent, &auth_req_id, &mut cut).await else {
        tally.lost.lock().unwrap().push(auth_req_id);
        return;
    };
    tally.received.lock().unwrap().entry(auth_req_id.clone()).or_default().push(body);
    if repeat {
        tally.deliberate_repeats.fetch_add(1, Ordering::SeqCst);
        let mut cut_again = false;
        match redeem(tally, agent, &auth_req_id, &mut cut_again).await {
            Some(again) => tally.received.lock().unwrap().entry(auth_req_id).or_default().push(again),
            None => tally.lost.lock().unwrap().push(auth_req_id),
        }
    } else if cut {
        tally.cut_flows.lock().unwrap().insert(auth_req_id);
    }
    tally.poll_flows.fetch_add(1, Ordering::SeqCst);
}

async fn push_flow(tally: &Tally, agent: &Agent, dev: &TestDevice, sink: &PushSink, user: &str, tag: &str) {
    let Some((auth_req_id, bm)) = start(tally, agent, user, tag).await else { return };
    if !approve(tally, dev, &bm).await {
        return;
    }
    let start = Instant::now();
    let mine = |c: &SinkCall| {
        serde_json::from_str::<Value>(&c.body).ok().is_some_and(|v| v["auth_req_id"] == auth_req_id.as_str())
    };
    while start.elapsed() < WINDOW {
        if sink.delivered().iter().any(mine) {
            tally.push_flows.fetch_add(1, Ordering::SeqCst);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tally.lost.lock().unwrap().push(auth_req_id);
}

/// `text` without ANSI escape sequences (the server colours its log fields).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `request_id`s of the "token response replayed" lines of the server logs.
fn replayed_in(log: &Path) -> Vec<String> {
    let text = strip_ansi(&std::fs::read_to_string(log).unwrap_or_default());
    text.lines()
        .filter_map(|l| l.split("token response replayed").nth(1))
        .filter_map(|rest| rest.split("request_id=").nth(1))
        .map(|id| id.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

/// A TCP load balancer on loopback, as in front of several instances: each
/// connection goes to a random one of `backends`, or to the next one when
/// that one refuses (it is down); a backend killed mid-connection resets
/// its connections, and the clients' next connections go to one that is up.
async fn balance(listener: tokio::net::TcpListener, backends: Vec<String>) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let backends = backends.clone();
        tokio::spawn(async move {
            let first = usize::try_from(rand_below(backends.len() as u64)).unwrap_or(0);
            for i in 0..backends.len() {
                let backend = &backends[(first + i) % backends.len()];
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
        });
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos run of a few minutes: cargo test -p countersign-server --test chaos -- --ignored --nocapture"]
async fn kill_9_loses_no_token_and_grants_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chaos.db");
    let location = countersign_server::ops::Location::Sqlite(db.clone());
    chaos(dir.path(), location, 1, POLL_WORKERS, 300).await;
}

/// The same with two instances on one PostgreSQL database behind a load
/// balancer, either of them killed each time: a flow goes on through the
/// other (the agent's and the device's requests each reach whichever
/// instance the balancer picks). `COUNTERSIGN_CHAOS_FLOWS` defaults to
/// 1,000 here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos run of a few minutes on PostgreSQL: cargo test -p countersign-server --test chaos -- --ignored"]
async fn two_instances_on_postgres_killed_in_turn_lose_no_token_and_grant_none_twice() {
    let cluster = countersign_server::testing::postgres::PostgresCluster::start().await.unwrap();
    let url = cluster.create_database("chaos").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let location = countersign_server::ops::Location::parse(&url);
    chaos(dir.path(), location, 2, 2 * POLL_WORKERS, 1000).await;
}

/// The chaos run on `location` with `instances` servers (behind a load
/// balancer when more than one), `poll_workers` poll lanes and one push
/// lane, at least `default_flows` poll flows.
async fn chaos(
    dir: &Path,
    location: countersign_server::ops::Location,
    instances: usize,
    poll_workers: usize,
    default_flows: u64,
) {
    let min_flows = env_or("COUNTERSIGN_CHAOS_FLOWS", default_flows) as usize;
    let min_kills = env_or("COUNTERSIGN_CHAOS_KILLS", 30) as usize;
    let max_secs = env_or("COUNTERSIGN_CHAOS_SECS", 300);

    let key_file = dir.join("secret-key");
    let db_arg: std::ffi::OsString = match &location {
        countersign_server::ops::Location::Sqlite(path) => path.clone().into(),
        countersign_server::ops::Location::Postgres(url) => url.secret().into(),
    };
    let global = vec!["--db".into(), db_arg, "--secret-key-file".into(), key_file.clone().into_os_string()];
    let ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
    let base = if instances == 1 {
        format!("http://127.0.0.1:{}", ports[0])
    } else {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(balance(listener, ports.iter().map(|p| format!("127.0.0.1:{p}")).collect()));
        base
    };
    let issuer = countersign_protocol::device::Issuer::new(base.clone()).unwrap();

    // Users and enrollment tickets, through the library, before the first start.
    let workers = poll_workers + PUSH_WORKERS;
    let mut tickets = Vec::new();
    {
        let pool = location.open().await.unwrap();
        for w in 0..workers {
            let user = countersign_server::ops::NewUser {
                username: format!("chaos{w}"),
                name: format!("Chaos {w}"),
                email: None,
                admin: false,
            };
            countersign_server::ops::add_user(&pool, &user, &countersign_server::ops::Actor::Operator, now())
                .await
                .unwrap();
            let link = countersign_server::ops::enrollment_link(&pool, &issuer, &format!("chaos{w}"), 600, now())
                .await
                .unwrap();
            tickets.push(link.ticket().clone());
        }
        pool.close().await;
    }
    let mut servers: Vec<Server> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| Server {
            child: None,
            watch: None,
            aim: Arc::new(Aim::default()),
            global: global.clone(),
            log: dir.join(format!("server-{i}.log")),
            listen: format!("127.0.0.1:{port}"),
            base: format!("http://127.0.0.1:{port}"),
            issuer: base.clone(),
        })
        .collect();
    for server in &mut servers {
        server.spawn();
        server.wait_ready().await;
    }

    let sink = Arc::new(PushSink::start().await);
    let mut lanes = Vec::new();
    for (w, ticket) in tickets.into_iter().enumerate() {
        let mut dev = TestDevice::enroll_at(&base, ticket).await;
        dev.http = client(instances > 1);
        let extra = if w < poll_workers {
            json!({})
        } else {
            json!({
                "backchannel_token_delivery_mode": "push",
                "backchannel_client_notification_endpoint": format!("{}/cb", sink.url),
            })
        };
        let mut agent = Agent::register_at(&base, extra).await;
        agent.http = client(instances > 1);
        lanes.push((w, Arc::new(dev), Arc::new(agent)));
    }

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for (w, dev, agent) in lanes {
        let (tally, stop, sink) = (tally.clone(), stop.clone(), sink.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let (user, tag) = (format!("chaos{w}"), format!("CHAOS-{w}-{n}"));
                if w < poll_workers {
                    poll_flow(&tally, &agent, &dev, &user, &tag, rand_below(3) == 0).await;
                } else {
                    push_flow(&tally, &agent, &dev, &sink, &user, &tag).await;
                }
            }
        }));
    }

    // The killer: every 2 to 7 s a kill of one instance (either, at
    // random) is due; it lands at that instance's next `tokens issued` (or
    // at once when none comes within 2 s); then it is restarted and waited
    // for.
    let (mut kills, mut aimed_kills) = (0usize, 0usize);
    let mut killed_per_instance = vec![0usize; instances];
    loop {
        let enough = tally.poll_flows.load(Ordering::SeqCst) >= min_flows && kills >= min_kills;
        if enough || began.elapsed() >= Duration::from_secs(max_secs) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2000 + rand_below(5001))).await;
        // Either instance at random; in the second half of the kills one
        // not yet killed, so that each is killed at least once.
        let spared = killed_per_instance.iter().position(|n| *n == 0).filter(|_| kills * 2 >= min_kills);
        let victim = spared.unwrap_or_else(|| usize::try_from(rand_below(instances as u64)).unwrap_or(0));
        let server = &mut servers[victim];
        let aim = server.aim.clone();
        aim.armed.store(true, Ordering::SeqCst);
        let landed = tokio::time::timeout(Duration::from_secs(2), aim.fired.notified()).await.is_ok();
        if landed {
            aimed_kills += 1;
        } else if !aim.armed.swap(false, Ordering::SeqCst) {
            // Taken just now: its kill is on its way.
            aim.fired.notified().await;
            aimed_kills += 1;
        }
        server.kill();
        kills += 1;
        killed_per_instance[victim] += 1;
        server.spawn();
        server.wait_ready().await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = began.elapsed();
    for server in &mut servers {
        server.kill();
    }

    // The database after the last kill.
    let pool = location.open().await.unwrap();
    let integrity: String = match &location {
        countersign_server::ops::Location::Sqlite(_) => {
            sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await.unwrap()
        }
        countersign_server::ops::Location::Postgres(_) => "ok (PostgreSQL)".to_owned(),
    };
    // One decision per request (the first wins), and the log one chain.
    let decided_twice: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT target, COUNT(*) FROM audit_log WHERE action = 'request.decided' GROUP BY target HAVING COUNT(*) > 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let chain = countersign_server::audit::verify(&pool).await.unwrap();
    let duplicate_rows: Vec<(String, i64)> =
        sqlx::query("SELECT request_id, COUNT(*) AS n FROM tokens GROUP BY request_id HAVING COUNT(*) > 1")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("request_id"), r.get("n")))
            .collect();
    let received = tally.received.lock().unwrap().clone();
    // Pushed bodies too, per auth_req_id (a repeat of the same bytes is the
    // documented crash-between-2xx-and-commit case, not a second grant).
    let mut pushed: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for c in sink.delivered() {
        if let Ok(v) = serde_json::from_str::<Value>(&c.body) {
            if let Some(id) = v["auth_req_id"].as_str() {
                pushed.entry(id.to_owned()).or_default().push(c.body.into_bytes());
            }
        }
    }
    let differing =
        received.values().chain(pushed.values()).filter(|bodies| bodies.iter().any(|b| *b != bodies[0])).count();
    let push_repeats = pushed.values().map(|b| b.len().saturating_sub(1)).sum::<usize>();
    let mut tokens_per_flow_ok = 0;
    for id in received.keys().chain(pushed.keys()) {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tokens t JOIN auth_requests r ON r.request_id = t.request_id \
             WHERE r.auth_req_id_hash = $1",
        )
        .bind(countersign_server::testing::auth_req_id_key(id))
        .fetch_one(&pool)
        .await
        .unwrap();
        if n == 1 {
            tokens_per_flow_ok += 1;
        }
    }
    // Cut first token requests answered by a replay: the kill fell between
    // the redemption commit and the response (the issue's case).
    let replayed: Vec<String> = servers.iter().flat_map(|s| replayed_in(&s.log)).collect();
    let replayed_ids: BTreeSet<&String> = replayed.iter().collect();
    let mut recovered_by_replay = 0;
    let cut_flows = tally.cut_flows.lock().unwrap().clone();
    for id in &cut_flows {
        let request_id: Option<String> =
            sqlx::query_scalar("SELECT request_id FROM auth_requests WHERE auth_req_id_hash = $1")
                .bind(countersign_server::testing::auth_req_id_key(id))
                .fetch_optional(&pool)
                .await
                .unwrap();
        if request_id.is_some_and(|r| replayed_ids.contains(&r)) {
            recovered_by_replay += 1;
        }
    }
    pool.close().await;

    let issued_per_instance: Vec<usize> = servers
        .iter()
        .map(|server| {
            strip_ansi(&std::fs::read_to_string(&server.log).unwrap_or_default()).matches("tokens issued").count()
        })
        .collect();
    println!("redemptions by instance: {issued_per_instance:?}");
    let lost = tally.lost.lock().unwrap().len();
    let anomalies = tally.anomalies.lock().unwrap().clone();
    println!(
        "chaos run ({instances} instance(s) on {location}): {:.0} s, {kills} kills (SIGKILL every 2-7 s, by \
         instance {killed_per_instance:?}; {aimed_kills} of them right after a redemption commit)",
        elapsed.as_secs_f64()
    );
    println!(
        "flows: {} poll ({} with a deliberate repeat of the token request), {} push",
        tally.poll_flows.load(Ordering::SeqCst),
        tally.deliberate_repeats.load(Ordering::SeqCst),
        tally.push_flows.load(Ordering::SeqCst)
    );
    println!(
        "requests cut by a kill: {} ({} token requests); poll flows whose token request was cut: {}, of them \
         answered by a replay after the restart: {recovered_by_replay}",
        tally.cut.load(Ordering::SeqCst),
        tally.cut_token_requests.load(Ordering::SeqCst),
        tally.cut_flows.lock().unwrap().len()
    );
    println!("replays logged by the server: {} (deliberate repeats and cut requests)", replayed.len());
    println!("push deliveries repeated with the same bytes: {push_repeats}");
    println!(
        "lost tokens: {lost}; duplicate grants: {} (tokens rows) + {differing} (different responses); \
         5xx answers: {}; flows with exactly one tokens row: {tokens_per_flow_ok} of {}; database: {integrity}",
        duplicate_rows.len(),
        tally.server_errors.load(Ordering::SeqCst),
        received.len() + pushed.len()
    );
    if !anomalies.is_empty() {
        println!("anomalies ({}): {:?}", anomalies.len(), &anomalies[..anomalies.len().min(20)]);
    }

    assert!(tally.poll_flows.load(Ordering::SeqCst) >= min_flows, "fewer poll flows than asked");
    assert!(kills >= min_kills, "fewer kills than asked: {kills}");
    assert!(killed_per_instance.iter().all(|n| *n > 0), "an instance never killed: {killed_per_instance:?}");
    // Every instance issued tokens: the balancer spread the flows.
    assert!(issued_per_instance.iter().all(|n| *n > 0), "an instance issued no tokens: {issued_per_instance:?}");
    assert_eq!(lost, 0, "lost tokens");
    assert!(duplicate_rows.is_empty(), "requests with more than one grant: {duplicate_rows:?}");
    assert_eq!(differing, 0, "an auth_req_id answered with different tokens");
    assert_eq!(tokens_per_flow_ok, received.len() + pushed.len(), "a flow without its one tokens row");
    assert_eq!(tally.server_errors.load(Ordering::SeqCst), 0, "5xx answers: {anomalies:?}");
    assert!(integrity.starts_with("ok"), "{integrity}");
    assert!(decided_twice.is_empty(), "requests decided twice: {decided_twice:?}");
    assert!(chain.is_ok(), "the audit log: {chain:?}");
    println!("decisions recorded twice: 0; audit log: {chain:?}");
}
