//! Admin API benchmark (not a timed test): `cargo bench -p countersign-server --bench admin`.
//!
//! A fresh in-process server (real socket on 127.0.0.1, SQLite file in a
//! temporary directory) whose database holds `COUNTERSIGN_BENCH_AUDIT`
//! audit entries (default 100,000, chained as the server chains them) and
//! `COUNTERSIGN_BENCH_GRANTS` grants (default 10,000) over 1,000 users and
//! 50 clients, seeded straight into the file. An administrator's enrolled
//! device then asks for the first page (50 items) of every admin list,
//! `COUNTERSIGN_BENCH_ROUNDS` times each (default 50), one call at a time,
//! and the time from sending the call to having its whole body is printed
//! (median, p99, max): the server's answer plus the loopback and the
//! client's proof, so an upper bound of the server's time.

use countersign_protocol::admin::{AuditAction, AuditEntry};
use countersign_protocol::device::{
    DeviceAuthClaims, DeviceId, EnrollmentRequest, EnrollmentResponse, HttpMethod, Issuer, Platform,
};
use countersign_protocol::jws::DeviceKeyPair;
use countersign_server::ops::{self, Actor};
use countersign_server::testing::{details, http, spawn_test_server, TestOptions, TestServer};
use sqlx::Connection as _;
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
    seed(&server, audit, grants).await;
    println!("seeded {audit} audit entries and {grants} grants in {:.1} s", started.elapsed().as_secs_f64());
    let some_sub = "u_bench_0007";
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

/// Users, clients, grants and audit entries written straight into the file
/// (foreign keys off: the grants name requests that were never stored).
async fn seed(server: &TestServer, audit: u64, grants: u64) {
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", server.db_path.display())).await.expect("db");
    sqlx::raw_sql("PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 10000;").execute(&mut conn).await.expect("pragma");
    let mut tx = conn.begin().await.expect("begin");
    let now = server.state.now();
    for u in 0..1000 {
        sqlx::query("INSERT INTO users (sub, username, name, roles, created_at) VALUES ($1, $2, $3, '[\"user\"]', $4)")
            .bind(format!("u_bench_{u:04}"))
            .bind(format!("bench{u}"))
            .bind(format!("Bench User {u}"))
            .bind(i64::try_from(now).unwrap_or(0) - 1000 + u)
            .execute(&mut *tx)
            .await
            .expect("user");
    }
    for c in 0..50 {
        sqlx::query(
            "INSERT INTO clients (client_id, auth_method, delivery_mode, client_name, details_types, metadata, \
             created_at) VALUES ($1, 'client_secret_basic', 'poll', $2, '[]', '{}', $3)",
        )
        .bind(format!("cli_bench_{c:02}"))
        .bind(format!("Bench agent {c}"))
        .bind(i64::try_from(now).unwrap_or(0) - 100 + c)
        .execute(&mut *tx)
        .await
        .expect("client");
    }
    let claims = serde_json::json!({ "scope": "openid payments", "authorization_details": details() }).to_string();
    for g in 0..grants {
        let issued = i64::try_from(now).unwrap_or(0) - i64::try_from(grants - g).unwrap_or(0);
        sqlx::query(
            "INSERT INTO tokens (jti, request_id, client_id, sub, claims, issued_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(format!("jti_bench_{g:06}"))
        .bind(format!("req_bench_{g:06}"))
        .bind(format!("cli_bench_{:02}", g % 50))
        .bind(format!("u_bench_{:04}", g % 1000))
        .bind(&claims)
        .bind(issued)
        .bind(issued + 600)
        .bind((g % 10 == 0).then_some(issued + 60))
        .execute(&mut *tx)
        .await
        .expect("token");
    }
    // Continue the chain the server started (ada's entries).
    let last: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await
        .expect("last");
    let (mut seq, mut prev) = last.map_or((0, String::new()), |(s, h)| (u64::try_from(s).unwrap_or(0), h));
    let actions =
        [AuditAction::RequestCreated, AuditAction::RequestDecided, AuditAction::TokenIssued, AuditAction::TokenRevoked];
    for i in 0..audit {
        seq += 1;
        let mut e = AuditEntry {
            seq,
            at: now,
            actor: format!("client:cli_bench_{:02}", i % 50),
            action: actions[usize::try_from(i % 4).unwrap_or(0)].clone(),
            target: Some(format!("req_bench_{i:06}")),
            sub: Some(format!("u_bench_{:04}", i % 1000)),
            data: serde_json::json!({ "risk": "high", "types": ["payment_initiation"] }),
            hash: String::new(),
        };
        e.hash = e.chain_hash(&prev).expect("hash");
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, target, sub, data, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(i64::try_from(e.seq).unwrap_or(0))
        .bind(i64::try_from(e.at).unwrap_or(0))
        .bind(&e.actor)
        .bind(e.action.as_str())
        .bind(&e.target)
        .bind(&e.sub)
        .bind(e.data.to_string())
        .bind(&e.hash)
        .execute(&mut *tx)
        .await
        .expect("audit");
        prev = e.hash;
    }
    tx.commit().await.expect("commit");
    conn.close().await.expect("close");
    let verified =
        countersign_server::audit::verify(&server.state.db).await.expect("db").expect("the seeded log verifies");
    println!("audit log verifies: {} entries", verified.count);
}
