//! Server load benchmark (not a timed test): `cargo bench -p countersign-server --bench load`.
//!
//! Three phases, each on a fresh in-process server (`countersign_server::testing`:
//! a real socket on 127.0.0.1, a SQLite file in a temporary directory, the
//! production settings except where a phase says otherwise), driven over
//! loopback HTTP/1.1 by reqwest clients in the same process and runtime:
//!
//! 1. `/bc-authorize` accepted requests per second: several clients and users,
//!    the per-user and per-client limits and the pending cap raised (not
//!    disabled) so the rate-limit queries still run; then (1b) again once
//!    every user has 5,000 past requests.
//! 2. `/token` polls per second with 1,000 pending requests: the poll interval
//!    is configured to 0 s, so every poll is a compliant one and is answered
//!    `authorization_pending` (the work of a poll that honours `interval`).
//! 3. Push latency with 1,000 devices connected: 1,000 users, each with one
//!    enrolled device holding an open SSE stream; time from the `/bc-authorize`
//!    200 reaching the agent to the `request` event reaching the device.
//!
//! 4. The same with two instances on one database: the requests made through
//!    the first, the devices' streams held by the second (PostgreSQL only:
//!    run the bench under `countersign-test-postgres --durable --`, which
//!    puts every phase's server on a throwaway cluster).
//!
//! Bounded in count and time (about a minute of measurement). Knobs:
//! `COUNTERSIGN_BENCH_SECS` (measured seconds of phases 1 and 2, default 10),
//! `COUNTERSIGN_BENCH_DEVICES` (phase 3, default 1000),
//! `COUNTERSIGN_BENCH_PENDING` (phase 2, default 1000),
//! `COUNTERSIGN_BENCH_PHASES` (which phases, default `1,2,3,4`).

use countersign_protocol::device::{
    DeviceAuthClaims, DeviceEvent, DeviceId, EnrollmentRequest, EnrollmentResponse, HttpMethod, Issuer, Platform,
};
use countersign_protocol::jws::DeviceKeyPair;
use countersign_server::ops::NewUser;
use countersign_server::testing::{
    self, details, http, new_user, spawn_test_server, TestOptions, TestServer, CIBA_GRANT,
};
use countersign_server::Config;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// In-flight requests of phases 1 and 2.
const CONCURRENCY: usize = 32;
/// Unmeasured run before phases 1 and 2.
const WARMUP: Duration = Duration::from_secs(2);
/// Longest any phase may take before the bench gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(90);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not:
    // then only check that the bench builds.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load: run with `cargo bench -p countersign-server --bench load`");
        return;
    }
    let devices = usize::try_from(env_u64("COUNTERSIGN_BENCH_DEVICES", 1000)).unwrap_or(1000);
    let nofile = raise_nofile(u64::try_from(devices).unwrap_or(u64::MAX).saturating_mul(2).saturating_add(1024));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "machine: {} cores, Linux {}, tokio worker threads {}, RLIMIT_NOFILE {nofile}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
    let started = Instant::now();
    rt.block_on(async {
        let secs = Duration::from_secs(env_u64("COUNTERSIGN_BENCH_SECS", 10));
        let pending = usize::try_from(env_u64("COUNTERSIGN_BENCH_PENDING", 1000)).unwrap_or(1000);
        let phases = std::env::var("COUNTERSIGN_BENCH_PHASES").unwrap_or_else(|_| "1,2,3,4".into());
        let run = |p: &str| phases.split(',').any(|x| x.trim() == p);
        if run("1") {
            phase(bc_authorize_throughput(secs)).await;
        }
        if run("2") {
            phase(token_poll_throughput(pending, secs)).await;
        }
        if run("3") {
            phase(push_latency(devices, false)).await;
        }
        if run("4") {
            if std::env::var_os(testing::ENV_POSTGRES).is_some() {
                phase(push_latency(devices, true)).await;
            } else {
                println!(
                    "4. push latency across instances: skipped (PostgreSQL only: run under countersign-test-postgres)"
                );
            }
        }
    });
    println!("total {:.1} s", started.elapsed().as_secs_f64());
}

