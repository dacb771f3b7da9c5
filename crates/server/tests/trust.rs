//! Trust boundaries, on a real server on a real socket: agent identity and
//! fatigue, outbound requests that cannot reach internal hosts, bounded work
//! per user and device, disabled meaning disabled, typed client JWTs, user
//! codes under a key, and a statement that binds the agent as shown.
//! Every outbound test target is on 127.0.0.0/8.

mod common;

use common::*;
use countersign_protocol::device::{Decision, DenyReason, HttpMethod, RequestList, UnverifiedBlock};
use countersign_protocol::jws::{DeviceKeyPair, JwtType, SignHeader};
use countersign_protocol::secret::{generate_url_safe, UserCode};
use countersign_server::testing::UNVERIFIABLE;
use countersign_server::testing::{query_pairs, TestServer};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A TCP listener that counts the connections it accepts; `hold` keeps them
/// open without answering (a hanging endpoint), otherwise they are closed.
struct Listener {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Listener {
    async fn start(hold: bool) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                if hold {
                    held.push(socket);
                }
            }
        });
        Listener { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:{port}{path}`.
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// An agent authenticating with `private_key_jwt`, its keys at `jwks_uri`.
async fn keys_at(server: &TestServer, jwks_uri: &str) -> Agent {
    Agent::register(server, json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri})).await
}

fn no_rates(c: &mut countersign_server::Config) {
    c.limits.user_per_minute = 0;
    c.limits.client_per_minute = 0;
}

/// A server with [`no_rates`], configured further by `f`.
async fn no_rates_with(f: impl FnOnce(&mut countersign_server::Config) + Send + 'static) -> TestServer {
    server_with(|c| {
        no_rates(c);
        f(c);
    })
    .await
}

async fn start_status(agent: &Agent, server: &TestServer, user: &str) -> (u16, Value) {
    let resp = agent.bc_authorize(server, &agent.request_params(user)).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------
// 2. Agent identity and fatigue
// ---------------------------------------------------------------------------

/// An unknown client cannot use up the user's budget: it gets 2 per minute
/// per user, while the user's cap (5) stays for everyone else.
#[tokio::test]
async fn unverified_clients_have_their_own_quota_below_the_users() {
    let server = server_with(|c| {
        let defaults = countersign_server::config::Limits::default();
        c.limits.unverified_user_client_per_minute = defaults.unverified_user_client_per_minute;
        c.limits.user_per_minute = defaults.user_per_minute;
    })
    .await;
    add_users(&server, &["una", "ugo"]).await;
    let spammer = Agent::register(&server, json!({"client_name": "IT Security"})).await;
    let other = Agent::register(&server, json!({})).await;
    let trusted = Agent::register(&server, json!({"client_name": "Portfolio Agent"})).await;
    verify(&server, &trusted).await;

    for _ in 0..2 {
        assert_eq!(start_status(&spammer, &server, "una").await.0, 200);
    }
    let resp = spammer.bc_authorize(&server, &spammer.request_params("una")).await;
    assert!(resp.headers().contains_key("retry-after"));
    expect_err(resp, 429, "slow_down").await;
    // The same client for another user, another unverified client for this
    // user, and the verified client still get through.
    assert_eq!(start_status(&spammer, &server, "ugo").await.0, 200);
    assert_eq!(start_status(&other, &server, "una").await.0, 200);
    assert_eq!(start_status(&trusted, &server, "una").await.0, 200);
    assert_eq!(start_status(&trusted, &server, "una").await.0, 200);
    // Five for una now: the user's cap holds for verified clients too.
    let (status, body) = start_status(&trusted, &server, "una").await;
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")), "{body}");
    server.clock.advance(61);
    assert_eq!(start_status(&spammer, &server, "una").await.0, 200);

    // Who vouched for the client, and when, is recorded.
    let clients = countersign_server::ops::list_clients(&server.state.db).await.unwrap();
    let row = clients.iter().find(|c| c.client_id == trusted.client_id).unwrap();
    assert_eq!(row.verified.as_ref().map(|(by, _)| by.as_str()), Some("operator:test"));
    assert!(clients.iter().find(|c| c.client_id == spammer.client_id).unwrap().verified.is_none());
    server.stop().await;
}

/// `not_me` denials of unverified clients count per user across all of
/// them; past the threshold every unverified client (a new one too) is
/// refused for that user until an operator or the user lifts the block.
#[tokio::test]
async fn not_me_denials_of_unverified_clients_block_them_all_until_lifted() {
    let server = server_with(no_rates).await;
    add_users(&server, &["quin", "rae"]).await;
    let dev = TestDevice::enroll(&server, "quin").await;
    let a = Agent::register(&server, json!({})).await;
    let b = Agent::register(&server, json!({})).await;
    let trusted = Agent::register(&server, json!({})).await;
    verify(&server, &trusted).await;
    for agent in [&a, &a, &b] {
        assert_eq!(start_status(agent, &server, "quin").await.0, 200);
        decide_first(&server, &dev, Decision::Deny, Some(DenyReason::NotMe)).await;
    }
    for agent in [&a, &b] {
        let (status, body) = start_status(agent, &server, "quin").await;
        assert_eq!((status, body["error"].as_str()), (403, Some("access_denied")), "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("unverified"), "{body}");
    }
    // Registering again does not help.
    let fresh = Agent::register(&server, json!({"client_name": "Totally New Agent"})).await;
    assert_eq!(start_status(&fresh, &server, "quin").await.0, 403);
    // Only unverified clients, only this user; and the window does not end it.
    assert_eq!(start_status(&trusted, &server, "quin").await.0, 200);
    assert_eq!(start_status(&a, &server, "rae").await.0, 200);
    server.clock.advance(2 * 24 * 3600);
    assert_eq!(start_status(&a, &server, "quin").await.0, 403);

    // The user sees the block, and an operator lifts it.
    let block: UnverifiedBlock = dev.get(&server, "/unverified-block").await.json().await.unwrap();
    assert!(block.blocked && block.since.is_some(), "{block:?}");
    let now = server.state.now();
    assert!(countersign_server::ops::unblock_unverified(
        &server.state.db,
        "quin",
        &countersign_server::ops::Actor::Labelled("operator:test"),
        now
    )
    .await
    .unwrap());
    server.clock.advance(1);
    assert_eq!(start_status(&fresh, &server, "quin").await.0, 200);
    // Denials before the lift no longer count: two more do not block, a
    // third does.
    let deny_from = |agent: &Agent| {
        let client_id = agent.client_id.clone();
        let (server, dev) = (&server, &dev);
        async move {
            let req = dev.pending(server).await.into_iter().find(|r| r.client.client_id == client_id).unwrap();
            assert_eq!(dev.decide(server, &req, Decision::Deny, Some(DenyReason::NotMe)).await.status(), 200);
        }
    };
    deny_from(&fresh).await;
    assert_eq!(start_status(&a, &server, "quin").await.0, 200);
    deny_from(&a).await;
    assert_eq!(start_status(&b, &server, "quin").await.0, 200);
    deny_from(&b).await;
    assert_eq!(start_status(&a, &server, "quin").await.0, 403, "three new denials block again");

    // The user lifts it from an approver.
    let url = format!("{}/unverified-block/lift", dev.endpoint);
    let proof = dev.proof(HttpMethod::Post, &url, server.state.now());
    let resp = dev.http.post(&url).header("Authorization", format!("Device {proof}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let lifted: UnverifiedBlock = resp.json().await.unwrap();
    assert!(!lifted.blocked && lifted.since.is_none());
    assert_eq!(start_status(&a, &server, "quin").await.0, 200);
    let resp = dev.http.post(&url).send().await.unwrap();
    expect_err(resp, 401, "invalid_token").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 6. Outbound requests cannot reach internal hosts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn registration_refuses_non_public_addresses() {
    let server = server_with(|c| {
        c.danger_allow_http_loopback_notifications = false;
        c.danger_allow_http_loopback_jwks_uri = false;
    })
    .await;
    let http = http();
    for host in [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "[::1]",
        "[fd00::1]",
        "[fe80::1]",
        "[::ffff:10.0.0.1]",
        "localhost",
    ] {
        for meta in [
            json!({"backchannel_token_delivery_mode": "ping",
                "backchannel_client_notification_endpoint": format!("https://{host}/cb")}),
            json!({"backchannel_token_delivery_mode": "poll", "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": format!("https://{host}/jwks")}),
        ] {
            let resp = http.post(server.url("/register")).json(&meta).send().await.unwrap();
            let body = expect_err(resp, 400, "invalid_client_metadata").await;
            assert!(body["error_description"].as_str().unwrap().contains("must not"), "{host}: {body}");
        }
    }
    // A public address or a name is accepted (names are checked when resolved).
    for url in ["https://93.184.215.14/cb", "https://agent.example.com/cb"] {
        let meta = json!({"backchannel_token_delivery_mode": "ping", "backchannel_client_notification_endpoint": url});
        assert_eq!(http.post(server.url("/register")).json(&meta).send().await.unwrap().status(), 201, "{url}");
    }
    server.stop().await;

    // The danger switches allow loopback, and nothing else.
    let dev_server = common::server().await;
    for (url, status) in [("http://127.0.0.1:9/cb", 201), ("https://10.0.0.1/cb", 400), ("http://192.168.0.1/cb", 400)]
    {
        let meta = json!({"backchannel_token_delivery_mode": "ping", "backchannel_client_notification_endpoint": url});
        let resp = http.post(dev_server.url("/register")).json(&meta).send().await.unwrap();
        assert_eq!(resp.status(), status, "{url}");
    }
    dev_server.stop().await;
}

/// A host name is checked when it is resolved: `agent.test` resolves to
/// 127.0.0.1 (a static host of the server), so no connection is made to it
/// for a `jwks_uri` or a notification endpoint; with the loopback switch on,
/// the same name is connected to (the guard is what stopped it).
#[tokio::test]
async fn names_resolving_to_internal_addresses_are_never_connected() {
    for allow_loopback in [false, true] {
        let listener = Listener::start(false).await;
        let server = server_with(move |c| {
            c.danger_allow_http_loopback_jwks_uri = allow_loopback;
            c.danger_allow_http_loopback_notifications = allow_loopback;
            c.static_hosts.insert("agent.test".into(), vec![IpAddr::from([127, 0, 0, 1])]);
        })
        .await;
        let dev = TestDevice::of_new_user(&server, "ivo").await;
        let keyed = keys_at(&server, &format!("https://agent.test:{}/jwks", listener.port)).await;
        let resp = keyed.bc_authorize(&server, &keyed.request_params("ivo")).await;
        let body = expect_err(resp, 401, "invalid_client").await;
        assert_eq!(body["error_description"], UNVERIFIABLE);
        let after_jwks = listener.accepted();
        assert_eq!(after_jwks > 0, allow_loopback, "jwks_uri connected to: {after_jwks}");

        let pinged = callback_agent(&server, "ping", &format!("https://agent.test:{}", listener.port), json!({})).await;
        pinged.start(&server, "ivo").await;
        decide_first(&server, &dev, Decision::Approve, None).await;
        wait_for("a failed delivery attempt", || async {
            let rows = query_pairs(&server.state, "SELECT delivered_at, attempts FROM outbox").await;
            rows.first().filter(|(_, attempts)| *attempts >= 1).cloned()
        })
        .await;
        assert_eq!(listener.accepted() > after_jwks, allow_loopback, "notification endpoint connected to");
        server.stop().await;
    }
}

/// A failing `jwks_uri` is not fetched on every assertion (backoff), and
/// every key failure reads the same from outside.
#[tokio::test]
async fn key_fetch_failures_back_off_and_read_alike() {
    let server = server_with(no_rates).await;
    add_user(&server, "kai").await;
    let counting = Listener::start(false).await;
    let down = keys_at(&server, &counting.url("/jwks")).await;
    let description = |resp: reqwest::Response| async {
        let body = expect_err(resp, 401, "invalid_client").await;
        body["error_description"].as_str().unwrap().to_owned()
    };
    let first = description(down.bc_authorize(&server, &down.request_params("kai")).await).await;
    assert_eq!(counting.accepted(), 1);
    let again = description(down.bc_authorize(&server, &down.request_params("kai")).await).await;
    assert_eq!(counting.accepted(), 1, "not fetched again within the backoff");
    server.clock.advance(11);
    description(down.bc_authorize(&server, &down.request_params("kai")).await).await;
    assert_eq!(counting.accepted(), 2, "fetched again after 10 s");
    description(down.bc_authorize(&server, &down.request_params("kai")).await).await;
    server.clock.advance(11);
    description(down.bc_authorize(&server, &down.request_params("kai")).await).await;
    assert_eq!(counting.accepted(), 2, "the second failure waits 20 s");

    // A document without a usable key, and a good key with a wrong
    // signature, answer exactly the same as the unreachable URL.
    let rx = Receiver::start().await;
    *rx.state.jwks.lock().unwrap() = Some(json!({"keys": []}));
    let empty = keys_at(&server, &format!("{}/jwks", rx.url)).await;
    let no_key = description(empty.bc_authorize(&server, &empty.request_params("kai")).await).await;
    let mut wrong = Agent::register(&server, json!({"token_endpoint_auth_method": "private_key_jwt"})).await;
    wrong.key = Arc::new(DeviceKeyPair::generate().unwrap());
    let bad_signature = description(wrong.bc_authorize(&server, &wrong.request_params("kai")).await).await;
    for text in [first, again, no_key, bad_signature] {
        assert_eq!(text, UNVERIFIABLE);
    }
    server.stop().await;
}

/// Ping deliveries run with a per-client limit: a hanging endpoint holds back
/// its own client only.
#[tokio::test]
async fn a_hanging_notification_endpoint_delays_only_its_own_client() {
    let (server, dev) =
        user_and_device(no_rates_with(|c| c.delivery.timeout = Duration::from_secs(60)).await, "hal").await;
    let hanging = Listener::start(true).await;
    let slow = callback_agent(&server, "ping", &hanging.url(""), json!({})).await;
    // A backlog larger than a round of the delivery task (32 rows plus those
    // in flight): the other client's row must still be fetched.
    for _ in 0..40 {
        slow.start(&server, "hal").await;
        decide_first(&server, &dev, Decision::Approve, None).await;
    }
    wait_for("the slow client's deliveries to hang", || async { (hanging.accepted() >= 2).then_some(()) }).await;
    let (rx, fast) = notified_agent(&server, "ping", json!({})).await;
    let ack = fast.start(&server, "hal").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    let calls = rx.wait_calls("/cb", 1).await;
    assert_eq!(serde_json::from_str::<Value>(&calls[0].body).unwrap()["auth_req_id"], ack["auth_req_id"]);
    assert_eq!(hanging.accepted(), 2, "at most two deliveries of one client at once");
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 7. Bounded work per user and per device
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_request_list_comes_in_pages() {
    let (server, dev, agent) =
        user_device_and_agent(no_rates_with(|c| c.limits.max_pending_per_user = 0).await, "pam").await;
    for _ in 0..25 {
        agent.start(&server, "pam").await;
    }
    let mut seen = Vec::new();
    let mut path = "/requests?status=pending".to_owned();
    let mut sizes = Vec::new();
    loop {
        let resp = dev.get(&server, &path).await;
        assert_eq!(resp.status(), 200);
        let page: RequestList = resp.json().await.unwrap();
        sizes.push(page.requests.len());
        seen.extend(page.requests.into_iter().map(|r| (r.created_at, r.id)));
        match page.next_cursor {
            Some(c) => path = format!("/requests?status=pending&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "every request once");
    let page: RequestList = dev.get(&server, "/requests?limit=20").await.json().await.unwrap();
    assert_eq!(page.requests.len(), 20);
    for bad in ["limit=0", "limit=21", "limit=x", "cursor=nope", "cursor=", "status=all"] {
        let resp = dev.get(&server, &format!("/requests?{bad}")).await;
        expect_err(resp, 400, "invalid_request").await;
    }
    server.stop().await;
}

#[tokio::test]
async fn pending_requests_per_user_are_capped() {
    let (server, dev, agent) =
        user_device_and_agent(no_rates_with(|c| c.limits.max_pending_per_user = 3).await, "pia").await;
    add_user(&server, "pol").await;
    for _ in 0..3 {
        agent.start(&server, "pia").await;
    }
    let resp = agent.bc_authorize(&server, &agent.request_params("pia")).await;
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // Until the first of them expires: 300 s, one more when it was made
    // between two whole seconds (a request's end is rounded up).
    assert!((1..=301).contains(&retry), "{retry}");
    let body = expect_err(resp, 429, "slow_down").await;
    assert!(body["error_description"].as_str().unwrap().contains("3 pending requests"), "{body}");
    assert_eq!(start_status(&agent, &server, "pol").await.0, 200, "another user is not affected");
    decide_first(&server, &dev, Decision::Deny, Some(DenyReason::Other)).await;
    assert_eq!(start_status(&agent, &server, "pia").await.0, 200, "a decision frees a place");
    server.clock.advance(301);
    assert_eq!(start_status(&agent, &server, "pia").await.0, 200, "expired requests do not count");
    server.stop().await;
}

#[tokio::test]
async fn the_stored_details_of_a_request_are_capped() {
    let size = details().to_string().len();
    let (server, agent) = user_and_agent(server_with(move |c| c.max_details_bytes = size - 1).await, "dee").await;
    let (status, body) = start_status(&agent, &server, "dee").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_authorization_details")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains(&format!("at most {}", size - 1)), "{body}");
    server.stop().await;
    let (server, agent) = user_and_agent(server_with(move |c| c.max_details_bytes = size).await, "dee").await;
    assert_eq!(start_status(&agent, &server, "dee").await.0, 200);
    server.stop().await;
}

/// A device keeps at most four event streams (a fifth closes the oldest),
/// and the streams of a user share one read of the log per wake-up.
#[tokio::test]
async fn event_streams_are_capped_per_device_and_share_their_reads() {
    let (server, dev) = user_and_device(server_with(no_rates).await, "eve").await;
    let other = TestDevice::enroll(&server, "eve").await;
    let agent = Agent::register(&server, json!({})).await;
    let mut streams = Vec::new();
    for _ in 0..4 {
        streams.push(dev.events(&server, None).await);
    }
    let fifth = dev.events(&server, None).await;
    assert!(streams[0].ends_within(WAIT).await, "the oldest stream is closed");
    assert_eq!(server.state.hub.open_streams(dev.id.as_str()), 4);
    streams.remove(0);
    streams.push(fifth);
    streams.push(other.events(&server, None).await);
    // Every stream has read once; then one request wakes all six.
    agent.start(&server, "eve").await;
    for s in &mut streams {
        expect_request(s.next_event(WAIT).await);
    }
    let before = server.state.hub.reads();
    agent.start(&server, "eve").await;
    for s in &mut streams {
        expect_request(s.next_event(WAIT).await);
    }
    assert_eq!(server.state.hub.reads() - before, 1, "one read for the user's six streams");
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 8. Disabled means disabled
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_disabled_client_gets_nothing_more() {
    let (server, dev) = user_and_device(no_rates_with(|c| c.delivery.max_attempts = 10_000).await, "dan").await;
    // A pending request is withdrawn at once, and its decision refused.
    let (_rx, pusher) = notified_agent(&server, "push", json!({})).await;
    let mut sse = dev.events(&server, None).await;
    pusher.start(&server, "dan").await;
    let (_, req) = expect_request(sse.next_event(WAIT).await);
    server.state.disable_client(&pusher.client_id, &countersign_server::ops::Actor::Operator).await.unwrap();
    match sse.next_event(WAIT).await {
        Some((_, countersign_protocol::device::DeviceEvent::Withdrawn(w))) => {
            assert_eq!((w.id, w.reason), (req.id.clone(), countersign_protocol::device::WithdrawReason::Cancelled));
        }
        other => panic!("expected withdrawn, got {other:?}"),
    }
    let resp = dev.decide(&server, &req, Decision::Approve, None).await;
    expect_err(resp, 410, "request_withdrawn").await;
    let resp = pusher.bc_authorize(&server, &pusher.request_params("dan")).await;
    expect_err(resp, 400, "unauthorized_client").await;

    // A push of tokens still queued (the endpoint failing) is dropped.
    let failing = Receiver::start().await;
    *failing.state.fail_first.lock().unwrap() = 1_000;
    let queued = callback_agent(&server, "push", &failing.url, json!({})).await;
    queued.start(&server, "dan").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    failing.wait_calls("/cb", 1).await;
    server.state.disable_client(&queued.client_id, &countersign_server::ops::Actor::Operator).await.unwrap();
    wait_for("no delivery in flight", || async { server.state.deliveries.is_empty().then_some(()) }).await;
    let row = sqlx::query("SELECT failed_at, payload, last_error FROM outbox WHERE client_id = $1")
        .bind(&queued.client_id)
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    use sqlx::Row as _;
    assert!(row.try_get::<Option<i64>, _>("failed_at").unwrap().is_some());
    assert_eq!(row.try_get::<String, _>("payload").unwrap(), "", "the tokens are gone");
    assert_eq!(row.try_get::<String, _>("last_error").unwrap(), "the client was disabled");
    let calls = failing.calls("/cb").len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(failing.calls("/cb").len(), calls, "no attempt after disabling");

    // Tokens already issued are revoked.
    let poller = Agent::register(&server, json!({})).await;
    let ack = poller.start(&server, "dan").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    assert_eq!(poller.token(&server, ack["auth_req_id"].as_str().unwrap()).await.status(), 200);
    server.state.disable_client(&poller.client_id, &countersign_server::ops::Actor::Operator).await.unwrap();
    let revoked = query_pairs(
        &server.state,
        &format!("SELECT revoked_at, issued_at FROM tokens WHERE client_id = '{}'", poller.client_id),
    )
    .await;
    assert!(matches!(revoked.as_slice(), [(Some(_), _)]), "{revoked:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_disabled_user_gets_no_tokens() {
    let (server, dev, agent) = user_device_and_agent(server_with(no_rates).await, "zed").await;
    // A token issued before, and an approval not yet redeemed.
    let ack = agent.start(&server, "zed").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    let tok: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let approved = agent.start(&server, "zed").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    // A ping client's pending request.
    let (rx, pinger) = notified_agent(&server, "ping", json!({})).await;
    let pinged = pinger.start(&server, "zed").await;

    server.state.disable_user("zed", &countersign_server::ops::Actor::Operator).await.unwrap();
    expect_token_err(&server, &agent, &approved, "access_denied").await;
    let intro: Value = agent.post("/introspect", &[("token", access)], server.state.now()).await.json().await.unwrap();
    assert_eq!(intro, json!({"active": false}));
    // The ping client is told, polls, and is refused.
    let calls = rx.wait_calls("/cb", 1).await;
    assert_eq!(serde_json::from_str::<Value>(&calls[0].body).unwrap()["auth_req_id"], pinged["auth_req_id"]);
    expect_token_err(&server, &pinger, &pinged, "access_denied").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 9. Protocol tightening
// ---------------------------------------------------------------------------

/// A client assertion, a signed request and a `login_hint_token` each have
/// their own `typ`; a JWT made for one use is refused for another.
#[tokio::test]
async fn client_signed_jwts_are_typed_for_their_use() {
    let server = server_with(no_rates).await;
    add_user(&server, "tom").await;
    let agent = Agent::register(
        &server,
        json!({"token_endpoint_auth_method": "private_key_jwt", "backchannel_authentication_request_signing_alg": "ES256"}),
    )
    .await;
    let now = server.state.now();
    let assertion = |typ: Option<JwtType>| {
        let claims = json!({"iss": agent.client_id, "sub": agent.client_id, "aud": server.base_url,
            "exp": now + 60, "iat": now, "jti": generate_url_safe(16).unwrap()});
        agent.key.sign(&SignHeader { typ, kid: Some("k1".into()) }, &claims).unwrap()
    };
    let request = |claims: &Value| agent.sign_request(claims);
    let object = |nbf: Option<u64>, exp: u64| {
        let mut o = json!({"iss": agent.client_id, "aud": server.base_url, "iat": now, "exp": exp,
            "jti": generate_url_safe(16).unwrap(), "scope": "openid payments", "login_hint": "tom",
            "binding_message": "PAY-1", "authorization_details": details()});
        if let Some(nbf) = nbf {
            o["nbf"] = json!(nbf);
        }
        o
    };
    let send = |assertion: String, signed: String| {
        let http = agent.http.clone();
        let url = server.url("/bc-authorize");
        async move {
            http.post(url)
                .form(&[
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
                    ("client_assertion", assertion),
                    ("request", signed),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Client assertions: none, JWT or client-authentication+jwt.
    for typ in [None, Some(JwtType::Jwt), Some(JwtType::ClientAuthentication)] {
        let resp = send(assertion(typ.clone()), request(&object(Some(now), now + 300))).await;
        assert_eq!(resp.status(), 200, "{typ:?}: {}", resp.text().await.unwrap());
    }
    let resp = send(assertion(Some(JwtType::RequestObject)), request(&object(Some(now), now + 300))).await;
    let body = expect_err(resp, 401, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("typ"), "{body}");
    // A signed request must say so, and carry nbf (CIBA Core §7.1.1).
    let as_jwt = agent.sign(&object(Some(now), now + 300));
    let body = expect_err(send(assertion(None), as_jwt).await, 400, "invalid_request_object").await;
    assert!(body["error_description"].as_str().unwrap().contains("oauth-authz-req+jwt"), "{body}");
    let body =
        expect_err(send(assertion(None), request(&object(None, now + 300))).await, 400, "invalid_request_object").await;
    assert!(body["error_description"].as_str().unwrap().contains("nbf is required"), "{body}");
    let stale = request(&object(Some(now.saturating_sub(3000)), now + 900));
    let body = expect_err(send(assertion(None), stale).await, 400, "invalid_request_object").await;
    assert!(body["error_description"].as_str().unwrap().contains("60 minutes after nbf"), "{body}");
    // A request object is not a client assertion.
    let object_as_assertion = request(&json!({"iss": agent.client_id, "sub": agent.client_id,
        "aud": server.base_url, "exp": now + 60, "iat": now, "nbf": now, "jti": generate_url_safe(16).unwrap()}));
    let resp = send(object_as_assertion, request(&object(Some(now), now + 300))).await;
    expect_err(resp, 401, "invalid_client").await;
    server.stop().await;

    // login_hint_token: none or JWT only.
    let server = server_with(no_rates).await;
    add_user(&server, "tom").await;
    let agent = Agent::register(&server, json!({"token_endpoint_auth_method": "private_key_jwt"})).await;
    let now = server.state.now();
    let lht = |typ: JwtType| {
        agent.sign_typed(
            typ,
            &json!({"iss": agent.client_id, "aud": server.base_url, "exp": now + 60,
                "sub_id": {"format": "username", "username": "tom"}}),
        )
    };
    let base = without(agent.request_params("tom"), "login_hint");
    let ok = agent.bc_authorize(&server, &with(base.clone(), "login_hint_token", &lht(JwtType::Jwt))).await;
    assert_eq!(ok.status(), 200);
    let resp = agent.bc_authorize(&server, &with(base, "login_hint_token", &lht(JwtType::RequestObject))).await;
    let body = expect_err(resp, 400, "invalid_request").await;
    assert!(body["error_description"].as_str().unwrap().contains("typ"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn an_id_token_hint_must_be_issued_to_the_requesting_client() {
    let (server, dev, first) = user_device_and_agent(server_with(no_rates).await, "ida").await;
    let second = Agent::register(&server, json!({})).await;
    let ack = first.start(&server, "ida").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    let tok: Value = first.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    let id_token = id_token_str(&tok);
    let hinted = |agent: &Agent| with(without(agent.request_params("ida"), "login_hint"), "id_token_hint", &id_token);
    assert_eq!(first.bc_authorize(&server, &hinted(&first)).await.status(), 200);
    let body = expect_err(second.bc_authorize(&server, &hinted(&second)).await, 400, "invalid_request").await;
    assert!(body["error_description"].as_str().unwrap().contains("not issued to this client"), "{body}");
    server.stop().await;
}

/// `user_code`s are stored as an HMAC under the key file beside the
/// database, not as a bare hash; old bare hashes still work once, then are
/// replaced.
#[tokio::test]
async fn user_codes_are_stored_under_a_key_outside_the_database() {
    use sqlx::Row as _;
    let server = server_with(no_rates).await;
    add_user(&server, "uli").await;
    let stored = || async {
        let row = sqlx::query("SELECT user_code_hash FROM users WHERE username = 'uli'")
            .fetch_one(&server.state.db)
            .await
            .unwrap();
        row.try_get::<String, _>("user_code_hash").unwrap()
    };
    countersign_server::ops::set_user_code(
        &server.state.db,
        &server.state.user_code_key,
        "uli",
        &UserCode::new("4711".into()),
        &countersign_server::ops::Actor::Operator,
        server.state.now(),
    )
    .await
    .unwrap();
    let sealed = stored().await;
    assert!(sealed.starts_with("hmac-sha256:"), "{sealed}");
    assert!(!sealed.contains(&countersign_server::testing::hash_secret("4711")), "not the bare SHA-256");
    let key_file = server.secret_key_file.clone();
    assert!(key_file.is_file(), "{}", key_file.display());
    let agent = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    let params = |code: &str| with(agent.request_params("uli"), "user_code", code);
    assert_eq!(agent.bc_authorize(&server, &params("4711")).await.status(), 200);
    expect_err(agent.bc_authorize(&server, &params("4712")).await, 400, "invalid_user_code").await;

    sqlx::query("UPDATE users SET user_code_hash = $1 WHERE username = 'uli'")
        .bind(countersign_server::testing::hash_secret("1234"))
        .execute(&server.state.db)
        .await
        .unwrap();
    assert_eq!(agent.bc_authorize(&server, &params("1234")).await.status(), 200, "a legacy hash still matches");
    assert!(stored().await.starts_with("hmac-sha256:"), "and is replaced by the HMAC");
    assert_eq!(agent.bc_authorize(&server, &params("1234")).await.status(), 200);
    server.stop().await;
}

/// Spending an enrollment ticket is one conditional update that must change
/// one row: a second spend of the same ticket finds none.
#[tokio::test]
async fn a_ticket_is_spent_once() {
    let server = server().await;
    let ticket = new_user_ticket(&server, "tia").await;
    let now = server.state.now();
    let mut conn = server.state.db.acquire().await.unwrap();
    let spent = countersign_server::testing::spend_ticket(&mut conn, &ticket, now).await.unwrap();
    assert_eq!(spent.map(|u| u.name), Some("tia name".to_owned()));
    assert!(countersign_server::testing::spend_ticket(&mut conn, &ticket, now).await.unwrap().is_none());
    drop(conn);
    server.stop().await;
}

// ---------------------------------------------------------------------------
// 10. The statement binds the agent as shown
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_statement_binds_the_agent_risk_and_steps_as_shown() {
    let (server, dev) = user_and_device(server_with(no_rates).await, "sol").await;
    let agent = Agent::register(&server, json!({"client_name": "Portfolio Agent"})).await;
    agent.start(&server, "sol").await;
    let req = dev.pending(&server).await.remove(0);
    assert!(!req.client.verified);
    // Verified after the request was made: the request keeps what was shown.
    verify(&server, &agent).await;
    assert!(!dev.pending(&server).await[0].client.verified, "the agent as sent stays as sent");
    // A decision signed over another agent, risk or step-up is refused.
    let mut shown_verified = req.clone();
    shown_verified.client.verified = true;
    let mut other_name = req.clone();
    other_name.client.client_name = "Portfolio Agent (verified)".into();
    use countersign_protocol::device::{Requirement, Risk};
    let mut lower_risk = req.clone();
    lower_risk.risk = if req.risk == Risk::Low { Risk::High } else { Risk::Low };
    let mut no_steps = req.clone();
    no_steps.requires = if req.requires.is_empty() { vec![Requirement::UserVerification] } else { vec![] };
    for forged in [shown_verified, other_name, lower_risk, no_steps] {
        let body = forged_submission(&server, &dev, &forged);
        let resp = dev.submit(&server, &req.id, &body).await;
        expect_err(resp, 400, "statement_mismatch").await;
    }
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    // A new request shows the client as verified now.
    agent.start(&server, "sol").await;
    assert!(dev.pending(&server).await[0].client.verified);
    server.stop().await;
}

fn forged_submission(
    server: &TestServer,
    dev: &TestDevice,
    shown: &countersign_protocol::device::ApproverRequest,
) -> countersign_protocol::device::DecisionSubmission {
    dev.submission(shown, Decision::Approve, None, server.state.now())
}

/// Unverified clients together may keep at most 5 requests of a user
/// pending, for at most 5 minutes each, so they cannot fill the user's place
/// for the agents an operator vouched for.
#[tokio::test]
async fn unverified_clients_cannot_fill_the_users_pending_requests() {
    let server = no_rates_with(|c| {
        let defaults = countersign_server::Config::new(c.issuer.clone());
        c.limits.max_pending_unverified_per_user = defaults.limits.max_pending_unverified_per_user;
        c.unverified_max_expiry_secs = defaults.unverified_max_expiry_secs;
    })
    .await;
    add_user(&server, "una").await;
    let a = Agent::register(&server, json!({})).await;
    let b = Agent::register(&server, json!({})).await;
    let trusted = Agent::register(&server, json!({})).await;
    verify(&server, &trusted).await;
    for agent in [&a, &a, &a, &b, &b] {
        let ack = agent.bc_authorize(&server, &with(agent.request_params("una"), "requested_expiry", "3600")).await;
        let ack: Value = ack.json().await.unwrap();
        assert_eq!(ack["expires_in"], 300, "an unverified client's request lives 5 minutes at most");
    }
    let (status, body) = start_status(&b, &server, "una").await;
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("5 pending requests from unverified clients"));
    let ack = trusted.bc_authorize(&server, &with(trusted.request_params("una"), "requested_expiry", "3600")).await;
    let ack: Value = ack.json().await.unwrap();
    assert_eq!(ack["expires_in"], 3600, "a verified agent still gets through, with its expiry");
    server.clock.advance(301);
    assert_eq!(start_status(&b, &server, "una").await.0, 200, "expired ones make room");
    server.stop().await;
}

/// When the block of unverified clients starts, the user's pending requests
/// from unverified clients are withdrawn, and their agents told.
#[tokio::test]
async fn the_block_withdraws_pending_requests_of_unverified_clients() {
    let (server, dev, noisy) = user_device_and_agent(server_with(no_rates).await, "bea").await;
    let waiting = Agent::register(&server, json!({})).await;
    let trusted = Agent::register(&server, json!({})).await;
    verify(&server, &trusted).await;
    let pending = waiting.start(&server, "bea").await;
    let kept = trusted.start(&server, "bea").await;
    for _ in 0..3 {
        noisy.start(&server, "bea").await;
        let req = dev.pending(&server).await.into_iter().find(|r| r.client.client_id == noisy.client_id).unwrap();
        assert_eq!(dev.decide(&server, &req, Decision::Deny, Some(DenyReason::NotMe)).await.status(), 200);
    }
    let left: Vec<String> = dev.pending(&server).await.into_iter().map(|r| r.client.client_id).collect();
    assert_eq!(left, vec![trusted.client_id.clone()], "only the verified agent's request stays");
    expect_token_err(&server, &waiting, &pending, "access_denied").await;
    expect_token_err(&server, &trusted, &kept, "authorization_pending").await;
    server.stop().await;
}

/// A client blocked for a user is refused before its `user_code` is
/// compared: it cannot lock the user's code for the user's real agents.
#[tokio::test]
async fn a_blocked_client_cannot_lock_the_users_code() {
    let (server, dev) = user_and_device(server_with(no_rates).await, "cy").await;
    countersign_server::ops::set_user_code(
        &server.state.db,
        &server.state.user_code_key,
        "cy",
        &UserCode::new("4711".into()),
        &countersign_server::ops::Actor::Operator,
        server.state.now(),
    )
    .await
    .unwrap();
    let noisy = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    let trusted = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    verify(&server, &trusted).await;
    for _ in 0..3 {
        noisy.bc_authorize(&server, &with(noisy.request_params("cy"), "user_code", "4711")).await;
        decide_first(&server, &dev, Decision::Deny, Some(DenyReason::NotMe)).await;
    }
    for _ in 0..8 {
        let resp = noisy.bc_authorize(&server, &with(noisy.request_params("cy"), "user_code", "0000")).await;
        expect_err(resp, 403, "access_denied").await;
    }
    let resp = trusted.bc_authorize(&server, &with(trusted.request_params("cy"), "user_code", "4711")).await;
    assert_eq!(resp.status(), 200, "the user's code is not locked");
    server.stop().await;
}

/// A `jwks_uri` that hangs is fetched once however many assertions arrive
/// at once (single flight).
#[tokio::test]
async fn concurrent_assertions_make_one_jwks_fetch() {
    let server = no_rates_with(|c| c.delivery.timeout = Duration::from_secs(3)).await;
    add_user(&server, "jo").await;
    let hanging = Listener::start(true).await;
    let agent = keys_at(&server, &hanging.url("/jwks")).await;
    let params = agent.request_params("jo");
    let calls: Vec<_> = (0..8).map(|_| agent.bc_authorize(&server, &params)).collect();
    for resp in futures_util::future::join_all(calls).await {
        let body = expect_err(resp, 401, "invalid_client").await;
        assert_eq!(body["error_description"], UNVERIFIABLE);
    }
    assert_eq!(hanging.accepted(), 1, "one fetch for eight assertions");
    server.stop().await;
}

/// Keys fetched before the `jwks_uri` failed are used for a day at most: a
/// key the client removed does not stay valid while its URL is down.
#[tokio::test]
async fn stale_client_keys_are_used_for_a_day_at_most() {
    use axum::routing::get;
    let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let key = DeviceKeyPair::generate().unwrap();
    let jwks = client_jwks(&key);
    let state = (up.clone(), jwks);
    let app = axum::Router::new()
        .route(
            "/jwks",
            get(
                |axum::extract::State((up, jwks)): axum::extract::State<(
                    Arc<std::sync::atomic::AtomicBool>,
                    Value,
                )>| async move {
                    if up.load(Ordering::SeqCst) {
                        Ok(axum::Json(jwks))
                    } else {
                        Err(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                    }
                },
            ),
        )
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = server_with(no_rates).await;
    add_user(&server, "sy").await;
    let agent = keys_at(&server, &format!("http://127.0.0.1:{port}/jwks")).await;
    let agent = Agent { key: Arc::new(key), ..agent };
    assert_eq!(start_status(&agent, &server, "sy").await.0, 200);
    up.store(false, Ordering::SeqCst);
    server.clock.advance(301);
    assert_eq!(start_status(&agent, &server, "sy").await.0, 200, "the keys of an hour ago, the URL down");
    server.clock.advance(24 * 3600);
    let (status, body) = start_status(&agent, &server, "sy").await;
    assert_eq!((status, body["error_description"].as_str()), (401, Some(UNVERIFIABLE)), "{body}");
    server.stop().await;
}

/// Disabling a user turns their undelivered pushed tokens into the push
/// error `access_denied`: the client never gets them.
#[tokio::test]
async fn a_disabled_users_queued_push_becomes_a_denial() {
    let (server, dev) = user_and_device(no_rates_with(|c| c.delivery.max_attempts = 10_000).await, "pu").await;
    let rx = Receiver::start().await;
    *rx.state.fail_first.lock().unwrap() = 1_000_000;
    let agent = callback_agent(&server, "push", &rx.url, json!({})).await;
    agent.start(&server, "pu").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    let first = rx.wait_calls("/cb", 1).await;
    assert!(first[0].body.contains("access_token"), "the tokens were being pushed");
    server.state.disable_user("pu", &countersign_server::ops::Actor::Operator).await.unwrap();
    *rx.state.fail_first.lock().unwrap() = 0;
    let delivered = wait_for("the delivery after disabling", || async {
        rx.calls("/cb").into_iter().rev().find(|c| !c.body.contains("access_token"))
    })
    .await;
    let body: Value = serde_json::from_str(&delivered.body).unwrap();
    assert_eq!(body["error"], "access_denied", "{body}");
    assert!(rx.calls("/cb").iter().rev().take_while(|c| !c.body.contains("access_token")).count() >= 1);
    server.stop().await;
}

/// What approvers receive is bounded as a whole: a request whose other
/// strings (here `acr_values`) are too large is refused, and a page of the
/// request list ends at a byte budget below the 1 MiB an approver accepts.
#[tokio::test]
async fn every_request_and_page_sent_to_approvers_is_bounded() {
    let server = no_rates_with(|c| {
        c.limits.max_pending_per_user = 0;
        c.max_body_bytes = 256 * 1024;
    })
    .await;
    let dev = TestDevice::of_new_user(&server, "by").await;
    let agent = Agent::register(&server, json!({})).await;
    let acr = |n: usize| (0..n).map(|i| format!("urn:x:{i:04}{}", "a".repeat(56))).collect::<Vec<_>>().join(" ");
    let resp = agent.bc_authorize(&server, &with(agent.request_params("by"), "acr_values", &acr(700))).await;
    let body = expect_err(resp, 400, "invalid_request").await;
    assert!(body["error_description"].as_str().unwrap().contains("as sent to the user's approvers"), "{body}");
    // Twenty requests of about 38 KiB each: one page of 20 would be 760 KiB
    // and more; the server ends it earlier.
    for _ in 0..20 {
        let resp = agent.bc_authorize(&server, &with(agent.request_params("by"), "acr_values", &acr(590))).await;
        assert_eq!(resp.status(), 200);
    }
    let mut path = "/requests?limit=20".to_owned();
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let resp = dev.get(&server, &path).await;
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.len() < 800 * 1024, "{} bytes in one page", bytes.len());
        let page: RequestList = serde_json::from_slice(&bytes).unwrap();
        seen += page.requests.len();
        pages += 1;
        match page.next_cursor {
            Some(c) => path = format!("/requests?limit=20&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((seen, pages > 1), (20, true), "all twenty, over more than one page");
    server.stop().await;
}
