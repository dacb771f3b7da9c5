//! The admin API (`docs/protocol.md` §10) on a real socket: who may call it,
//! what each action does to agents and approvers, and the lists.

mod common;

use common::*;
use countersign_protocol::device::{Decision, DeviceEvent, HttpMethod, WithdrawReason};
use countersign_server::ops::{self, Actor};
use countersign_server::testing::TestServer;
use serde_json::{json, Value};

async fn no_limits() -> TestServer {
    server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
    })
    .await
}

/// An administrator `username` with an enrolled device.
async fn admin_device(server: &TestServer, username: &str) -> TestDevice {
    let dev = TestDevice::of_new_user(server, username).await;
    let (_, changed) =
        ops::set_admin(&server.state.db, username, true, &Actor::Operator, server.state.now()).await.unwrap();
    assert!(changed);
    dev
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("items")
}

// Every route × {an administrator's device, a user's device, a revoked
// administrator's device, no proof}: only the first gets through; the
// others get 403 forbidden or 401 invalid_token, and change nothing.
#[tokio::test]
async fn only_an_administrators_device_gets_through_on_every_route() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    let revoked = TestDevice::enroll(&server, "ada").await;
    server.state.revoke_device(revoked.id.as_str(), &Actor::Operator).await.unwrap();
    let user = TestDevice::of_new_user(&server, "bob").await;
    let spare = TestDevice::enroll(&server, "bob").await;
    let agent = Agent::register(&server, json!({})).await;
    let tok = approved_tokens(&server, &user, &agent, "bob").await;
    assert!(tok["access_token"].is_string(), "{tok}");
    let pending = agent.start(&server, "bob").await;
    assert!(pending["auth_req_id"].is_string());
    let request_id = user.pending(&server).await.remove(0).id;
    let grant = admin.admin_get(&server, "/grants").await;
    let grant_id = items(&grant)[0]["id"].as_str().unwrap().to_owned();
    let cid = agent.client_id.clone();

    let routes: Vec<(HttpMethod, String)> = vec![
        (HttpMethod::Get, "/requests".into()),
        (HttpMethod::Get, "/grants".into()),
        (HttpMethod::Get, "/clients".into()),
        (HttpMethod::Get, "/users".into()),
        (HttpMethod::Get, "/devices".into()),
        (HttpMethod::Get, "/audit".into()),
        (HttpMethod::Post, format!("/requests/{request_id}/cancel")),
        (HttpMethod::Post, format!("/grants/{grant_id}/revoke")),
        (HttpMethod::Post, format!("/clients/{cid}/verify")),
        (HttpMethod::Post, format!("/clients/{cid}/unverify")),
        (HttpMethod::Post, format!("/clients/{cid}/users/{}/block", user.sub)),
        (HttpMethod::Post, format!("/clients/{cid}/users/{}/unblock", user.sub)),
        (HttpMethod::Post, format!("/clients/{cid}/block")),
        (HttpMethod::Post, format!("/clients/{cid}/unblock")),
        (HttpMethod::Post, format!("/devices/{}/revoke", spare.id)),
    ];
    let audited = |v: Value| items(&v).len();
    let before = audited(admin.admin_get(&server, "/audit?limit=500").await);
    for (method, path) in &routes {
        let resp = user.admin(&server, method.clone(), path).await;
        let body = expect_err(resp, 403, "forbidden").await;
        assert!(body["error_description"].as_str().unwrap().contains("admin role"), "{body}");
        let resp = revoked.admin(&server, method.clone(), path).await;
        assert_eq!(resp.headers()["www-authenticate"], "Device error=\"invalid_token\"", "{path}");
        expect_err(resp, 401, "invalid_token").await;
        let url = format!("{}/admin/v1{path}", server.base_url);
        let resp = match method {
            HttpMethod::Post => http().post(&url).json(&json!({})).send().await.unwrap(),
            _ => http().get(&url).send().await.unwrap(),
        };
        expect_err(resp, 401, "invalid_token").await;
    }
    // Nothing changed: the request is still pending, the grant active, no
    // entry added.
    assert_eq!(user.pending(&server).await.len(), 1);
    assert_eq!(audited(admin.admin_get(&server, "/audit?limit=500").await), before);
    for (method, path) in &routes {
        let resp = admin.admin(&server, method.clone(), path).await;
        assert_eq!(resp.status(), 200, "{method:?} {path}: {}", resp.text().await.unwrap());
    }
    server.stop().await;
}