async fn phase<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(PHASE_LIMIT, f).await.expect("phase took too long");
}

/// Raises the soft `RLIMIT_NOFILE` to `want` (at most the hard limit);
/// returns the soft limit in force.
fn raise_nofile(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < want {
            let new = libc::rlimit { rlim_cur: want.min(lim.rlim_max), rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
                lim.rlim_cur = new.rlim_cur;
            }
        }
        lim.rlim_cur
    }
}

/// A server with production settings (the test helper's fast sweeps undone)
/// plus `f`.
async fn server(f: impl FnOnce(&mut Config) + Send + 'static) -> TestServer {
    spawn_test_server(TestOptions::with_config(move |c| {
        c.sweep_interval = Duration::from_secs(1);
        c.danger_allow_http_loopback_notifications = false;
        c.danger_allow_http_loopback_jwks_uri = false;
        f(c);
    }))
    .await
    .expect("server")
}

async fn add_users(server: &TestServer, prefix: &str, n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let username = format!("{prefix}{i}");
        let email = Some(format!("{username}@example.com"));
        server.create_user(&NewUser { email, ..new_user(&username, &format!("User {i}")) }).await;
        names.push(username);
    }
    names
}

// ---------------------------------------------------------------------------
// Agent
// ---------------------------------------------------------------------------

/// The shared test agent (`client_secret_basic`, poll mode, payments), and
/// the details every request carries.
#[derive(Clone)]
struct Agent {
    agent: testing::Agent,
    details: String,
}

impl Agent {
    async fn register(server: &TestServer, n: usize) -> Agent {
        let meta = json!({
            "client_name": format!("Bench agent {n}"),
            "grant_types": [CIBA_GRANT],
            "token_endpoint_auth_method": "client_secret_basic",
            "backchannel_token_delivery_mode": "poll",
            "authorization_details_types": ["payment_initiation"],
        });
        Agent { agent: testing::Agent::register(server, meta).await, details: details().to_string() }
    }

    /// `POST /bc-authorize`; the `auth_req_id` or the HTTP status.
    async fn bc_authorize(&self, login_hint: &str, binding_message: &str) -> Result<String, u16> {
        let form = [
            ("scope", "openid payments".to_owned()),
            ("login_hint", login_hint.to_owned()),
            ("binding_message", binding_message.to_owned()),
            ("authorization_details", self.details.clone()),
        ];
        self.agent.try_authorize(&form).await
    }

    /// `POST /token`; the `error` code (or `"200"` for tokens).
    async fn poll(&self, auth_req_id: &str) -> String {
        let form = [("grant_type", CIBA_GRANT.to_owned()), ("auth_req_id", auth_req_id.to_owned())];
        let Ok(resp) = self.agent.send("/token", &form, 0).await else { return "transport".into() };
        if resp.status() == 200 {
            return "200".into();
        }
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        body["error"].as_str().unwrap_or("?").to_owned()
    }
}

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/// The `p` quantile (0..=1) of sorted `v`, nearest rank.
fn quantile<T: Copy + Default>(v: &[T], p: f64) -> T {
    if v.is_empty() {
        return T::default();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[allow(clippy::cast_precision_loss)]
fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Runs `CONCURRENCY` workers calling `op(worker, i)` for [`WARMUP`] then
/// `secs`; returns the measured outcomes (label, latency) and the measured time.
async fn closed_loop<F, Fut>(secs: Duration, op: F) -> (Vec<(String, Duration)>, Window)
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = String> + Send + 'static,
{
    let op = Arc::new(op);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (op, measuring, stop) = (op.clone(), measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let label = op(w, i).await;
                if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    out.push((label, t.elapsed()));
                }
                i += 1;
            }
            out
        }));
    }
    tokio::time::sleep(WARMUP).await;
    measuring.store(true, Ordering::Relaxed);
    let (t0, cpu0) = (Instant::now(), cpu_time());
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    let window = Window { elapsed: t0.elapsed(), cpu: cpu_time().saturating_sub(cpu0) };
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("worker"));
    }
    (all, window)
}

