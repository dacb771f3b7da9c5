//! A redeemed `auth_req_id` and its lost response: the client it was issued
//! to gets the same token response again within the replay window (after a
//! crash between the redemption commit and the response, or on a plain
//! repeat), never a second grant; any other client, and everyone after the
//! window, gets `invalid_grant`. Push: a delivery the server committed but
//! did not complete is sent from the outbox after a restart, once.

mod common;

use common::*;
use countersign_protocol::device::{ApproverRequest, Decision, RequestId};
use countersign_server::config::TestHooks;
use countersign_server::testing::ResponseKey;
use countersign_server::testing::SecretKey;
use countersign_server::testing::TestServer;
use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use sqlx::Row as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Holds the first token response after its redemption committed, for good
/// (a server that dies there); later ones pass.
#[derive(Debug)]
struct DieAfterRedemption {
    armed: AtomicBool,
    reached: Notify,
    held: Mutex<Option<(RequestId, Vec<u8>)>>,
}

impl DieAfterRedemption {
    fn new() -> Arc<Self> {
        Arc::new(Self { armed: AtomicBool::new(true), reached: Notify::new(), held: Mutex::new(None) })
    }
}

impl TestHooks for DieAfterRedemption {
    fn after_redemption_commit(&self, request_id: &RequestId, body: &[u8]) -> BoxFuture<'static, ()> {
        if self.armed.swap(false, Ordering::SeqCst) {
            *self.held.lock().unwrap() = Some((request_id.clone(), body.to_vec()));
            self.reached.notify_one();
            Box::pin(std::future::pending())
        } else {
            Box::pin(async {})
        }
    }
}

/// Starts a request of `agent` for `user` and has `dev` approve it; returns
/// the `auth_req_id` and the request as the device saw it.
async fn approved(server: &TestServer, dev: &TestDevice, agent: &Agent, user: &str) -> (String, ApproverRequest) {
    let ack = agent.start(server, user).await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    let req = dev.pending(server).await.pop().expect("the request reached the device");
    assert_eq!(dev.decide(server, &req, Decision::Approve, None).await.status(), 200);
    (auth_req_id, req)
}

async fn token_bytes(server: &TestServer, agent: &Agent, auth_req_id: &str) -> Vec<u8> {
    let resp = agent.token(server, auth_req_id).await;
    assert_eq!(resp.status(), 200, "token response");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    resp.bytes().await.unwrap().to_vec()
}

async fn count(server: &TestServer, sql: &str, id: &RequestId) -> i64 {
    sqlx::query(sql).bind(id.as_str()).fetch_one(&server.state.db).await.unwrap().get::<i64, _>(0)
}

async fn token_rows(server: &TestServer, id: &RequestId) -> i64 {
    count(server, "SELECT COUNT(*) FROM tokens WHERE request_id = $1", id).await
}