// A revoked grant's token introspects inactive at once; the grants list
// says so; revoking again changes nothing; the log names the administrator.
#[tokio::test]
async fn a_revoked_grant_introspects_inactive_at_once() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    let user = TestDevice::of_new_user(&server, "sam").await;
    let agent = Agent::register(&server, json!({})).await;
    let tok = approved_tokens(&server, &user, &agent, "sam").await;
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let introspect = |token: String| {
        let agent = &agent;
        let server = &server;
        async move {
            let v: Value =
                agent.post("/introspect", &[("token", token)], server.state.now()).await.json().await.unwrap();
            v["active"].as_bool().unwrap()
        }
    };
    assert!(introspect(access.clone()).await);

    let page = admin.admin_get(&server, &format!("/grants?sub={}&status=active", user.sub)).await;
    let grant = &items(&page)[0];
    assert_eq!(grant["client_id"], agent.client_id);
    assert_eq!(grant["status"], "active");
    assert_eq!(grant["scope"], json!(["openid", "payments"]));
    assert_eq!(grant["authorization_details"], details());
    let id = grant["id"].as_str().unwrap().to_owned();

    let resp = admin.admin(&server, HttpMethod::Post, &format!("/grants/{id}/revoke")).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    assert!(!introspect(access).await, "inactive at once");
    let page = admin.admin_get(&server, &format!("/grants?sub={}", user.sub)).await;
    assert_eq!(items(&page)[0]["status"], "revoked");
    assert!(items(&admin.admin_get(&server, "/grants?status=active").await).is_empty());
    let resp = admin.admin(&server, HttpMethod::Post, &format!("/grants/{id}/revoke")).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": false}));
    expect_err(admin.admin(&server, HttpMethod::Post, "/grants/nope/revoke").await, 404, "not_found").await;

    let log = admin.admin_get(&server, "/audit?action=token.revoked").await;
    let entry = &items(&log)[0];
    assert_eq!(entry["actor"], format!("device:{}", admin.id));
    assert_eq!((entry["target"].as_str(), entry["sub"].as_str()), (Some(id.as_str()), Some(user.sub.as_str())));
    assert_eq!(items(&log).len(), 1, "the second revoke is not audited");
    server.stop().await;
}

// A cancel reaches the user's approvers (withdrawn, cancelled) and the agent
// (access_denied saying an administrator cancelled it).
#[tokio::test]
async fn a_cancel_reaches_the_approver_and_the_agent() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    let user = TestDevice::of_new_user(&server, "cy").await;
    let agent = Agent::register(&server, json!({})).await;
    let mut sse = user.events(&server, None).await;
    let ack = agent.start(&server, "cy").await;
    let (_, req) = expect_request(sse.next_event(WAIT).await);

    let page = admin.admin_get(&server, &format!("/requests?sub={}", user.sub)).await;
    assert_eq!(items(&page)[0]["id"], req.id.as_str());
    assert_eq!(items(&page)[0]["binding_message"], req.binding_message);
    let resp = admin.admin(&server, HttpMethod::Post, &format!("/requests/{}/cancel", req.id)).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    match sse.next_event(WAIT).await {
        Some((_, DeviceEvent::Withdrawn(w))) => {
            assert_eq!((w.id, w.reason), (req.id.clone(), WithdrawReason::Cancelled));
        }
        other => panic!("expected withdrawn, got {other:?}"),
    }
    let body = expect_token_err(&server, &agent, &ack, "access_denied").await;
    assert_eq!(body["error_description"], "an administrator cancelled the request");
    assert!(user.pending(&server).await.is_empty());
    assert!(items(&admin.admin_get(&server, "/requests").await).is_empty());
    // Not pending any more: nothing to do; a decision is refused.
    let resp = admin.admin(&server, HttpMethod::Post, &format!("/requests/{}/cancel", req.id)).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": false}));
    expect_err(user.decide(&server, &req, Decision::Approve, None).await, 410, "request_withdrawn").await;
    expect_err(admin.admin(&server, HttpMethod::Post, "/requests/req_nope/cancel").await, 404, "not_found").await;
    server.stop().await;
}

