//! Two server instances on one database, as behind a load balancer: what
//! one instance's limits, log and token issuance promise still holds when
//! requests are spread over both at once. On SQLite both instances are in
//! this process on one file; with `COUNTERSIGN_TEST_POSTGRES` (as
//! `cargo xtask test` runs it) they share a PostgreSQL database, whose
//! write transactions take turns across instances (`store::begin`).

mod common;

use common::*;
use countersign_protocol::device::Decision;
use countersign_server::audit;
use countersign_server::testing::ENV_POSTGRES;
use futures_util::future::join_all;
use serde_json::Value;
use std::time::{Duration, Instant};

/// True (and says so) unless the test servers are on PostgreSQL, where
/// instances wake each other's streams (`device/fanout.rs`); SQLite serves
/// one instance per file and has no such wake-ups.
fn skipped_unless_postgres() -> bool {
    if std::env::var_os(ENV_POSTGRES).is_some() {
        return false;
    }
    eprintln!("skipped: wake-ups across instances exist on PostgreSQL only ({ENV_POSTGRES} is not set)");
    true
}

/// Requests for one user sent to both instances at once: exactly the
/// per-user cap is accepted, the rest are refused `slow_down` (429), and
/// the audit log, appended by both, is one unbroken chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_cap_and_the_audit_chain_hold_across_instances() {
    let a = server_with(|c| c.limits.max_pending_per_user = 5).await;
    let b = a.another_instance().await.expect("a second instance");
    add_user(&a, "pia").await;
    let agent_a = Agent::register(&a, serde_json::json!({})).await;
    let mut agent_b = agent_a.clone();
    agent_b.base = b.base_url.clone();
    let params = agent_a.request_params("pia");
    let sent = (0..40).map(|i| {
        let (agent, server) = if i % 2 == 0 { (&agent_a, &a) } else { (&agent_b, &b) };
        let params = params.clone();
        async move { agent.bc_authorize(server, &params).await }
    });
    let mut accepted = 0;
    for resp in join_all(sent).await {
        match resp.status().as_u16() {
            200 => accepted += 1,
            429 => assert_eq!(error_of(resp).await.1, "slow_down"),
            other => panic!("{other}: {}", resp.text().await.unwrap_or_default()),
        }
    }
    assert_eq!(accepted, 5, "the cap, not each instance's own count");
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auth_requests WHERE status = 'pending'")
        .fetch_one(&a.state.db)
        .await
        .unwrap();
    assert_eq!(pending, 5);
    audit::verify(&b.state.db).await.unwrap().expect("one unbroken chain");
    let actions: Vec<(String, i64)> =
        sqlx::query_as("SELECT action, COUNT(*) FROM audit_log GROUP BY action ORDER BY action")
            .fetch_all(&a.state.db)
            .await
            .unwrap();
    let count = |action: &str| actions.iter().find(|(a, _)| a == action).map_or(0, |(_, n)| *n);
    assert_eq!(count("request.created"), 5, "{actions:?}");
    // Refusals are logged once a minute per limit by each instance (the
    // gate is in memory: at most one entry per instance).
    assert!((1..=2).contains(&count("fatigue.refused")), "{actions:?}");
    b.stop().await;
    a.stop().await;
}

/// An approved request polled on both instances at once is redeemed once:
/// every answer carries the same tokens, and one token is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_request_polled_on_both_instances_is_redeemed_once() {
    let (a, dev, agent_a) = user_device_and_agent(server().await, "ole").await;
    let b = a.another_instance().await.expect("a second instance");
    let mut agent_b = agent_a.clone();
    agent_b.base = b.base_url.clone();
    let ack = agent_a.start(&a, "ole").await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    decide_first(&a, &dev, Decision::Approve, None).await;
    let polls = (0..12).map(|i| {
        let (agent, server) = if i % 2 == 0 { (&agent_a, &a) } else { (&agent_b, &b) };
        let auth_req_id = auth_req_id.clone();
        async move {
            let resp = agent.token(server, &auth_req_id).await;
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    });
    let answers = join_all(polls).await;
    for answer in &answers {
        assert_eq!(answer["access_token"], answers[0]["access_token"], "one redemption, the same answer");
    }
    let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&b.state.db).await.unwrap();
    assert_eq!(tokens, 1);
    b.stop().await;
    a.stop().await;
}

/// The connections of this database that have run `LISTEN`.
const LISTENING: &str =
    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'";

/// Waits until both instances on `server`'s database listen for wake-ups.
async fn both_listening(server: &countersign_server::testing::TestServer) {
    listening(server, 2).await;
}

/// Waits until `n` instances on `server`'s database listen for wake-ups.
async fn listening(server: &countersign_server::testing::TestServer, n: i64) {
    wait_for("the instances listening", || async {
        let listening: i64 = sqlx::query_scalar(LISTENING).fetch_one(&server.state.db).await.unwrap();
        (listening == n).then_some(())
    })
    .await;
}