/// The stored (sealed) response and the end of its window.
async fn stored(server: &TestServer, id: &RequestId) -> (Option<String>, Option<i64>) {
    let row = sqlx::query("SELECT token_response, token_response_until FROM auth_requests WHERE request_id = $1")
        .bind(id.as_str())
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// The `jti` of the access token in a token response.
fn jti_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    let claims = v["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    let claims: Value = serde_json::from_slice(&countersign_protocol::jws::b64url_decode(&claims).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

async fn the_one_jti(server: &TestServer, id: &RequestId) -> String {
    sqlx::query("SELECT jti FROM tokens WHERE request_id = $1")
        .bind(id.as_str())
        .fetch_one(&server.state.db)
        .await
        .unwrap()
        .get::<String, _>(0)
}

/// The case: the server dies after it committed the redemption and
/// before the response left. The agent's retry after the restart gets the
/// very response the server was about to send; another client presenting
/// the same `auth_req_id` gets `invalid_grant`; after the window, so does
/// the agent; the sweeper then removes the stored response.
#[tokio::test]
async fn a_crash_after_the_redemption_commit_loses_no_token() {
    let hook = DieAfterRedemption::new();
    let h = hook.clone();
    let server = server_with(move |c| c.danger_test_hooks = Some(h)).await;
    let sub = add_user(&server, "ivy").await;
    let dev = TestDevice::enroll(&server, "ivy").await;
    let agent = Agent::register(&server, json!({})).await;
    let other = Agent::register(&server, json!({})).await;
    let (auth_req_id, req) = approved(&server, &dev, &agent, "ivy").await;

    // The first token request dies with the server: committed, never answered.
    let first = {
        let (agent_http, base, client_id, secret) =
            (agent.http.clone(), agent.base.clone(), agent.client_id.clone(), agent.secret.clone());
        let id = auth_req_id.clone();
        tokio::spawn(async move {
            agent_http
                .post(format!("{base}/token"))
                .basic_auth(client_id, secret)
                .form(&[("grant_type", "urn:openid:params:grant-type:ciba"), ("auth_req_id", id.as_str())])
                .send()
                .await
        })
    };
    tokio::time::timeout(WAIT, hook.reached.notified()).await.expect("the redemption committed");
    let (held_id, held_body) = hook.held.lock().unwrap().clone().unwrap();
    assert_eq!(held_id, req.id);
    assert_eq!(token_rows(&server, &req.id).await, 1, "the grant is committed");
    assert!(!first.is_finished(), "no response left the server");

    let server = server.restart_after_crash().await.expect("restart");
    first.abort();

    // The agent retries: the response the server was about to send, byte for byte.
    let retry = token_bytes(&server, &agent, &auth_req_id).await;
    assert_eq!(retry, held_body, "the same bytes as the lost response");
    let tok: Value = serde_json::from_slice(&retry).unwrap();
    let claims = verify_jwt(&server, tok["access_token"].as_str().unwrap(), "at+jwt").await;
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some(sub.as_str()), Some(&*agent.client_id)));
    let id = verify_jwt(&server, &id_token_str(&tok), "JWT").await;
    assert_eq!(id["at_hash"], countersign_server::testing::at_hash(tok["access_token"].as_str().unwrap()));
    assert_eq!(jti_of(&retry), the_one_jti(&server, &req.id).await, "the token of the one grant");

    // Another client with the same auth_req_id: nothing.
    let (_, _, body) = error_of(other.token(&server, &auth_req_id).await).await;
    assert_eq!(
        (body["error"].as_str(), body["error_description"].as_str()),
        (Some("invalid_grant"), Some("unknown auth_req_id"))
    );

    // Again within the window: the same bytes; still one grant. (Margins of
    // a few seconds: the real clock runs on under the offset.)
    server.clock.advance(110);
    assert_eq!(token_bytes(&server, &agent, &auth_req_id).await, held_body);
    assert_eq!(token_rows(&server, &req.id).await, 1);

    // After the window: dead for the agent too, and the ciphertext is swept.
    server.clock.advance(10);
    let body = expect_err(agent.token(&server, &auth_req_id).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "auth_req_id already redeemed");
    wait_for("the sweeper clears the stored response", || async {
        (stored(&server, &req.id).await == (None, None)).then_some(())
    })
    .await;
    assert_eq!(token_rows(&server, &req.id).await, 1);
    server.stop().await;
}

/// A plain repeat within the window: the same bytes, the same headers; no
/// second `tokens` row, nothing re-marked, the poll bookkeeping untouched.
/// Another client, even one whose request names the same auth_req_id, and a
/// caller with the wrong secret get nothing.
#[tokio::test]
async fn a_repeated_token_request_gets_the_same_bytes_and_no_second_grant() {
    let (server, dev, agent) = user_device_and_agent(server().await, "jo").await;
    let other = Agent::register(&server, json!({ "token_endpoint_auth_method": "client_secret_post" })).await;
    let (auth_req_id, req) = approved(&server, &dev, &agent, "jo").await;

    let first = token_bytes(&server, &agent, &auth_req_id).await;
    let marks = "SELECT COALESCE(redeemed_at, -1) + 1000 * COALESCE(last_poll_at, -1) FROM auth_requests \
                 WHERE request_id = $1";
    let before = count(&server, marks, &req.id).await;
    server.clock.advance(30);
    let again = token_bytes(&server, &agent, &auth_req_id).await;
    assert_eq!(again, first, "byte for byte");
    assert_eq!(token_rows(&server, &req.id).await, 1, "never a second grant");
    assert_eq!(count(&server, marks, &req.id).await, before, "nothing re-marked");
    assert_eq!(jti_of(&again), the_one_jti(&server, &req.id).await);

    expect_err(other.token(&server, &auth_req_id).await, 400, "invalid_grant").await;
    let mut impostor = Agent { secret: Some("not-the-secret".into()), ..Agent::register(&server, json!({})).await };
    impostor.client_id.clone_from(&agent.client_id);
    expect_err(impostor.token(&server, &auth_req_id).await, 401, "invalid_client").await;

    // The window counts from the redemption: 120 s.
    server.clock.advance(80);
    assert_eq!(token_bytes(&server, &agent, &auth_req_id).await, first);
    server.clock.advance(10);
    expect_err(agent.token(&server, &auth_req_id).await, 400, "invalid_grant").await;
    assert_eq!(token_rows(&server, &req.id).await, 1);
    server.stop().await;
}

