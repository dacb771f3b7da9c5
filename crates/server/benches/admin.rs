//! Admin API benchmark (not a timed test): `cargo bench -p countersign-server --bench admin`.
//!
//! A fresh in-process server (real socket on 127.0.0.1, SQLite file in a
//! temporary directory) whose database holds `COUNTERSIGN_BENCH_AUDIT`
//! audit entries (default 100,000, chained as the server chains them) and
//! `COUNTERSIGN_BENCH_GRANTS` grants (default 10,000) over 1,000 users and
//! 50 clients, seeded straight into the file
//! (`countersign_server::testing::seed::admin_data`). An administrator's
//! enrolled device then asks for the first page (50 items) of every admin list,
//! `COUNTERSIGN_BENCH_ROUNDS` times each (default 50), one call at a time,
//! and the time from sending the call to having its whole body is printed
//! (median, p99, max): the server's answer plus the loopback and the
//! client's proof, so an upper bound of the server's time.

use countersign_protocol::device::{
    DeviceAuthClaims, DeviceId, EnrollmentRequest, EnrollmentResponse, HttpMethod, Issuer, Platform,
};
use countersign_protocol::jws::DeviceKeyPair;
use countersign_server::ops::{self, Actor};
use countersign_server::testing::{http, seed, spawn_test_server, TestOptions, TestServer};
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("admin: run with `cargo bench -p countersign-server --bench admin`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let audit = env_u64("COUNTERSIGN_BENCH_AUDIT", 100_000);
    let grants = env_u64("COUNTERSIGN_BENCH_GRANTS", 10_000);
    let rounds = usize::try_from(env_u64("COUNTERSIGN_BENCH_ROUNDS", 50)).unwrap_or(50);
    println!(
        "machine: {} cores, Linux {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
    );
    let server = spawn_test_server(TestOptions::default()).await.expect("server");
    let http = http();
    let admin = enroll_admin(&server, &http).await;
    let started = Instant::now();
    let seeded = seed::admin_data(&server, audit, grants).await;
    println!("seeded {audit} audit entries and {grants} grants in {:.1} s", started.elapsed().as_secs_f64());
    println!("audit log verifies: {} entries", seeded.log_entries);
    let some_sub = seed::user_sub(7);
    let lists = [
        "/requests".to_owned(),
        "/grants".to_owned(),
        format!("/grants?sub={some_sub}"),
        "/grants?status=active".to_owned(),
        "/clients".to_owned(),
        "/users".to_owned(),
        "/devices".to_owned(),
        "/audit".to_owned(),
        "/audit?action=token.revoked".to_owned(),
        format!("/audit?sub={some_sub}"),
        // No entry matches: the whole log is walked (the worst case).
        "/audit?sub=u_nobody".to_owned(),
    ];
    println!("{:<28} {:>9} {:>9} {:>9} {:>6}", "first page of", "median", "p99", "max", "items");
    for path in &lists {
        let mut times = Vec::with_capacity(rounds);
        let mut items = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let body = admin.get(&server, &http, path).await;
            times.push(t.elapsed());
            items = body["items"].as_array().map_or(0, Vec::len);
        }
        times.sort();
        let at = |q: f64| {
            let i = ((times.len() as f64 - 1.0) * q).round() as usize;
            times[i.min(times.len() - 1)]
        };
        println!(
            "{:<28} {:>9} {:>9} {:>9} {:>6}",
            path,
            ms(at(0.5)),
            ms(at(0.99)),
            ms(*times.last().unwrap_or(&Duration::ZERO)),
            items
        );
    }
    server.stop().await;
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Admin {
    key: DeviceKeyPair,
    id: DeviceId,
    issuer: Issuer,
}

impl Admin {
    async fn get(&self, server: &TestServer, http: &reqwest::Client, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", server.state.config.admin_endpoint());
        let htu = url.split('?').next().unwrap_or_default();
        let proof =
            DeviceAuthClaims::new(self.id.clone(), self.issuer.clone(), HttpMethod::Get, htu, server.state.now())
                .expect("claims")
                .sign(&self.key)
                .expect("sign");
        let resp = http.get(&url).header("Authorization", format!("Device {proof}")).send().await.expect("get");
        assert_eq!(resp.status(), 200, "{path}");
        resp.json().await.expect("json")
    }
}

async fn enroll_admin(server: &TestServer, http: &reqwest::Client) -> Admin {
    server.add_user("ada").await;
    ops::set_admin(&server.state.db, "ada", true, &Actor::Operator, server.state.now()).await.expect("admin");
    let link = server.enrollment_link("ada", 600).await;
    let key = DeviceKeyPair::generate().expect("key");
    let body = EnrollmentRequest {
        ticket: link.ticket().clone(),
        public_jwk: key.public_jwk().clone(),
        device_name: "ada's laptop".into(),
        platform: Platform::Linux,
        capabilities: vec![],
    };
    let resp = http
        .post(format!("{}/enroll", server.state.config.device_endpoint()))
        .json(&body)
        .send()
        .await
        .expect("enroll");
    assert_eq!(resp.status(), 201);
    let enrolled: EnrollmentResponse = resp.json().await.expect("json");
    Admin { key, id: enrolled.device_id, issuer: server.state.config.issuer.clone() }
}