/// A device streaming its events from instance B gets a request made
/// through instance A at once (PostgreSQL's NOTIFY wakes B's stream; the
/// stream's idle re-read is an hour away here), and then its decision on A
/// reaches a second stream of it on B likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_made_through_one_instance_reaches_a_device_streaming_from_the_other() {
    if skipped_unless_postgres() {
        return;
    }
    let (a, dev, agent) =
        user_device_and_agent(server_with(|c| c.heartbeat_interval = Duration::from_secs(3600)).await, "ivy").await;
    let b = a.another_instance().await.expect("a second instance");
    let mut stream = dev.events_via(&b, Some(&b.base_url), None).await;
    // Both instances listen before the request is made (else the request
    // could reach B's stream through the re-read that follows B's LISTEN).
    both_listening(&a).await;
    let sent = Instant::now();
    let ack = agent.start(&a, "ivy").await;
    let (_, req) = expect_request(stream.next_event(Duration::from_secs(5)).await);
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    let listed = dev.pending(&a).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, req.id);
    assert!(ack["auth_req_id"].is_string());
    b.stop().await;
    a.stop().await;
}

/// A ping client is notified once of a decision even though both
/// instances deliver from the same outbox: each attempt is claimed first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_instances_delivering_notify_a_ping_client_once() {
    let a = server_with(|c| c.limits.user_per_minute = 0).await;
    let b = a.another_instance().await.expect("a second instance");
    let dev = TestDevice::of_new_user(&a, "max").await;
    let (rx, agent) = notified_agent(&a, "ping", serde_json::json!({})).await;
    // Slow answers: every delivery is still in flight when the other
    // instance looks for due rows.
    *rx.state.delay.lock().unwrap() = Duration::from_millis(300);
    let mut ids = Vec::new();
    for _ in 0..8 {
        let ack = agent.start(&a, "max").await;
        ids.push(ack["auth_req_id"].as_str().unwrap().to_owned());
    }
    for req in dev.pending(&a).await {
        assert_eq!(dev.decide(&a, &req, Decision::Approve, None).await.status(), 200);
    }
    // Both instances deliver at once (besides their delivery tasks).
    let (sent_a, sent_b) = tokio::join!(
        countersign_server::testing::deliver_notifications_once(&a.state),
        countersign_server::testing::deliver_notifications_once(&b.state)
    );
    assert!(sent_a.unwrap() + sent_b.unwrap() <= 8);
    let calls = rx.wait_calls("/cb", 8).await;
    // Both instances had time to send any second copy.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let calls_after = rx.calls("/cb");
    assert_eq!(calls_after.len(), 8, "one notification per request: {} then {}", calls.len(), calls_after.len());
    let delivered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL AND attempts = 1")
            .fetch_one(&b.state.db)
            .await
            .unwrap();
    assert_eq!(delivered, 8);
    b.stop().await;
    a.stop().await;
}

/// A wake-up sent while an instance's listening connection is down is lost
/// to it; when it listens again it wakes every stream, which finds the
/// request in the log. (The connections are ended by PostgreSQL itself,
/// `pg_terminate_backend`, as a restart or a network cut would.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listening_connection_is_made_up_for_from_the_log() {
    if skipped_unless_postgres() {
        return;
    }
    let (a, dev, agent) =
        user_device_and_agent(server_with(|c| c.heartbeat_interval = Duration::from_secs(3600)).await, "eve").await;
    let b = a.another_instance().await.expect("a second instance");
    let mut stream = dev.events_via(&b, Some(&b.base_url), None).await;
    both_listening(&a).await;
    // End both listeners and keep them from coming back (new connections
    // to the database refused; the pools keep theirs), then make the
    // request: its wake-up reaches no one.
    let database: String = sqlx::query_scalar("SELECT current_database()::text").fetch_one(&a.state.db).await.unwrap();
    // From the cluster's own database: PostgreSQL refuses it from inside.
    let mut cluster =
        <sqlx::PgConnection as sqlx::Connection>::connect(&std::env::var(ENV_POSTGRES).unwrap()).await.unwrap();
    let allow = |yes: bool| format!("ALTER DATABASE {database} ALLOW_CONNECTIONS {yes}");
    // New connections are refused in the window: both pools first open
    // more than the window's work needs (a wake-up still on its way to B,
    // the request on A, the background tasks), kept idle for it.
    for server in [&a, &b] {
        let held = join_all((0..10).map(|_| server.state.db.acquire())).await;
        assert!(held.iter().all(Result::is_ok));
    }
    sqlx::query(&allow(false)).execute(&mut cluster).await.unwrap();
    let ended: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%') AS ended",
    )
    .fetch_one(&a.state.db)
    .await
    .unwrap();
    assert_eq!(ended, 2);
    agent.start(&a, "eve").await;
    assert!(stream.next_event(Duration::from_millis(1500)).await.is_none(), "no wake-up reached B");
    // Let them back: B, listening again, reads its streams' logs.
    sqlx::query(&allow(true)).execute(&mut cluster).await.unwrap();
    let (_, req) = expect_request(stream.next_event(Duration::from_secs(5)).await);
    assert_eq!(dev.pending(&a).await[0].id, req.id);
    // And both listen again.
    both_listening(&a).await;
    b.stop().await;
    a.stop().await;
}