/// The window never outlasts the access token, and 0 turns replays off
/// (nothing is stored).
#[tokio::test]
async fn the_window_is_bounded_by_the_token_lifetime_and_can_be_off() {
    let server = server_with(|c| c.access_token_ttl_secs = 30).await;
    assert_eq!(server.config().replay_window_secs(), 30);
    let dev = TestDevice::of_new_user(&server, "kai").await;
    let agent = Agent::register(&server, json!({})).await;
    let (auth_req_id, req) = approved(&server, &dev, &agent, "kai").await;
    let first = token_bytes(&server, &agent, &auth_req_id).await;
    let redeemed_at = count(&server, "SELECT redeemed_at FROM auth_requests WHERE request_id = $1", &req.id).await;
    assert_eq!(stored(&server, &req.id).await.1, Some(redeemed_at + 30), "the window is the token's 30 s");
    server.clock.advance(25);
    assert_eq!(token_bytes(&server, &agent, &auth_req_id).await, first);
    server.clock.advance(5);
    expect_err(agent.token(&server, &auth_req_id).await, 400, "invalid_grant").await;
    server.stop().await;

    let (server, dev, agent) =
        user_device_and_agent(server_with(|c| c.token_replay_window_secs = 0).await, "kai").await;
    let (auth_req_id, req) = approved(&server, &dev, &agent, "kai").await;
    token_bytes(&server, &agent, &auth_req_id).await;
    assert_eq!(stored(&server, &req.id).await, (None, None), "nothing kept");
    let body = expect_err(agent.token(&server, &auth_req_id).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "auth_req_id already redeemed");
    server.stop().await;
}

/// Token requests of one client racing for one approved request: one
/// grant, and every one of them gets the same response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_token_requests_get_one_grant_and_the_same_response() {
    let (server, dev, agent) = user_device_and_agent(server().await, "lu").await;
    let (auth_req_id, req) = approved(&server, &dev, &agent, "lu").await;
    let bodies = futures_util::future::join_all((0..8).map(|_| token_bytes(&server, &agent, &auth_req_id))).await;
    assert!(bodies.iter().all(|b| *b == bodies[0]), "the same response to every racer");
    assert_eq!(token_rows(&server, &req.id).await, 1, "one grant");
    assert_eq!(jti_of(&bodies[0]), the_one_jti(&server, &req.id).await);
    server.stop().await;
}

/// The redemption mark is conditional, as a database that does not
/// serialise writers (PostgreSQL) needs: a second redemption of the same
/// request, as a racer that read it before the first committed would try,
/// writes nothing.
#[tokio::test]
async fn a_second_redemption_writes_nothing() {
    let (server, dev, agent) = user_device_and_agent(server().await, "max").await;
    let (_, req) = approved(&server, &dev, &agent, "max").await;
    let state = &server.state;
    let signer = countersign_server::testing::Signer::active(state).await.unwrap();
    let mut conn = state.db.acquire().await.unwrap();
    let stale = countersign_server::testing::load_request(&mut conn, req.id.as_str()).await.unwrap().unwrap();
    drop(conn);
    let now = state.now();
    for (attempt, expected) in [(1, true), (2, false)] {
        let issued = countersign_server::testing::mint(state, &signer, &stale, now, None).unwrap();
        let mut tx = countersign_server::testing::begin_write(&state.db).await.unwrap();
        let done = issued.redeem(&mut tx, &stale, now, Some(("sealed", now + 120))).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(done, expected, "redemption {attempt}");
    }
    assert_eq!(token_rows(&server, &req.id).await, 1);
    server.stop().await;
}

