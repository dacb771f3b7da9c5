//! End-to-end flows over real sockets and SQLite files: one per delivery
//! mode, denial, expiry, SSE resume and heartbeats, restart, delivery
//! retries and redirects, key rotation.

mod common;

use common::*;
use countersign_protocol::ciba::PushCallback;
use countersign_protocol::device::{Decision, DenyReason, DeviceEvent, RequestState, RequestStatus, WithdrawReason};
use serde_json::{json, Value};
use std::time::Duration;

const SHORT: Duration = Duration::from_millis(300);

/// The error code a push callback `body` carries (it must be an error), and
/// its `auth_req_id`.
fn push_error(body: &str) -> (String, String) {
    match PushCallback::from_json(body).unwrap() {
        PushCallback::Error(e) => (e.error().as_str().to_owned(), e.auth_req_id().secret().to_owned()),
        other => panic!("expected a push error, got {other:?}"),
    }
}

/// Checks a token response: signatures against the JWKS, claims, at_hash.
async fn check_tokens(
    server: &countersign_server::testing::TestServer,
    agent: &Agent,
    sub: &str,
    tok: &Value,
) -> Value {
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["authorization_details"], details(), "granted details are the approved ones");
    let access = tok["access_token"].as_str().unwrap();
    let claims = verify_jwt(server, access, "at+jwt").await;
    assert_eq!(claims["iss"], server.base_url);
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["client_id"], agent.client_id);
    assert_eq!(claims["act"], json!({ "sub": agent.client_id }));
    assert_eq!(claims["aud"], server.base_url, "RFC 9068: aud defaults to the issuer");
    assert_eq!(claims["scope"], "openid payments");
    assert_eq!(claims["authorization_details"], details());
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 22));
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
    let id = verify_jwt(server, &id_token_str(tok), "JWT").await;
    assert_eq!(id["aud"], agent.client_id);
    assert_eq!(id["sub"], sub);
    assert_eq!(id["at_hash"], countersign_server::testing::at_hash(access));
    id
}