/// The whole CIBA flow across two instances: the agent asks through A; the
/// device, streaming from B, is told at once, and its approval goes to B;
/// the agent's token request at A gets the tokens, and one grant exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ciba_flow_runs_with_the_agent_on_one_instance_and_the_device_on_the_other() {
    if skipped_unless_postgres() {
        return;
    }
    let (a, dev, agent) =
        user_device_and_agent(server_with(|c| c.heartbeat_interval = Duration::from_secs(3600)).await, "una").await;
    let b = a.another_instance().await.expect("a second instance");
    let mut stream = dev.events_via(&b, Some(&b.base_url), None).await;
    both_listening(&a).await;
    let ack = agent.start(&a, "una").await;
    let (_, req) = expect_request(stream.next_event(Duration::from_secs(5)).await);
    assert_eq!(dev.decide_via(&b, Some(&b.base_url), &req, Decision::Approve).await.status(), 200);
    let resp = agent.token(&a, ack["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens["access_token"].is_string());
    assert!(dev.pending_via(&b, Some(&b.base_url)).await.is_empty());
    let grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&b.state.db).await.unwrap();
    assert_eq!(grants, 1);
    b.stop().await;
    a.stop().await;
}

/// What a replayed or repeated message meets is in the database: an
/// enrollment ticket sent to both instances at once enrolls one device; a
/// device proof accepted by A is refused by B (its `jti` seen); a token
/// request polled at A then at once at B gets `slow_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_proofs_and_slow_down_hold_across_instances() {
    use countersign_protocol::device::{EnrollmentRequest, HttpMethod, Platform};
    let a = server().await;
    let b = a.another_instance().await.expect("a second instance");
    add_user(&a, "zed").await;
    let t = ticket(&a, "zed").await;
    let endpoint = a.state.config.device_endpoint();
    let enroll_url = format!("{endpoint}/enroll");
    let http = http();
    let sent = [None, Some(b.base_url.as_str())].map(|instance| {
        let key = countersign_protocol::jws::DeviceKeyPair::generate().unwrap();
        let body = EnrollmentRequest {
            ticket: t.clone(),
            public_jwk: key.public_jwk().clone(),
            device_name: "laptop".into(),
            platform: Platform::Linux,
            capabilities: vec![],
        };
        http.post(via(&enroll_url, instance)).json(&body).send()
    });
    let [first, second] = sent;
    let (first, second) = tokio::join!(first, second);
    let mut statuses = [first.unwrap().status().as_u16(), second.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400], "one device from one ticket");
    let devices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices").fetch_one(&a.state.db).await.unwrap();
    assert_eq!(devices, 1);

    let dev = TestDevice::enroll(&a, "zed").await;
    let url = format!("{}/requests", dev.endpoint);
    let proof = dev.proof(HttpMethod::Get, &url, a.state.now());
    let send = |instance: Option<&str>| {
        http.get(via(&url, instance)).header("Authorization", format!("Device {proof}")).send()
    };
    assert_eq!(send(None).await.unwrap().status(), 200);
    expect_err(send(Some(&b.base_url)).await.unwrap(), 401, "invalid_token").await;

    let agent = Agent::register(&a, serde_json::json!({})).await;
    let mut agent_b = agent.clone();
    agent_b.base = b.base_url.clone();
    let ack = agent.start(&a, "zed").await;
    let id = ack["auth_req_id"].as_str().unwrap();
    expect_err(agent.token(&a, id).await, 400, "authorization_pending").await;
    expect_err(agent_b.token(&b, id).await, 400, "slow_down").await;
    b.stop().await;
    a.stop().await;
}

/// An operator command run in another process (`countersign-server device
/// revoke`) reaches the server's open streams at once: the revoked
/// device's stream ends, though its idle re-read is an hour away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_command_reaches_the_open_streams_at_once() {
    if skipped_unless_postgres() {
        return;
    }
    let a = server_with(|c| c.heartbeat_interval = Duration::from_secs(3600)).await;
    let dev = TestDevice::of_new_user(&a, "oli").await;
    let mut stream = dev.events(&a, None).await;
    listening(&a, 1).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_countersign-server"))
        .args(a.cli_args())
        .args(["device", "revoke", dev.id.as_str()])
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("revoked device"), "{said}");
    assert!(!said.contains("warning"), "{said}");
    assert!(stream.ends_within(Duration::from_secs(3)).await, "the revoked device's stream ends");
    a.stop().await;
}