/// At rest the response is AES-256-GCM under the key file beside the
/// database, bound to its request: nothing of the tokens shows, a
/// ciphertext moved to another request or altered is not replayed (the
/// client gets `invalid_grant`, not someone else's token), and a window
/// that ended is over before the sweeper has run.
#[tokio::test]
async fn stored_responses_are_encrypted_bound_to_their_request_and_end_with_the_window() {
    // No background sweep during the test: the window must end on its own.
    let (server, dev, agent) =
        user_device_and_agent(server_with(|c| c.sweep_interval = Duration::from_secs(3600)).await, "nia").await;
    let (x_id, x) = approved(&server, &dev, &agent, "nia").await;
    let (y_id, y) = approved(&server, &dev, &agent, "nia").await;
    let x_body = token_bytes(&server, &agent, &x_id).await;
    let y_body = token_bytes(&server, &agent, &y_id).await;

    let (sealed_x, _) = stored(&server, &x.id).await;
    let (sealed_y, _) = stored(&server, &y.id).await;
    let (sealed_x, sealed_y) = (sealed_x.unwrap(), sealed_y.unwrap());
    let tok: Value = serde_json::from_slice(&x_body).unwrap();
    let access = tok["access_token"].as_str().unwrap();
    let id_token = tok["id_token"].as_str().unwrap();
    for part in access.split('.').chain(id_token.split('.')).chain(["Bearer", "authorization_details"]) {
        assert!(!sealed_x.contains(part), "nothing of the response shows in the stored value");
    }
    // On SQLite, nowhere in the files either (PostgreSQL's are the
    // cluster's: the column's value above is what it stores).
    if server.db_path.exists() {
        let db_file = std::fs::read(&server.db_path).unwrap();
        let wal = std::fs::read(server.db_path.with_extension("db-wal")).unwrap_or_default();
        for file in [&db_file, &wal] {
            assert!(!file.windows(access.len()).any(|w| w == access.as_bytes()), "the token is not in the files");
        }
    }
    // The key file opens it, for this request only.
    let key = ResponseKey::new(&SecretKey::load_or_create(&server.secret_key_file).unwrap()).unwrap();
    assert_eq!(key.open(x.id.as_str(), &sealed_x).as_deref(), Some(&x_body[..]));
    assert!(key.open(y.id.as_str(), &sealed_x).is_none());

    // Y's ciphertext moved onto X: X is not replayed (and never as Y's token).
    let set = |sealed: String, id: RequestId| {
        let db = server.state.db.clone();
        async move {
            sqlx::query("UPDATE auth_requests SET token_response = $1 WHERE request_id = $2")
                .bind(sealed)
                .bind(id.as_str())
                .execute(&db)
                .await
                .unwrap();
        }
    };
    set(sealed_y.clone(), x.id.clone()).await;
    let body = expect_err(agent.token(&server, &x_id).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "auth_req_id already redeemed");
    // Altered: likewise.
    let mut altered = sealed_x.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    set(String::from_utf8(altered).unwrap(), x.id.clone()).await;
    expect_err(agent.token(&server, &x_id).await, 400, "invalid_grant").await;
    set(sealed_x, x.id.clone()).await;
    assert_eq!(token_bytes(&server, &agent, &x_id).await, x_body, "restored, it replays");
    assert_eq!(token_bytes(&server, &agent, &y_id).await, y_body);

    // The window ends before any sweep: gone, though the ciphertext is still there.
    server.clock.advance(120);
    expect_err(agent.token(&server, &y_id).await, 400, "invalid_grant").await;
    assert!(stored(&server, &y.id).await.0.is_some(), "not swept yet");
    countersign_server::testing::sweep_once(&server.state).await.unwrap();
    assert_eq!(stored(&server, &x.id).await, (None, None));
    assert_eq!(stored(&server, &y.id).await, (None, None));
    server.stop().await;
}

/// A replay never hands out a token that is no longer active: revoked by
/// its client, or of a user disabled since.
#[tokio::test]
async fn revoked_or_disabled_grants_are_not_replayed() {
    let (server, dev, agent) = user_device_and_agent(server().await, "oz").await;
    let (revoked_id, _) = approved(&server, &dev, &agent, "oz").await;
    let (disabled_id, _) = approved(&server, &dev, &agent, "oz").await;
    let tok: Value = serde_json::from_slice(&token_bytes(&server, &agent, &revoked_id).await).unwrap();
    token_bytes(&server, &agent, &disabled_id).await;

    let resp = agent.post("/revoke", &[("token", tok["access_token"].as_str().unwrap().into())], 0).await;
    assert_eq!(resp.status(), 200);
    let body = expect_err(agent.token(&server, &revoked_id).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "auth_req_id already redeemed");
    token_bytes(&server, &agent, &disabled_id).await;

    // The user disabled, the token not revoked (as by a direct change to
    // the database): the replay itself refuses a disabled user.
    sqlx::query("UPDATE users SET disabled = 1 WHERE username = 'oz'").execute(&server.state.db).await.unwrap();
    let body = expect_err(agent.token(&server, &disabled_id).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "auth_req_id already redeemed");
    server.stop().await;
}