#[tokio::test]
async fn poll_flow_sse_and_poll_two_devices_approve() {
    let server = server().await;
    let sub = add_user(&server, "zoe").await;
    let dev = TestDevice::enroll(&server, "zoe").await;
    let other = TestDevice::enroll(&server, "zoe").await;
    assert_eq!(dev.sub, sub);
    let mut sse = dev.events(&server, None).await;
    let mut other_sse = other.events(&server, None).await;
    let agent = Agent::register(&server, json!({})).await;

    let ack = agent.start(&server, "zoe").await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    assert!(auth_req_id.len() >= 27, "auth_req_id carries at least 160 bits");
    assert_eq!(ack["interval"], 5);
    assert_eq!(ack["expires_in"], 300);

    // By SSE and by poll.
    let (_, pushed) = expect_request(sse.next_event(WAIT).await);
    let (_, _) = expect_request(other_sse.next_event(WAIT).await);
    let polled = dev.pending(&server).await;
    assert_eq!(polled.len(), 1);
    assert_eq!(polled[0], pushed);
    assert_eq!(pushed.client.client_id, agent.client_id);
    assert_eq!(pushed.binding_message, "PAY-4F7Q");
    assert_eq!(pushed.authorization_details.to_value(), details());
    assert_eq!(pushed.scope, vec!["openid", "payments"]);

    let (status, code, _) = error_of(agent.token(&server, &auth_req_id).await).await;
    assert_eq!((status, code.as_str()), (400, "authorization_pending"));

    let resp = dev.decide(&server, &pushed, Decision::Approve, None).await;
    assert_eq!(resp.status(), 200);
    let result: Value = resp.json().await.unwrap();
    assert_eq!(result["status"], "approved");

    // The other device is told; the deciding one is not.
    match other_sse.next_event(WAIT).await {
        Some((_, DeviceEvent::Withdrawn(w))) => {
            assert_eq!(w.id, pushed.id);
            assert_eq!(w.reason, WithdrawReason::DecidedElsewhere);
        }
        e => panic!("expected withdrawn, got {e:?}"),
    }
    assert!(sse.next_event(SHORT).await.is_none(), "the deciding device gets no withdrawn event");

    server.clock.advance(5);
    let resp = agent.token(&server, &auth_req_id).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let tok: Value = resp.json().await.unwrap();
    let id = check_tokens(&server, &agent, &sub, &tok).await;
    assert!(id.get(countersign_server::testing::AUTH_REQ_ID_CLAIM).is_none());

    // A repeat within the replay window gets the same response; dead after it.
    server.clock.advance(5);
    let again = agent.token(&server, &auth_req_id).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), tok);
    server.clock.advance(server.config().replay_window_secs());
    let (status, code, _) = error_of(agent.token(&server, &auth_req_id).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_grant"));

    let state: RequestState = dev.get(&server, &format!("/requests/{}", pushed.id)).await.json().await.unwrap();
    assert_eq!(state.status, RequestStatus::Approved);
    assert_eq!(state.decision, Some(Decision::Approve));
    assert!(dev.pending(&server).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn ping_flow_notifies_once_with_the_bearer_token() {
    let (server, dev) = user_and_device(server().await, "ana").await;
    let (rx, agent) =
        notified_agent(&server, "ping", json!({ "token_endpoint_auth_method": "client_secret_post" })).await;
    let mut sse = dev.events(&server, None).await;
    let ack = agent.start(&server, "ana").await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    assert_eq!(ack["interval"], 5);
    let (_, req) = expect_request(sse.next_event(WAIT).await);
    assert_eq!(dev.pending(&server).await, vec![req.clone()]);
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);

    let calls = rx.wait_calls("/cb", 1).await;
    assert_eq!(calls[0].authorization.as_deref(), Some("Bearer cnt-0123456789abcdefghijklmnop"));
    assert_eq!(serde_json::from_str::<Value>(&calls[0].body).unwrap(), json!({ "auth_req_id": auth_req_id }));

    let resp = agent.token(&server, &auth_req_id).await;
    assert_eq!(resp.status(), 200);
    let tok: Value = resp.json().await.unwrap();
    check_tokens(&server, &agent, &dev.sub, &tok).await;

    // Delivered exactly once: the outbox row is done and no second call came.
    let delivered = wait_for("outbox delivered", || async {
        let rows =
            countersign_server::testing::query_pairs(&server.state, "SELECT delivered_at, attempts FROM outbox").await;
        rows.first().filter(|(d, _)| d.is_some()).cloned()
    })
    .await;
    assert_eq!(delivered.1, 1);
    countersign_server::testing::deliver_notifications_once(&server.state).await.unwrap();
    assert_eq!(rx.calls("/cb").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn push_flow_delivers_tokens_and_refuses_the_token_endpoint() {
    let (server, dev) = user_and_device(server().await, "bo").await;
    let (rx, agent) = notified_agent(&server, "push", json!({ "token_endpoint_auth_method": "private_key_jwt" })).await;
    assert!(agent.secret.is_none());
    let mut sse = dev.events(&server, None).await;
    let ack = agent.start(&server, "bo").await;
    assert!(ack.get("interval").is_none(), "no interval in push mode");
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    let (_, req) = expect_request(sse.next_event(WAIT).await);
    assert_eq!(dev.pending(&server).await, vec![req.clone()]);

    let (status, code, _) = error_of(agent.token(&server, &auth_req_id).await).await;
    assert_eq!((status, code.as_str()), (400, "unauthorized_client"));

    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let calls = rx.wait_calls("/cb", 1).await;
    assert_eq!(calls[0].authorization.as_deref(), Some("Bearer cnt-0123456789abcdefghijklmnop"));
    let body: Value = serde_json::from_str(&calls[0].body).unwrap();
    assert_eq!(body["auth_req_id"], auth_req_id);
    assert!(matches!(PushCallback::from_json(&calls[0].body).unwrap(), PushCallback::Success(_)));
    let id = check_tokens(&server, &agent, &dev.sub, &body).await;
    assert_eq!(id[countersign_server::testing::AUTH_REQ_ID_CLAIM], auth_req_id);

    // The pushed tokens are live.
    let resp = agent
        .post("/introspect", &[("token", body["access_token"].as_str().unwrap().into())], server.clock_now())
        .await;
    let intro: Value = resp.json().await.unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["authorization_details"], details());
    server.stop().await;
}

#[tokio::test]
async fn denial_poll_and_push() {
    let (server, dev, poll) = user_device_and_agent(server().await, "cy").await;
    let ack = poll.start(&server, "cy").await;
    let req = dev.pending(&server).await.remove(0);
    let resp = dev.decide(&server, &req, Decision::Deny, Some(DenyReason::WrongDetails)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "denied");
    expect_token_err(&server, &poll, &ack, "access_denied").await;

    let (rx, push) = notified_agent(&server, "push", json!({})).await;
    let ack = push.start(&server, "cy").await;
    decide_first(&server, &dev, Decision::Deny, None).await;
    let calls = rx.wait_calls("/cb", 1).await;
    let (error, auth_req_id) = push_error(&calls[0].body);
    assert_eq!((error.as_str(), auth_req_id.as_str()), ("access_denied", ack["auth_req_id"].as_str().unwrap()));
    server.stop().await;
}

#[tokio::test]
async fn expiry_poll_push_and_devices() {
    let (server, dev) = user_and_device(server().await, "di").await;
    let rx = Receiver::start().await;
    let poll = Agent::register(&server, json!({})).await;
    let push = callback_agent(&server, "push", &rx.url, json!({})).await;
    let mut params = poll.request_params("di");
    params.push(("requested_expiry", "30".into()));
    let resp = poll.bc_authorize(&server, &params).await;
    let ack: Value = resp.json().await.unwrap();
    assert_eq!(ack["expires_in"], 30);
    let mut sse = dev.events(&server, None).await;
    let push_ack = push.start(&server, "di").await;
    let _ = sse.next_event(WAIT).await;
    let reqs = dev.pending(&server).await;
    assert_eq!(reqs.len(), 2);

    server.clock.advance(31);
    expect_token_err(&server, &poll, &ack, "expired_token").await;
    let poll_req = reqs.iter().find(|r| r.client.client_id == poll.client_id).unwrap();
    let (status, code, body) = error_of(dev.decide(&server, poll_req, Decision::Approve, None).await).await;
    assert_eq!((status, code.as_str()), (410, "request_expired"));
    assert_eq!(body["status"], "expired");
    // The device's stream is told (the sweeper runs every 100 ms).
    match sse.next_event(WAIT).await {
        Some((_, DeviceEvent::Withdrawn(w))) => assert_eq!(w.reason, WithdrawReason::Expired),
        e => panic!("expected withdrawn, got {e:?}"),
    }
    assert_eq!(dev.pending(&server).await.len(), 1, "the push request (300 s) is still pending");

    server.clock.advance(300);
    let calls = rx.wait_calls("/cb", 1).await;
    let (error, auth_req_id) = push_error(&calls[0].body);
    assert_eq!((error.as_str(), auth_req_id.as_str()), ("expired_token", push_ack["auth_req_id"].as_str().unwrap()));
    assert!(dev.pending(&server).await.is_empty());
    server.stop().await;
}

// A `request` event refers to its request, which the stream reads when it
// sends the event (the request is stored once); one written before
// migration 0008, holding the request itself, is sent as stored.
#[tokio::test]
async fn request_events_refer_to_their_request_and_older_ones_are_sent_as_stored() {
    let server = server().await;
    add_user(&server, "yan").await;
    let dev = TestDevice::enroll(&server, "yan").await;
    let agent = Agent::register(&server, json!({})).await;
    agent.start(&server, "yan").await;
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT data FROM events WHERE kind = 'request'").fetch_all(&server.state.db).await.unwrap();
    assert_eq!(stored, [""], "the event does not repeat the request");
    // The first request's event as an older server wrote it.
    let mut older = dev.pending(&server).await.remove(0);
    older.binding_message = "AS-STORED".into();
    sqlx::query("UPDATE events SET data = $1 WHERE kind = 'request'")
        .bind(serde_json::to_string(&older).unwrap())
        .execute(&server.state.db)
        .await
        .unwrap();
    server.clock.advance(1);
    agent.start(&server, "yan").await;
    let polled = dev.pending(&server).await;
    assert_eq!(polled.len(), 2);

    let mut sse = dev.events(&server, Some("0")).await;
    let (_, first) = expect_request(sse.next_event(WAIT).await);
    assert_eq!(first, older, "sent as stored");
    let (_, second) = expect_request(sse.next_event(WAIT).await);
    assert_eq!(second, polled[1], "the stream sends the request the device list shows");
    server.stop().await;
}

#[tokio::test]
async fn sse_resume_with_last_event_id_and_heartbeats() {
    let (server, dev) =
        user_and_device(server_with(|c| c.heartbeat_interval = Duration::from_millis(200)).await, "eve").await;
    let helper = TestDevice::enroll(&server, "eve").await;
    let agent = Agent::register(&server, json!({})).await;

    let mut sse = dev.events(&server, None).await;
    agent.start(&server, "eve").await;
    let (first_id, first) = expect_request(sse.next_event(WAIT).await);
    // Idle: a heartbeat comment.
    assert_eq!(sse.next(WAIT).await, Some(SseItem::Comment("heartbeat".into())));
    drop(sse);

    // While disconnected: two more requests, one of them decided elsewhere.
    agent.start(&server, "eve").await;
    agent.start(&server, "eve").await;
    let pending = helper.pending(&server).await;
    assert_eq!(pending.len(), 3);
    assert_eq!(helper.decide(&server, &pending[1], Decision::Deny, None).await.status(), 200);

    let mut sse = dev.events(&server, Some(&first_id)).await;
    let mut seen = Vec::new();
    while let Some((id, ev)) = sse.next_event(SHORT * 2).await {
        assert!(id.parse::<u64>().unwrap() > first_id.parse::<u64>().unwrap());
        seen.push(ev);
    }
    // The decided request's `request` event is no longer relevant and is skipped;
    // its withdrawal and the still-pending request are resent.
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(matches!(&seen[0], DeviceEvent::Request(r) if r.id == pending[2].id));
    assert!(matches!(&seen[1], DeviceEvent::Withdrawn(w) if w.id == pending[1].id));
    assert_ne!(first.id, pending[2].id);

    // Without Last-Event-ID a stream starts at the next event.
    let mut fresh = dev.events(&server, None).await;
    assert!(fresh.next_event(SHORT).await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn restart_mid_flow_loses_nothing() {
    let (server, dev, agent) = user_device_and_agent(server().await, "fay").await;
    let ack = agent.start(&server, "fay").await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    let before = dev.pending(&server).await;
    let keys_before = jwks(&server).await;

    let server = server.restart().await.expect("restart");
    assert_eq!(jwks(&server).await, keys_before, "the signing key is persisted");
    let after = dev.pending(&server).await;
    assert_eq!(after, before);
    let (status, code, _) = error_of(agent.token(&server, &auth_req_id).await).await;
    assert_eq!((status, code.as_str()), (400, "authorization_pending"));
    assert_eq!(dev.decide(&server, &after[0], Decision::Approve, None).await.status(), 200);

    let server = server.restart().await.expect("second restart");
    server.clock.advance(5);
    let resp = agent.token(&server, &auth_req_id).await;
    assert_eq!(resp.status(), 200);
    let tok: Value = resp.json().await.unwrap();
    check_tokens(&server, &agent, &dev.sub, &tok).await;
    server.stop().await;
}

#[tokio::test]
async fn delivery_retries_with_backoff_and_never_follows_redirects() {
    let (server, dev) = user_and_device(server_with(|c| c.delivery.max_attempts = 3).await, "gus").await;
    let (rx, agent) = notified_agent(&server, "ping", json!({})).await;

    // Two failures, then success: three calls, one outcome.
    *rx.state.fail_first.lock().unwrap() = 2;
    agent.start(&server, "gus").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    let calls = rx.wait_calls("/cb", 3).await;
    assert!(calls.iter().all(|c| c.body == calls[0].body));
    wait_for("delivered", || async {
        let rows =
            countersign_server::testing::query_pairs(&server.state, "SELECT delivered_at, attempts FROM outbox").await;
        rows.first().filter(|(d, _)| d.is_some()).cloned()
    })
    .await;
    countersign_server::testing::deliver_notifications_once(&server.state).await.unwrap();
    assert_eq!(rx.calls("/cb").len(), 3);

    // A redirect is a failure, never followed; given up after max_attempts.
    *rx.state.redirect.lock().unwrap() = true;
    agent.start(&server, "gus").await;
    decide_first(&server, &dev, Decision::Approve, None).await;
    rx.wait_calls("/cb", 6).await;
    wait_for("given up", || async {
        let rows = countersign_server::testing::query_pairs(
            &server.state,
            "SELECT failed_at, attempts FROM outbox WHERE failed_at IS NOT NULL",
        )
        .await;
        rows.first().cloned()
    })
    .await;
    assert!(rx.calls("/elsewhere").is_empty(), "redirects are never followed");
    assert_eq!(rx.calls("/cb").len(), 6);
    server.stop().await;
}

#[tokio::test]
async fn key_rotation_keeps_old_keys_until_their_tokens_expire() {
    let (server, dev, agent) = user_device_and_agent(server().await, "hal").await;
    let tok = approved_tokens(&server, &dev, &agent, "hal").await;
    let old = jwks(&server).await;
    assert_eq!(old.len(), 1);

    let new_kid = countersign_server::ops::rotate_signing_key(
        &server.state.db,
        &countersign_server::ops::Actor::Operator,
        server.state.now(),
    )
    .await
    .unwrap();
    let both = jwks(&server).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[0].kid(), Some(new_kid.as_str()));
    // The old token still verifies against the published keys.
    check_tokens(&server, &agent, &dev.sub, &tok).await;

    // New tokens use the new key.
    let tok2 = approved_tokens(&server, &dev, &agent, "hal").await;
    let header: Value = serde_json::from_slice(
        &countersign_protocol::jws::b64url_decode(tok2["access_token"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new_kid);
    assert_eq!(header["typ"], "at+jwt");

    server.clock.advance(server.config().key_retention_secs() + 1);
    let after = jwks(&server).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].kid(), Some(new_kid.as_str()));
    server.stop().await;
}
