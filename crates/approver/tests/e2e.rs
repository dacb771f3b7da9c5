//! End to end against the real server on a real socket, with real SQLite
//! files in temporary directories. Keys are in an in-memory key store behind
//! the same `KeyStore` trait as the OS keychain (the Secret Service itself is
//! tested by `keys::keychain::tests`, ignored by default).

mod common;

use common::{
    email_details, payment_details, token_details, trade_details, wait_event, wait_for, Device, Env, Trade,
    TradeRequests, SEND_EMAIL, STOCK_TRADE,
};
use countersign_approver::store::{Delivery, LocalStatus};
use countersign_approver::{ApproverEvent, ConnectionState, DeliveryReport, Error};
use countersign_protocol::device::{Decision, DenyReason};
use std::time::Duration;

fn is_new(e: &ApproverEvent) -> bool {
    matches!(e, ApproverEvent::NewRequest { .. })
}

fn is_push(e: &ApproverEvent) -> bool {
    matches!(e, ApproverEvent::Connection { state: ConnectionState::Push, .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_push_approve_and_the_agent_gets_its_token() {
    let env = Env::start().await;
    let sub = env.add_user("zoe").await;
    let (device, approver) = Device::open_new().await;
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();

    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    assert_eq!(account.user.sub, sub);
    assert_eq!(account.issuer, env.issuer);
    assert_eq!(device.keys.ids(), vec![account.id.clone()]);
    wait_event(&mut events, "push connected", is_push).await;

    let agent = env.agent().await;
    let details = trade_details();
    let auth_req_id = agent.request("zoe", &details, None).await;
    let ApproverEvent::NewRequest { item } = wait_event(&mut events, "the pushed request", is_new).await else {
        unreachable!()
    };
    assert_eq!(item.account_id, account.id);
    assert_eq!(item.request.authorization_details.to_value(), details, "stored exactly as sent");
    assert_eq!(approver.pending().await.unwrap().len(), 1);

    let outcome = approver
        .decide(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(common::CODE))
        .await
        .unwrap();
    let DeliveryReport::Delivered { result } = &outcome.delivery else { panic!("{:?}", outcome.delivery) };
    assert_eq!(result.status.as_str(), "approved");
    assert_eq!(outcome.history.delivery, Delivery::Delivered);

    let (status, token) = agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token_details(token["access_token"].as_str().unwrap()), details);

    let item = approver.find_request(item.request.id.as_str(), None).await.unwrap();
    assert_eq!(item.status, LocalStatus::Approved);
    let check = approver.verify_receipt(&account.id, item.request.id.as_str()).await.unwrap();
    assert!(check.is_valid(), "{:?}", check.problems);
    // The receipt proves which agent was shown, at which risk: the same
    // request from a look-alike (another verification, name or risk) does
    // not produce the signed statement.
    let entry = approver.history().await.unwrap().remove(0);
    let mut lookalikes = vec![item.request.clone(), item.request.clone(), item.request.clone()];
    lookalikes[0].client.verified = !item.request.client.verified;
    lookalikes[1].client.client_name.push('\u{200B}');
    lookalikes[2].risk = countersign_protocol::device::Risk::Critical;
    for lookalike in &lookalikes {
        let check = countersign_approver::check_receipt(&account, Some(lookalike), &entry);
        assert!(!check.request_matches && !check.is_valid(), "{lookalike:?}");
    }

    // Deciding again is refused locally: nothing is sent twice.
    let again = approver.decide(&account.id, item.request.id.as_str(), Decision::Deny, None, None).await;
    assert!(matches!(again, Err(Error::NotPending { .. })), "{again:?}");
    assert_eq!(approver.history().await.unwrap().len(), 1);
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_mode_without_push_and_a_denial() {
    let env = Env::with_user("zoe").await;
    let device = Device::new();
    let approver = device
        .open_with(|c| {
            c.transport.push = false;
            c.transport.poll_interval = Some(Duration::from_millis(300));
        })
        .await;
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    wait_event(&mut events, "polling", |e| {
        matches!(e, ApproverEvent::Connection { state: ConnectionState::Polling, .. })
    })
    .await;

    let agent = env.agent().await;
    let auth_req_id = agent.request("zoe", &trade_details(), None).await;
    let ApproverEvent::NewRequest { item } = wait_event(&mut events, "the polled request", is_new).await else {
        unreachable!()
    };
    assert_eq!(env.server().state.hub.connected_users(), 0, "no event stream in poll mode");
    let outcome = approver
        .decide(&account.id, item.request.id.as_str(), Decision::Deny, Some(DenyReason::WrongDetails), None)
        .await
        .unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    let (status, body) = agent.wait_token(&auth_req_id).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("access_denied")), "{body}");
    let check = approver.verify_receipt(&account.id, item.request.id.as_str()).await.unwrap();
    assert!(check.is_valid(), "{:?}", check.problems);
    assert_eq!(check.claims.unwrap().deny_reason, Some(DenyReason::WrongDetails));
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_approve_and_delivery_then_restarted_delivers() {
    let env = Env::with_user("zoe").await;
    let device = Device::new();
    let agent = env.agent().await;

    let (account_id, request_id, auth_req_id) = {
        let approver = device.open().await;
        let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
        let auth_req_id = agent.request("zoe", &trade_details(), None).await;
        approver.sync(&account.id).await.unwrap();
        let item = approver.pending().await.unwrap().remove(0);
        // The decision is committed, then the process "dies" before sending.
        approver
            .record_decision(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(common::CODE))
            .await
            .unwrap();
        approver.close().await;
        (account.id, item.request.id.as_str().to_owned(), auth_req_id)
    };
    let (status, body) = agent.poll(&auth_req_id).await;
    assert_eq!(body["error"].as_str(), Some("authorization_pending"), "{status} {body}");

    let approver = device.open().await;
    assert_eq!(approver.find_request(&request_id, None).await.unwrap().status, LocalStatus::Sending);
    assert_eq!(approver.store().outbox().await.unwrap().len(), 1);
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();
    wait_event(&mut events, "delivered after restart", |e| {
        matches!(e, ApproverEvent::Decided { delivery: Delivery::Delivered, .. })
    })
    .await;
    let (status, token) = agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    assert!(approver.store().outbox().await.unwrap().is_empty());
    let history = approver.history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].server_status, Some(200));
    assert!(approver.verify_receipt(&account_id, &request_id).await.unwrap().is_valid());
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_during_approve_is_delivered_when_it_returns() {
    let mut env = Env::start().await;
    let (_device, approver) = env.user_and_approver("zoe").await;
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    wait_event(&mut events, "push connected", is_push).await;
    let agent = env.agent().await;
    let auth_req_id = agent.request("zoe", &trade_details(), None).await;
    let ApproverEvent::NewRequest { item } = wait_event(&mut events, "request", is_new).await else { unreachable!() };

    env.proxy.set_down(true);
    wait_event(&mut events, "disconnected", |e| {
        matches!(e, ApproverEvent::Connection { state: ConnectionState::Disconnected { .. }, .. })
    })
    .await;
    let outcome = approver
        .decide(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(common::CODE))
        .await
        .unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Retrying { .. }), "{:?}", outcome.delivery);
    assert_eq!(outcome.history.delivery, Delivery::Queued);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, body) = agent.poll(&auth_req_id).await;
    assert_eq!(body["error"].as_str(), Some("authorization_pending"));

    // The server process restarts too while unreachable; nothing is lost.
    env.restart_server().await;
    env.proxy.set_down(false);
    wait_event(&mut events, "delivered on reconnect", |e| {
        matches!(e, ApproverEvent::Decided { delivery: Delivery::Delivered, .. })
    })
    .await;
    let (status, token) = agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    let history = approver.history().await.unwrap();
    assert_eq!(history.len(), 1, "one decision, delivered once");
    assert!(approver.verify_receipt(&account.id, item.request.id.as_str()).await.unwrap().is_valid());
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_until_expiry_is_reported_expired() {
    let env = Env::start().await;
    let Trade { device, approver, account, agent, auth_req_id, item } = env.synced_trade("zoe", Some(120)).await;
    env.approve_offline(&approver, &account, &item).await;

    // Time passes beyond the request's expiry on both sides.
    device.clock.advance(200);
    env.advance_server(200);
    let mut events = approver.subscribe();
    env.proxy.set_down(false);
    let run = approver.start().await.unwrap();
    let e = wait_event(&mut events, "reported expired", |e| matches!(e, ApproverEvent::Decided { .. })).await;
    assert!(matches!(e, ApproverEvent::Decided { delivery: Delivery::Expired, .. }), "{e:?}");
    let item = approver.find_request(item.request.id.as_str(), None).await.unwrap();
    assert_eq!(item.status, LocalStatus::Expired);
    assert_eq!(approver.history().await.unwrap()[0].delivery, Delivery::Expired);
    assert!(approver.store().outbox().await.unwrap().is_empty());
    let (status, body) = agent.wait_token(&auth_req_id).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("expired_token")), "{body}");
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_cut_mid_stream_misses_no_request() {
    let env = Env::start().await;
    let (_device, approver) = env.user_and_approver("zoe").await;
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();
    approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    wait_event(&mut events, "push connected", is_push).await;
    let agent = env.agent().await;
    agent.request("zoe", &trade_details(), None).await;
    wait_event(&mut events, "first request", is_new).await;

    // The stream is cut and stays unreachable while requests arrive.
    env.proxy.set_down(true);
    let second = agent.request("zoe", &email_details("bob@example.org"), None).await;
    let third = agent.request("zoe", &payment_details(), None).await;
    assert_ne!(second, third);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(approver.pending().await.unwrap().len(), 1);
    env.proxy.set_down(false);
    wait_event(&mut events, "reconnected", is_push).await;
    let pending = wait_for("both requests", || async {
        let p = approver.pending().await.unwrap();
        (p.len() == 3).then_some(p)
    })
    .await;
    let mut types: Vec<String> =
        pending.iter().map(|i| i.request.authorization_details.types().next().unwrap().to_owned()).collect();
    types.sort();
    assert_eq!(types, ["payment_initiation", SEND_EMAIL, STOCK_TRADE]);

    // A cut without downtime: reconnects with Last-Event-ID, no duplicates.
    env.proxy.cut();
    wait_event(&mut events, "reconnected again", is_push).await;
    agent.request("zoe", &trade_details(), None).await;
    wait_for("fourth request", || async { (approver.pending().await.unwrap().len() == 4).then_some(()) }).await;
    assert_eq!(approver.store().inbox_count().await.unwrap(), 4);
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decided_on_another_device_is_withdrawn_here() {
    let env = Env::with_user("zoe").await;
    let (laptop, phone) = (Device::new(), Device::new());
    let a = laptop.open().await;
    let b = phone.open().await;
    let mut b_events = b.subscribe();
    let run_b = b.start().await.unwrap();
    let acc_a = a.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    b.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    wait_event(&mut b_events, "push connected", is_push).await;
    let agent = env.agent().await;
    agent.request("zoe", &trade_details(), None).await;
    let ApproverEvent::NewRequest { item } = wait_event(&mut b_events, "request on b", is_new).await else {
        unreachable!()
    };
    a.sync(&acc_a.id).await.unwrap();
    a.decide(&acc_a.id, item.request.id.as_str(), Decision::Approve, None, Some(common::CODE)).await.unwrap();
    let e = wait_event(&mut b_events, "withdrawn on b", |e| matches!(e, ApproverEvent::Withdrawn { .. })).await;
    assert!(matches!(&e, ApproverEvent::Withdrawn { reason, .. } if reason == "decided_elsewhere"), "{e:?}");
    let on_b = b.find_request(item.request.id.as_str(), None).await.unwrap();
    assert_eq!(on_b.status, LocalStatus::DecidedElsewhere);
    assert!(b.pending().await.unwrap().is_empty());
    run_b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_accounts_on_several_servers() {
    let (env1, env2) = (Env::start().await, Env::start().await);
    env1.add_user("zoe").await;
    env2.add_user("zoe").await;
    env2.add_user("max").await;
    let (device, approver) = Device::open_new().await;
    let a1 = approver.enroll(&env1.invitation("zoe", 600).await).await.unwrap();
    let a2 = approver.enroll(&env2.invitation("zoe", 600).await).await.unwrap();
    let a3 = approver.enroll(&env2.invitation("max", 600).await).await.unwrap();
    assert_eq!(approver.accounts().await.unwrap().len(), 3);
    let (ag1, ag2) = (env1.agent().await, env2.agent().await);
    ag1.request("zoe", &trade_details(), None).await;
    ag2.request("max", &email_details("x@example.org"), None).await;
    for a in [&a1, &a2, &a3] {
        approver.sync(&a.id).await.unwrap();
    }
    let pending = approver.pending().await.unwrap();
    assert_eq!(pending.len(), 2);
    let by_account: Vec<(&str, &str)> = pending
        .iter()
        .map(|i| (i.account_id.as_str(), i.request.authorization_details.types().next().unwrap()))
        .collect();
    assert!(by_account.contains(&(a1.id.as_str(), STOCK_TRADE)));
    assert!(by_account.contains(&(a3.id.as_str(), SEND_EMAIL)));

    approver.remove_account(&a3.id).await.unwrap();
    assert_eq!(approver.accounts().await.unwrap().len(), 2);
    assert_eq!(approver.pending().await.unwrap().len(), 1, "its requests went with it");
    assert!(!device.keys.ids().contains(&a3.id), "and its key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_request_cannot_be_decided() {
    let env = Env::start().await;
    let Trade { device, approver, account, item, .. } = env.synced_trade("zoe", Some(60)).await;
    device.clock.advance(61);
    let r = approver.decide(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(common::CODE)).await;
    assert!(matches!(r, Err(Error::Expired(_))), "{r:?}");
    assert!(approver.history().await.unwrap().is_empty());
    assert_eq!(approver.find_request(item.request.id.as_str(), None).await.unwrap().status, LocalStatus::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_decision_is_re_signed_with_the_same_content_when_its_jws_ages() {
    let env = Env::start().await;
    let Trade { device, approver, account, agent, auth_req_id, item } = env.synced_trade("zoe", Some(600)).await;
    let first = env.approve_offline(&approver, &account, &item).await;

    // Past the JWS's 120 s lifetime, well before the request's expiry.
    device.clock.advance(150);
    env.advance_server(150);
    env.proxy.set_down(false);
    let report = approver.deliver(&account.id, item.request.id.as_str()).await.unwrap();
    assert!(matches!(report, DeliveryReport::Delivered { .. }), "{report:?}");
    let (status, _) = agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200);

    let history = approver.history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_ne!(history[0].decision_jws, first.history.decision_jws, "re-signed");
    let claims = |jws: &str| -> serde_json::Value {
        let p = countersign_protocol::jws::b64url_decode(jws.split('.').nth(1).unwrap()).unwrap();
        serde_json::from_slice(&p).unwrap()
    };
    let (old, new) = (claims(&first.history.decision_jws), claims(&history[0].decision_jws));
    for same in ["statement_hash", "decision", "request_id", "iss", "aud"] {
        assert_eq!(old[same], new[same], "{same} must not change");
    }
    assert_ne!(old["jti"], new["jti"]);
    assert!(approver.verify_receipt(&account.id, item.request.id.as_str()).await.unwrap().is_valid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_different_decision_gets_a_conflict() {
    let env = Env::with_user("zoe").await;
    let (laptop, phone) = (Device::new(), Device::new());
    let (a, b) = (laptop.open().await, phone.open().await);
    let acc_a = a.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    let acc_b = b.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    env.agent().await.request("zoe", &trade_details(), None).await;
    a.sync(&acc_a.id).await.unwrap();
    b.sync(&acc_b.id).await.unwrap();
    let id = a.pending().await.unwrap().remove(0).request.id.as_str().to_owned();
    a.decide(&acc_a.id, &id, Decision::Approve, None, Some(common::CODE)).await.unwrap();
    // b never heard of it (no transport running) and denies.
    let outcome = b.decide(&acc_b.id, &id, Decision::Deny, Some(DenyReason::NotMe), None).await.unwrap();
    assert_eq!(outcome.delivery, DeliveryReport::Conflict { status: Some("approved".into()) });
    assert_eq!(outcome.history.delivery, Delivery::Conflict);
    assert_eq!(b.find_request(&id, None).await.unwrap().status, LocalStatus::Conflict);
    assert!(b.store().outbox().await.unwrap().is_empty());
}

/// The reconciling poll follows every page of the request list (the server
/// sends at most 20 a page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_follows_every_page_of_pending_requests() {
    let env = Env::start().await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    let agent = env.agent().await;
    for _ in 0..45 {
        agent.request("zoe", &trade_details(), None).await;
    }
    let report = approver.sync(&account.id).await.unwrap();
    assert_eq!(report.new, 45, "{report:?}");
    assert_eq!(approver.pending().await.unwrap().len(), 45);
    let again = approver.sync(&account.id).await.unwrap();
    assert_eq!((again.new, again.withdrawn), (0, 0), "listed requests stay, none withdrawn");
}

/// The user sees and lifts the block of unverified agents that their
/// `not_me` denials started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_lifts_the_block_of_unverified_agents() {
    let env = Env::start().await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    assert!(!approver.unverified_block(&account.id).await.unwrap().blocked);
    let agent = env.agent().await;
    for _ in 0..3 {
        agent.request("zoe", &trade_details(), None).await;
    }
    approver.sync(&account.id).await.unwrap();
    for item in approver.pending().await.unwrap() {
        approver
            .decide(&account.id, item.request.id.as_str(), Decision::Deny, Some(DenyReason::NotMe), None)
            .await
            .unwrap();
    }
    let block = approver.unverified_block(&account.id).await.unwrap();
    assert!(block.blocked && block.since.is_some(), "{block:?}");
    let lifted = approver.lift_unverified_block(&account.id).await.unwrap();
    assert!(!lifted.blocked);
    assert!(!approver.unverified_block(&account.id).await.unwrap().blocked);
}

// An administrator's approver hears of another user's "This wasn't me"
// denial by push, as an `AdminNotice` event naming the request, the agent
// and the user; the user's own approver hears of none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_approver_is_told_of_a_not_me_denial() {
    use countersign_protocol::device::AdminNoticeKind;
    let env = Env::start().await;
    let (_admin_device, admin, _) = env.enrolled("ada").await;
    let server = env.server();
    countersign_server::ops::set_admin(
        &server.state.db,
        "ada",
        true,
        &countersign_server::ops::Actor::Operator,
        server.state.now(),
    )
    .await
    .unwrap();
    let mut admin_events = admin.subscribe();
    let _admin_run = admin.start().await.unwrap();
    wait_event(&mut admin_events, "admin push connected", is_push).await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    let mut events = approver.subscribe();
    let _run = approver.start().await.unwrap();
    wait_event(&mut events, "push connected", is_push).await;

    let agent = env.agent().await;
    agent.request("zoe", &trade_details(), None).await;
    let ApproverEvent::NewRequest { item } = wait_event(&mut events, "the pushed request", is_new).await else {
        unreachable!()
    };
    approver
        .decide(&account.id, item.request.id.as_str(), Decision::Deny, Some(DenyReason::NotMe), None)
        .await
        .unwrap();
    let notice =
        wait_event(&mut admin_events, "the admin notice", |e| matches!(e, ApproverEvent::AdminNotice { .. })).await;
    let ApproverEvent::AdminNotice { notice, .. } = notice else { unreachable!() };
    assert_eq!(notice.notice, AdminNoticeKind::NotMe);
    assert_eq!(notice.request_id.as_ref(), Some(&item.request.id));
    assert_eq!(notice.sub.as_deref(), Some(account.user.sub.as_str()));
    assert_eq!(notice.client_id.as_deref(), Some(item.request.client.client_id.as_str()));
    assert_eq!(notice.by, format!("device:{}", account.device_id));
    // zoe is no administrator: nothing of the kind reaches her approver.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(e) = events.try_recv() {
        assert!(!matches!(e, ApproverEvent::AdminNotice { .. }), "{e:?}");
    }
}