/// Ping clients redeem at the token endpoint too: the same rule.
#[tokio::test]
async fn ping_clients_get_the_same_response_again() {
    let (server, dev) = user_and_device(server().await, "pat").await;
    let sink = PushSink::start().await;
    let agent = callback_agent(&server, "ping", &sink.url, json!({})).await;
    let (auth_req_id, req) = approved(&server, &dev, &agent, "pat").await;
    wait_for("the ping", || async { (!sink.delivered().is_empty()).then_some(()) }).await;
    let first = token_bytes(&server, &agent, &auth_req_id).await;
    assert_eq!(token_bytes(&server, &agent, &auth_req_id).await, first);
    assert_eq!(token_rows(&server, &req.id).await, 1);
    assert_eq!(sink.calls().len(), 1, "one ping");
    server.stop().await;
}

/// Push: the decision commits the tokens and the delivery in one
/// transaction; a delivery that failed (`failing`: the client answered 503)
/// or never reached the client (its endpoint was down) before the server
/// died is sent from the outbox after the restart, and delivered once, with
/// the tokens of the one grant.
async fn push_survives_a_crash(failing: bool) {
    let (server, dev) = user_and_device(server_with(|c| c.delivery.max_attempts = 1000).await, "quin").await;
    // The endpoint: answering 503, or not listening yet (its port reserved, then freed).
    let (sink, addr) = if failing {
        let sink = PushSink::start().await;
        sink.answer(503);
        let addr = sink.addr;
        (Some(sink), addr)
    } else {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        (None, l.local_addr().unwrap())
    };
    let agent = Agent::register(
        &server,
        json!({
            "backchannel_token_delivery_mode": "push",
            "backchannel_client_notification_endpoint": format!("http://{addr}/cb"),
        }),
    )
    .await;
    let (auth_req_id, req) = approved(&server, &dev, &agent, "quin").await;
    let attempts = "SELECT attempts FROM outbox WHERE request_id = $1 AND delivered_at IS NULL AND failed_at IS NULL";
    wait_for("a failed attempt", || async {
        (count(&server, &format!("SELECT COUNT(*) FROM ({attempts}) AS o WHERE attempts > 0"), &req.id).await == 1)
            .then_some(())
    })
    .await;
    assert_eq!(token_rows(&server, &req.id).await, 1, "the grant committed with the decision");
    if let Some(sink) = &sink {
        assert!(sink.delivered().is_empty());
    }

    let server = server.restart_after_crash().await.expect("restart");
    let sink = match sink {
        Some(s) => s,
        None => PushSink::start_on(&addr.to_string()).await,
    };
    sink.answer(204);
    let delivered = wait_for("the delivery after the restart", || async {
        let d = sink.delivered();
        (!d.is_empty()).then_some(d)
    })
    .await;
    wait_for("recorded as delivered", || async {
        (count(&server, "SELECT COUNT(*) FROM outbox WHERE request_id = $1 AND delivered_at IS NOT NULL", &req.id)
            .await
            == 1)
            .then_some(())
    })
    .await;
    countersign_server::testing::deliver_notifications_once(&server.state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.delivered().len(), 1, "delivered exactly once");
    let calls = sink.calls();
    assert!(calls.iter().all(|c| c.body == delivered[0].body), "every attempt carried the same tokens");
    assert_eq!(delivered[0].authorization.as_deref(), Some("Bearer cnt-0123456789abcdefghijklmnop"));
    let body: Value = serde_json::from_str(&delivered[0].body).unwrap();
    assert_eq!(body["auth_req_id"], auth_req_id);
    assert_eq!(jti_of(delivered[0].body.as_bytes()), the_one_jti(&server, &req.id).await);
    assert_eq!(token_rows(&server, &req.id).await, 1);
    server.stop().await;
}

#[tokio::test]
async fn a_failed_push_is_delivered_from_the_outbox_after_a_crash_once() {
    push_survives_a_crash(true).await;
}

#[tokio::test]
async fn an_undelivered_push_is_delivered_from_the_outbox_after_a_crash_once() {
    push_survives_a_crash(false).await;
}