// An administrator revokes a device: its stream closes at once and it is
// refused; the devices list shows it revoked.
#[tokio::test]
async fn a_device_revoked_by_an_administrator_is_cut_off_at_once() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    let user = TestDevice::of_new_user(&server, "di").await;
    let mut sse = user.events(&server, None).await;
    let resp = admin.admin(&server, HttpMethod::Post, &format!("/devices/{}/revoke", user.id)).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    assert!(sse.ends_within(WAIT).await, "the stream is closed");
    expect_err(user.get(&server, "/requests?status=pending").await, 401, "invalid_token").await;
    let page = admin.admin_get(&server, &format!("/devices?sub={}", user.sub)).await;
    assert!(items(&page)[0]["revoked_at"].is_u64(), "{page}");
    let resp = admin.admin(&server, HttpMethod::Post, &format!("/devices/{}/revoke", user.id)).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": false}));
    server.stop().await;
}

// The role is read on every call: taken away, the next call is refused.
#[tokio::test]
async fn a_role_taken_away_is_refused_at_the_next_call() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    admin.admin_get(&server, "/users").await;
    let (u, changed) =
        ops::set_admin(&server.state.db, "ada", false, &Actor::Operator, server.state.now()).await.unwrap();
    assert!(changed);
    assert_eq!(u.roles, ["user"]);
    expect_err(admin.admin(&server, HttpMethod::Get, "/users").await, 403, "forbidden").await;
    let (_, changed) =
        ops::set_admin(&server.state.db, "ada", false, &Actor::Operator, server.state.now()).await.unwrap();
    assert!(!changed, "already not an administrator");
    server.stop().await;
}

// Blocked for one user: their pending request is cancelled, an approved
// one not yet redeemed yields no token, their next one is refused with
// access_denied; another user is unaffected; unblocked, the user is asked
// again. Blocked for everyone: the client is disabled. The user is in the
// path (the device proof signs it), never in a body.
#[tokio::test]
async fn a_client_blocked_for_one_user_or_everyone() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    let eve = TestDevice::of_new_user(&server, "eve").await;
    TestDevice::of_new_user(&server, "fay").await;
    let agent = Agent::register(&server, json!({})).await;
    let approved = agent.start(&server, "eve").await;
    let req = eve.pending(&server).await.remove(0);
    assert_eq!(eve.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let ack = agent.start(&server, "eve").await;
    let block = format!("/clients/{}/users/{}/block", agent.client_id, eve.sub);
    let resp = admin.admin(&server, HttpMethod::Post, &block).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    assert!(eve.pending(&server).await.is_empty(), "the pending request is cancelled");
    // The poller hears of the block for either request (ping and push
    // clients were told of the cancellation).
    let body = expect_token_err(&server, &agent, &ack, "access_denied").await;
    assert_eq!(body["error_description"], "an administrator has blocked this client for this user");
    let body = expect_token_err(&server, &agent, &approved, "access_denied").await;
    assert_eq!(body["error_description"], "an administrator has blocked this client for this user");
    let resp = agent.bc_authorize(&server, &agent.request_params("eve")).await;
    let body = expect_err(resp, 403, "access_denied").await;
    assert_eq!(body["error_description"], "an administrator has blocked this client for this user");
    agent.start(&server, "fay").await;
    let clients = admin.admin_get(&server, "/clients").await;
    assert_eq!(items(&clients)[0]["blocked_for"], json!([eve.sub]));
    assert_eq!(items(&clients)[0]["blocked"], false);
    let resp = admin.admin(&server, HttpMethod::Post, &block).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": false}), "already blocked");
    let nobody = format!("/clients/{}/users/u_nobody/block", agent.client_id);
    expect_err(admin.admin(&server, HttpMethod::Post, &nobody).await, 404, "not_found").await;
    let unknown = format!("/clients/cli_nope/users/{}/block", eve.sub);
    expect_err(admin.admin(&server, HttpMethod::Post, &unknown).await, 404, "not_found").await;

    let unblock = format!("/clients/{}/users/{}/unblock", agent.client_id, eve.sub);
    let resp = admin.admin(&server, HttpMethod::Post, &unblock).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    agent.start(&server, "eve").await;

    let everyone = format!("/clients/{}/block", agent.client_id);
    let resp = admin.admin(&server, HttpMethod::Post, &everyone).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    let clients = admin.admin_get(&server, "/clients").await;
    assert_eq!(items(&clients)[0]["blocked"], true);
    let resp = agent.bc_authorize(&server, &agent.request_params("fay")).await;
    expect_err(resp, 400, "unauthorized_client").await;
    let resp = admin.admin(&server, HttpMethod::Post, &format!("/clients/{}/unblock", agent.client_id)).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    agent.start(&server, "fay").await;
    expect_err(admin.admin(&server, HttpMethod::Post, "/clients/cli_nope/block").await, 404, "not_found").await;
    // Verifying a verified client changes nothing and writes nothing.
    let verify = format!("/clients/{}/verify", agent.client_id);
    assert_eq!(
        admin.admin(&server, HttpMethod::Post, &verify).await.json::<Value>().await.unwrap(),
        json!({"changed": true})
    );
    assert_eq!(
        admin.admin(&server, HttpMethod::Post, &verify).await.json::<Value>().await.unwrap(),
        json!({"changed": false})
    );
    let log = admin.admin_get(&server, "/audit?action=client.verification").await;
    assert_eq!(items(&log).len(), 1);
    server.stop().await;
}