/// A measured window: wall time and the CPU time (user + system) of the
/// whole process, server and load generator together.
#[derive(Clone, Copy)]
struct Window {
    elapsed: Duration,
    cpu: Duration,
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return Duration::ZERO;
        }
        u
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn report(what: &str, ok_label: &str, results: &[(String, Duration)], window: Window) {
    let elapsed = window.elapsed;
    let mut ok: Vec<Duration> = results.iter().filter(|(l, _)| l == ok_label).map(|(_, d)| *d).collect();
    ok.sort();
    let mut others: HashMap<&str, usize> = HashMap::new();
    for (l, _) in results.iter().filter(|(l, _)| l != ok_label) {
        *others.entry(l.as_str()).or_default() += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let cpu_us = window.cpu.as_secs_f64() * 1e6 / ok.len().max(1) as f64;
    println!(
        "{what}: {:.0}/s ({} {ok_label} in {:.1} s, {CONCURRENCY} in flight), latency p50 {:.2} ms, p99 {:.2} ms, \
         process CPU {cpu_us:.0} µs each; other answers: {others:?}",
        per_sec(ok.len(), elapsed),
        ok.len(),
        elapsed.as_secs_f64(),
        ms(quantile(&ok, 0.50)),
        ms(quantile(&ok, 0.99)),
    );
}

async fn count_rows(server: &TestServer, table: &str) -> i64 {
    use sqlx::Row as _;
    sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(&server.state.db)
        .await
        .and_then(|r| r.try_get("n"))
        .unwrap_or(-1)
}

// ---------------------------------------------------------------------------
// Phase 1: /bc-authorize
// ---------------------------------------------------------------------------

async fn bc_authorize_throughput(secs: Duration) {
    const CLIENTS: usize = 8;
    const USERS: usize = 64;
    // Raised, not off: the counts still run. The pending cap too, or each
    // user's 20 places fill in the first second and the rest is refusals.
    let server = server(|c| {
        c.limits.user_per_minute = 1_000_000;
        c.limits.client_per_minute = 1_000_000;
        c.limits.max_pending_per_user = 1_000_000;
    })
    .await;
    let users = Arc::new(add_users(&server, "load", USERS).await);
    let mut agents = Vec::new();
    for n in 0..CLIENTS {
        agents.push(Agent::register(&server, n).await);
    }
    let agents = Arc::new(agents);
    let load = move |w: usize, i: usize| {
        let agent = agents[(w + i) % CLIENTS].clone();
        let user = users[(w * 7 + i) % USERS].clone();
        async move {
            match agent.bc_authorize(&user, "PAY-4F7Q").await {
                Ok(_) => "200".to_owned(),
                Err(s) => s.to_string(),
            }
        }
    };
    let (results, elapsed) = closed_loop(secs, load.clone()).await;
    report(&format!("1a. /bc-authorize ({CLIENTS} clients, {USERS} users)"), "200", &results, elapsed);
    println!("   (auth_requests rows at the end: {})", count_rows(&server, "auth_requests").await);

    // The same load once the users have a history: past, decided requests
    // (rows are never deleted), copied from the ones just made.
    let t = Instant::now();
    let history = seed_history(&server, HISTORY_PER_USER * USERS).await;
    println!("   ({history} past requests added, {} per user, in {:.1} s)", history / USERS, t.elapsed().as_secs_f64());
    let (results, elapsed) = closed_loop(secs, load).await;
    report(
        &format!("1b. /bc-authorize, same, each user with {} past requests", history / USERS),
        "200",
        &results,
        elapsed,
    );
    server.stop().await;
}

/// Past requests per user for phase 1b (some 10 agent requests a day for a
/// year and a half).
const HISTORY_PER_USER: usize = 5_000;

/// Adds at least `want` past requests (decided, a month and more ago) by
/// copying the existing rows with new ids, whatever the table's columns;
/// returns how many were added.
async fn seed_history(server: &TestServer, want: usize) -> usize {
    use sqlx::Row as _;
    async fn run(conn: &mut sqlx::AnyConnection, sql: &str) {
        sqlx::query(sql).execute(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let mut conn = server.state.db.acquire().await.expect("connection");
    run(&mut conn, "CREATE TEMP TABLE hist AS SELECT * FROM auth_requests").await;
    run(
        &mut conn,
        "UPDATE hist SET status = 'approved', decision = 'approve', created_at = created_at - 2592000, \
         created_ms = created_ms - 2592000000, expires_at = expires_at - 2592000, \
         decided_at = created_at - 2592000, redeemed_at = created_at - 2592000",
    )
    .await;
    let base: i64 = sqlx::query("SELECT COUNT(*) AS n FROM hist")
        .fetch_one(&mut *conn)
        .await
        .and_then(|r| r.try_get("n"))
        .expect("count");
    let base = usize::try_from(base).unwrap_or(0).max(1);
    let mut added = 0;
    while added < want {
        run(
            &mut conn,
            "UPDATE hist SET request_id = request_id || 'h', auth_req_id_hash = auth_req_id_hash || 'h', \
             created_at = created_at - 3600, created_ms = created_ms - 3600000, expires_at = expires_at - 3600, \
             decided_at = decided_at - 3600, redeemed_at = redeemed_at - 3600",
        )
        .await;
        run(&mut conn, "INSERT INTO auth_requests SELECT * FROM hist").await;
        added += base;
    }
    run(&mut conn, "DROP TABLE hist").await;
    added
}

// ---------------------------------------------------------------------------
// Phase 2: /token with pending requests
// ---------------------------------------------------------------------------

async fn token_poll_throughput(pending: usize, secs: Duration) {
    const CLIENTS: usize = 4;
    const USERS: usize = 100;
    let server = server(|c| {
        c.poll_interval_secs = 0;
        c.limits.user_per_minute = 1_000_000;
        c.limits.client_per_minute = 1_000_000;
        c.default_expiry_secs = 3600;
    })
    .await;
    let users = add_users(&server, "poll", USERS).await;
    let mut agents = Vec::new();
    for n in 0..CLIENTS {
        agents.push(Agent::register(&server, n).await);
    }
    // The pending requests, created 16 at a time.
    let t = Instant::now();
    let mut ids: Vec<(usize, String)> = Vec::with_capacity(pending);
    for chunk in (0..pending).collect::<Vec<_>>().chunks(16) {
        let futs = chunk.iter().map(|&i| {
            let agent = agents[i % CLIENTS].clone();
            let user = users[i % USERS].clone();
            async move { (i % CLIENTS, agent.bc_authorize(&user, "PAY-4F7Q").await.expect("bc-authorize")) }
        });
        ids.extend(futures_util::future::join_all(futs).await);
    }
    println!("   ({pending} pending requests created in {:.1} s)", t.elapsed().as_secs_f64());
    let (agents, ids) = (Arc::new(agents), Arc::new(ids));
    let n = ids.len();
    // Worker w polls the requests w, w + 32, w + 64, ... in turn: one poll at
    // a time per request, as a client does.
    let (results, elapsed) = closed_loop(secs, move |w, i| {
        let mine = n.saturating_sub(w).div_ceil(CONCURRENCY).max(1);
        let (c, id) = ids[(w + (i % mine) * CONCURRENCY) % n].clone();
        let agent = agents[c].clone();
        async move { agent.poll(&id).await }
    })
    .await;
    report(&format!("2. /token polls ({n} pending, interval 0 s)"), "authorization_pending", &results, elapsed);
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Phase 3: push latency with connected devices
// ---------------------------------------------------------------------------

struct Device {
    key: DeviceKeyPair,
    id: DeviceId,
    issuer: Issuer,
    endpoint: String,
}

async fn enroll(server: &TestServer, http: &reqwest::Client, username: &str) -> Device {
    let link = server.enrollment_link(username, 600).await;
    let key = DeviceKeyPair::generate().expect("key");
    let endpoint = server.state.config.device_endpoint();
    let body = EnrollmentRequest {
        ticket: link.ticket().clone(),
        public_jwk: key.public_jwk().clone(),
        device_name: format!("{username}'s laptop"),
        platform: Platform::Linux,
        capabilities: vec![],
    };
    let resp = http.post(format!("{endpoint}/enroll")).json(&body).send().await.expect("enroll");
    assert_eq!(resp.status(), 201, "enroll");
    let enrolled: EnrollmentResponse = resp.json().await.expect("json");
    Device { key, id: enrolled.device_id, issuer: server.state.config.issuer.clone(), endpoint }
}

/// Opens the device's event stream and spawns its reader, which sends
/// (binding message, arrival time) of every `request` event to `tx`.
/// The stream goes to `via` (another instance's `http://host:port`) when
/// given, with the proof still for the issuer's URL, as through a load
/// balancer.
async fn connect(
    server: &TestServer,
    http: &reqwest::Client,
    dev: &Device,
    tx: mpsc::UnboundedSender<(String, Instant)>,
    via: Option<&str>,
) {
    let url = format!("{}/events", dev.endpoint);
    let claims = DeviceAuthClaims::new(dev.id.clone(), dev.issuer.clone(), HttpMethod::Get, &url, server.state.now())
        .expect("claims");
    let proof = claims.sign(&dev.key).expect("sign");
    let sent_to = match via {
        Some(base) => format!("{base}{}", url::Url::parse(&url).expect("url").path()),
        None => url,
    };
    let mut resp = http.get(&sent_to).header("Authorization", format!("Device {proof}")).send().await.expect("events");
    assert_eq!(resp.status(), 200, "events");
    tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            let arrived = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(pos) = buf.find("\n\n") {
                let block: String = buf.drain(..pos + 2).collect();
                let (mut event, mut data) = (None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(v.to_owned());
                    }
                }
                if let (Some(e), Some(d)) = (event, data) {
                    if let Ok(DeviceEvent::Request(r)) = DeviceEvent::parse(&e, &d) {
                        let _ = tx.send((r.binding_message.clone(), arrived));
                    }
                }
            }
        }
    });
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Sends `count` requests (user `i % users` for the i-th) `in_flight` at a
/// time; returns (200 → event, send → event) per request.
async fn latency_run(
    agents: &[Agent],
    users: &[String],
    rx: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    label: &str,
    count: usize,
    in_flight: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut sent: HashMap<String, (Instant, Instant)> = HashMap::with_capacity(count);
    let mut arrived: HashMap<String, Instant> = HashMap::with_capacity(count);
    let idx: Vec<usize> = (0..count).collect();
    for chunk in idx.chunks(in_flight) {
        let futs = chunk.iter().map(|&i| {
            let agent = agents[i % agents.len()].clone();
            let user = users[i % users.len()].clone();
            let binding = format!("{label}-{i}");
            async move {
                let t_send = Instant::now();
                agent.bc_authorize(&user, &binding).await.expect("bc-authorize");
                (binding, t_send, Instant::now())
            }
        });
        for (b, s, ok) in futures_util::future::join_all(futs).await {
            sent.insert(b, (s, ok));
        }
        while let Ok((b, t)) = rx.try_recv() {
            arrived.insert(b, t);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while arrived.len() < count && Instant::now() < deadline {
        if let Ok(Some((b, t))) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            arrived.insert(b, t);
        }
    }
    assert_eq!(arrived.len(), count, "every request reached its device");
    let mut after_ok = Vec::with_capacity(count);
    let mut after_send = Vec::with_capacity(count);
    for (b, (s, ok)) in &sent {
        let t = arrived[b];
        // Signed: the event may reach the device before the 200 reaches the agent.
        let signed = if t >= *ok { ms(t - *ok) } else { -ms(*ok - t) };
        after_ok.push(signed);
        after_send.push(ms(t - *s));
    }
    after_ok.sort_by(f64::total_cmp);
    after_send.sort_by(f64::total_cmp);
    (after_ok, after_send)
}

fn report_latency(what: &str, after_ok: &[f64], after_send: &[f64]) {
    let early = after_ok.iter().filter(|v| **v < 0.0).count();
    println!(
        "{what}: 200 → event p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({early} of {} events beat the 200); \
         send → event p50 {:.2} ms, p99 {:.2} ms",
        quantile(after_ok, 0.50),
        quantile(after_ok, 0.99),
        after_ok.last().copied().unwrap_or(0.0),
        after_ok.len(),
        quantile(after_send, 0.50),
        quantile(after_send, 0.99),
    );
}

/// Phase 3, or with `across` phase 4: the devices' streams held by a second
/// instance on the same database (PostgreSQL: `COUNTERSIGN_TEST_POSTGRES`),
/// the requests made through the first.
async fn push_latency(devices: usize, across: bool) {
    const CLIENTS: usize = 4;
    let server = server(|c| {
        c.limits.client_per_minute = 1_000_000;
    })
    .await;
    let other = if across { Some(server.another_instance().await.expect("a second instance")) } else { None };
    let via = other.as_ref().map(|o| o.base_url.clone());
    let streams = other.as_ref().unwrap_or(&server);
    let (fd0, rss0) = (fd_count(), rss_mib());
    let t = Instant::now();
    let users = add_users(&server, "dev", devices).await;
    let http = http();
    let mut enrolled = Vec::with_capacity(devices);
    for chunk in users.chunks(16) {
        enrolled.extend(futures_util::future::join_all(chunk.iter().map(|u| enroll(&server, &http, u))).await);
    }
    println!("   ({devices} users and devices enrolled in {:.1} s)", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sse_http = http.clone();
    for chunk in enrolled.chunks(16) {
        futures_util::future::join_all(
            chunk.iter().map(|d| connect(&server, &sse_http, d, tx.clone(), via.as_deref())),
        )
        .await;
    }
    drop(tx);
    let connected = streams.state.hub.connected_users();
    println!(
        "   ({devices} event streams open in {:.1} s; users with a stream: {connected}; process fds {} → {}, RSS {:.0} → {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        fd0,
        fd_count(),
        rss0,
        rss_mib(),
    );
    assert_eq!(connected, devices, "every device holds a stream");
    let mut agents = Vec::new();
    for n in 0..CLIENTS {
        agents.push(Agent::register(&server, n).await);
    }
    // Warm-up: a few requests, unmeasured.
    let _ = latency_run(&agents, &users[..8.min(devices)], &mut rx, "WARM", 8.min(devices), 1).await;

    let (n, where_) = if across { (4, ", streams on a second instance") } else { (3, "") };
    let n1 = 200.min(devices);
    let (a, b) = latency_run(&agents, &users[devices - n1..], &mut rx, "ONE", n1, 1).await;
    report_latency(
        &format!("{n}a. push latency, {devices} streams{where_}, one request at a time ({n1} requests)"),
        &a,
        &b,
    );
    let (a, b) = latency_run(&agents, &users, &mut rx, "LOAD", devices, CONCURRENCY).await;
    report_latency(
        &format!(
            "{n}b. push latency, {devices} streams{where_}, {CONCURRENCY} requests in flight ({devices} requests, one \
             per user)"
        ),
        &a,
        &b,
    );
    if let Some(other) = other {
        other.stop().await;
    }
    server.stop().await;
}