// Grants issued in the same second page by id: no repeat, no gap.
#[tokio::test]
async fn grants_of_one_second_page_without_repeats() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    let user = TestDevice::of_new_user(&server, "gil").await;
    let agent = Agent::register(&server, json!({})).await;
    server.clock.pause();
    for _ in 0..5 {
        let tok = approved_tokens(&server, &user, &agent, "gil").await;
        assert!(tok["access_token"].is_string(), "{tok}");
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut path = "/grants?limit=2".to_owned();
    loop {
        let page = admin.admin_get(&server, &path).await;
        for g in items(&page) {
            assert!(seen.insert(g["id"].as_str().unwrap().to_owned()), "repeated: {g}");
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/grants?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    server.stop().await;
}

// Pages: a cursor walks a list without repeats or gaps; filters narrow it;
// bad parameters are refused.
#[tokio::test]
async fn lists_page_with_a_cursor_and_filter() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    let gus = TestDevice::of_new_user(&server, "gus").await;
    add_user(&server, "hal").await;
    let agent = Agent::register(&server, json!({})).await;
    for user in ["gus", "hal", "gus", "hal", "gus"] {
        agent.start(&server, user).await;
    }
    let hal = TestDevice::enroll(&server, "hal").await;
    let mut created: Vec<String> = gus
        .pending(&server)
        .await
        .into_iter()
        .chain(hal.pending(&server).await)
        .map(|r| r.id.as_str().to_owned())
        .collect();
    let mut seen = Vec::new();
    let mut path = "/requests?limit=2".to_owned();
    loop {
        let page = admin.admin_get(&server, &path).await;
        assert!(items(&page).len() <= 2);
        seen.extend(items(&page).iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/requests?limit=2&cursor={c}"),
            None => break,
        }
    }
    created.sort();
    created.reverse();
    assert_eq!(seen, created, "every request once, newest first (ids are time-ordered)");
    let of_gus = admin.admin_get(&server, &format!("/requests?sub={}", gus.sub)).await;
    assert_eq!(items(&of_gus).len(), 3);
    assert_eq!(items(&admin.admin_get(&server, "/requests?type=payment_initiation").await).len(), 5);
    assert!(items(&admin.admin_get(&server, "/requests?type=stock_trade").await).is_empty());
    assert!(items(&admin.admin_get(&server, "/requests?older_than=3600").await).is_empty());
    server.clock.advance(90);
    assert_eq!(items(&admin.admin_get(&server, "/requests?older_than=60").await).len(), 5);
    let users = admin.admin_get(&server, "/users").await;
    assert_eq!(items(&users).len(), 3);
    let ada = items(&users).iter().find(|u| u["username"] == "ada").unwrap();
    assert_eq!((&ada["roles"], &ada["active_devices"]), (&json!(["admin", "user"]), &json!(1)));
    let hal = items(&users).iter().find(|u| u["username"] == "hal").unwrap();
    assert_eq!(hal["roles"], json!(["user"]));

    for bad in [
        "/requests?limit=0",
        "/requests?limit=501",
        "/requests?cursor=nope",
        "/requests?risk=huge",
        "/requests?colour=red",
        "/requests?sub=a&sub=b",
        "/grants?status=live",
        "/audit?cursor=%%",
    ] {
        expect_err(admin.admin(&server, HttpMethod::Get, bad).await, 400, "invalid_request").await;
    }
    server.stop().await;
}

/// The next `admin_notice` on `sse`, skipping other events.
async fn next_notice(sse: &mut Sse) -> countersign_protocol::device::AdminNotice {
    loop {
        match sse.next_event(WAIT).await {
            Some((_, DeviceEvent::AdminNotice(n))) => return n,
            Some(_) => {}
            None => panic!("no admin_notice within {WAIT:?}"),
        }
    }
}

// Administrators hear of every `not_me` denial and of the blocks that
// follow, the automatic ones and an administrator's; the device that acted
// is not told, other users never are.
#[tokio::test]
async fn administrators_are_told_of_not_me_denials_and_blocks() {
    use countersign_protocol::device::{AdminNoticeKind, DenyReason};
    let server = server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
        c.limits.not_me_threshold = 2;
    })
    .await;
    let ada = admin_device(&server, "ada").await;
    let bob = admin_device(&server, "bob").await;
    let cy = TestDevice::of_new_user(&server, "cy").await;
    let (mut ada_sse, mut bob_sse) = (ada.events(&server, None).await, bob.events(&server, None).await);
    let unverified = Agent::register(&server, json!({})).await;
    let verified = Agent::register(&server, json!({})).await;
    let now = server.state.now();
    assert!(ops::set_client_verified(&server.state.db, &verified.client_id, true, &Actor::Operator, now)
        .await
        .unwrap());

    // Two `not_me` denials of an unverified client: two notices, then the
    // block of every unverified client for cy.
    for _ in 0..2 {
        unverified.start(&server, "cy").await;
        let req = cy.pending(&server).await.remove(0);
        assert_eq!(cy.decide(&server, &req, Decision::Deny, Some(DenyReason::NotMe)).await.status(), 200);
        let n = next_notice(&mut ada_sse).await;
        assert_eq!(n.notice, AdminNoticeKind::NotMe);
        assert_eq!(n.request_id.as_ref(), Some(&req.id));
        assert_eq!(n.client_id.as_deref(), Some(unverified.client_id.as_str()));
        assert_eq!(n.sub.as_deref(), Some(cy.sub.as_str()));
        assert_eq!(n.by, format!("device:{}", cy.id));
    }
    let n = next_notice(&mut ada_sse).await;
    assert_eq!(
        (n.notice, n.client_id, n.sub.as_deref(), n.by.as_str()),
        (AdminNoticeKind::UnverifiedBlocked, None, Some(cy.sub.as_str()), "server")
    );

    // A verified client: blocked for cy by the second denial, recorded in
    // the audit log by the server and told once.
    for _ in 0..2 {
        verified.start(&server, "cy").await;
        let req = cy.pending(&server).await.remove(0);
        assert_eq!(cy.decide(&server, &req, Decision::Deny, Some(DenyReason::NotMe)).await.status(), 200);
        assert_eq!(next_notice(&mut ada_sse).await.notice, AdminNoticeKind::NotMe);
    }
    let n = next_notice(&mut ada_sse).await;
    assert_eq!(n.notice, AdminNoticeKind::ClientBlocked);
    assert_eq!((n.client_id.as_deref(), n.sub.as_deref()), (Some(verified.client_id.as_str()), Some(cy.sub.as_str())));
    assert_eq!(n.by, "server");
    let body =
        expect_err(verified.bc_authorize(&server, &verified.request_params("cy")).await, 403, "access_denied").await;
    assert_eq!(body["error_description"], "the user has reported requests of this client as not theirs");
    let log = ada.admin_get(&server, &format!("/audit?action=client.blocked&target={}", verified.client_id)).await;
    assert_eq!(items(&log).len(), 1, "{log}");
    assert_eq!(items(&log)[0]["actor"], "server");
    assert_eq!(items(&log)[0]["data"]["because"], "not_me");

    // ada blocks the unverified client for everyone: bob is told, not ada's
    // own device; bob has had every notice so far too.
    let resp = ada.admin(&server, HttpMethod::Post, &format!("/clients/{}/block", unverified.client_id)).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    let kinds = [
        AdminNoticeKind::NotMe,
        AdminNoticeKind::NotMe,
        AdminNoticeKind::UnverifiedBlocked,
        AdminNoticeKind::NotMe,
        AdminNoticeKind::NotMe,
        AdminNoticeKind::ClientBlocked,
        AdminNoticeKind::ClientBlocked,
    ];
    for kind in kinds {
        assert_eq!(next_notice(&mut bob_sse).await.notice, kind);
    }
    // A block for one user is told with that user.
    let one = format!("/clients/{}/users/{}/block", verified.client_id, cy.sub);
    let resp = ada.admin(&server, HttpMethod::Post, &one).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    let n = next_notice(&mut bob_sse).await;
    assert_eq!((n.notice, n.sub.as_deref()), (AdminNoticeKind::ClientBlocked, Some(cy.sub.as_str())));
    assert_eq!((n.client_id.as_deref(), n.by), (Some(verified.client_id.as_str()), format!("device:{}", ada.id)));
    // ada's two blocks (for everyone, for cy), one event per administrator
    // each: none for her own device.
    let stored: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT sub, exclude_device FROM events WHERE kind = 'admin_notice' ORDER BY seq DESC LIMIT 4")
            .fetch_all(&server.state.db)
            .await
            .unwrap();
    assert!(stored.iter().all(|(_, ex)| ex.as_deref() == Some(ada.id.as_str())), "{stored:?}");
    assert!(tokio::time::timeout(std::time::Duration::from_millis(500), next_notice(&mut ada_sse)).await.is_err());
    // cy, not an administrator, has none.
    let cy_notices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'admin_notice' AND sub = $1")
        .bind(&cy.sub)
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(cy_notices, 0);
    server.stop().await;
}

// Roles given to a user that does not exist: a clear error, and nothing
// recorded.
#[tokio::test]
async fn a_role_for_an_unknown_user_is_refused_and_nothing_is_recorded() {
    let server = no_limits().await;
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&server.state.db).await.unwrap();
    let err = ops::set_admin(&server.state.db, "nobody", true, &Actor::Operator, server.state.now()).await.unwrap_err();
    assert!(matches!(err, ops::AdminError::NotFound(_)), "{err:?}");
    assert_eq!(err.to_string(), "user \"nobody\" not found");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&server.state.db).await.unwrap();
    assert_eq!(before, after);
    server.stop().await;
}

// The admin API names a user by `sub`: a user whose username is spelled
// like another user's `sub` is never the one acted on.
#[tokio::test]
async fn a_user_is_named_by_sub_even_when_a_username_looks_like_it() {
    let server = no_limits().await;
    let admin = admin_device(&server, "ada").await;
    // Mallory first (read first in the table), renamed once eve's sub is known.
    let now = server.state.now();
    let lookalike = ops::NewUser { username: "mallory".into(), name: "Mallory".into(), email: None, admin: false };
    let mallory = ops::add_user(&server.state.db, &lookalike, &Actor::Operator, now).await.unwrap();
    let eve = TestDevice::of_new_user(&server, "eve").await;
    sqlx::query("UPDATE users SET username = $1 WHERE sub = $2")
        .bind(&eve.sub)
        .bind(&mallory.sub)
        .execute(&server.state.db)
        .await
        .unwrap();
    let agent = Agent::register(&server, json!({})).await;
    let block = format!("/clients/{}/users/{}/block", agent.client_id, eve.sub);
    let resp = admin.admin(&server, HttpMethod::Post, &block).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"changed": true}));
    let blocked: Vec<String> =
        sqlx::query_scalar("SELECT sub FROM client_user_blocks").fetch_all(&server.state.db).await.unwrap();
    assert_eq!(blocked, std::slice::from_ref(&eve.sub));
    assert_ne!(mallory.sub, eve.sub);
    // A sub that does not exist is not found, even if it is someone's
    // username.
    let by_username = format!("/clients/{}/users/{}/block", agent.client_id, "mallory-2");
    sqlx::query("UPDATE users SET username = 'mallory-2' WHERE sub = $1")
        .bind(&mallory.sub)
        .execute(&server.state.db)
        .await
        .unwrap();
    expect_err(admin.admin(&server, HttpMethod::Post, &by_username).await, 404, "not_found").await;
    let unblock = format!("/clients/{}/users/{}/unblock", agent.client_id, "mallory-2");
    expect_err(admin.admin(&server, HttpMethod::Post, &unblock).await, 404, "not_found").await;
    server.stop().await;
}
