//! The OAuth endpoints' error paths (exact `error` codes and HTTP statuses),
//! hints, signed requests, fatigue control, registration, introspection,
//! revocation, discovery.

mod common;

use common::*;
use countersign_protocol::device::{Decision, DenyReason};
use countersign_protocol::jws::DeviceKeyPair;
use countersign_protocol::secret::{generate_url_safe, InitialAccessToken, UserCode};
use countersign_server::config::RegistrationPolicy;
use countersign_server::testing::TestServer;
use serde_json::{json, Value};

async fn no_limits() -> TestServer {
    server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
    })
    .await
}

type Params = Vec<(&'static str, String)>;

#[tokio::test]
async fn bc_authorize_request_errors() {
    let (server, agent) = user_and_agent(no_limits().await, "ivy").await;
    let p = || agent.request_params("ivy");
    async fn call(agent: &Agent, server: &TestServer, params: Params) -> reqwest::Response {
        agent.bc_authorize(server, &params).await
    }
    let (a, s) = (&agent, &server);

    expect_err(call(a, s, without(p(), "login_hint")).await, 400, "invalid_request").await;
    expect_err(call(a, s, with(p(), "login_hint_token", "x")).await, 400, "invalid_request").await;
    expect_err(call(a, s, without(p(), "binding_message")).await, 400, "invalid_request").await;
    expect_err(call(a, s, without(p(), "scope")).await, 400, "invalid_request").await;
    // Without authorization_details: a scope-only request, accepted (tests/scope_only.rs).
    expect_err(call(a, s, with(p(), "requested_expiry", "0")).await, 400, "invalid_request").await;
    expect_err(call(a, s, with(p(), "scope", "payments")).await, 400, "invalid_scope").await;
    expect_err(call(a, s, with(p(), "scope", "openid  payments")).await, 400, "invalid_scope").await;
    for bad in ["A".repeat(65), "PAY <b>".into(), "PAY\u{202E}1".into(), " PAY".into(), "PAY\n1".into()] {
        expect_err(call(a, s, with(p(), "binding_message", &bad)).await, 400, "invalid_binding_message").await;
    }
    expect_err(call(a, s, with(p(), "login_hint", "nobody")).await, 400, "unknown_user_id").await;
    let foreign = json!({"format": "iss_sub", "iss": "https://other.example", "sub": "u_1"}).to_string();
    expect_err(call(a, s, with(p(), "login_hint", &foreign)).await, 400, "unknown_user_id").await;
    let unregistered = json!([{"type": "urn:countersign:details:v1:code_deploy", "repository": "acme/web",
        "environment": "production", "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8"}])
    .to_string();
    for bad in [
        unregistered.as_str(),
        "[{\"type\":",
        "[]",
        r#"[{"type":"payment_initiation","n":9007199254740993}]"#,
        r#"[{"type":"payment_initiation","a":1,"a":2}]"#,
        r#"[{"type":"payment_initiation","actions":"initiate"}]"#,
    ] {
        expect_err(call(a, s, with(p(), "authorization_details", bad)).await, 400, "invalid_authorization_details")
            .await;
    }

    // Accepted variants: binding message charset, hints, expiry clamping.
    let ok = call(a, s, with(p(), "binding_message", "Zoë: PAY-4F7Q #2, +1.")).await;
    assert_eq!(ok.status(), 200);
    let ok = call(a, s, with(p(), "login_hint", "IVY@example.com")).await;
    assert_eq!(ok.status(), 200, "e-mail hint, case-insensitive");
    let sub = countersign_server::ops::find_user(&server.state.db, "ivy").await.unwrap().sub;
    let iss_sub = json!({"format": "iss_sub", "iss": server.base_url, "sub": sub}).to_string();
    assert_eq!(call(a, s, with(p(), "login_hint", &iss_sub)).await.status(), 200, "Auth0 iss_sub hint");
    let ack: Value = call(a, s, with(p(), "requested_expiry", "99999")).await.json().await.unwrap();
    assert_eq!(ack["expires_in"], 3600, "requested_expiry is capped");
    let ack: Value = call(a, s, with(p(), "requested_expiry", "60")).await.json().await.unwrap();
    assert_eq!(ack["expires_in"], 60);

    // Disabled users are unknown.
    server.state.disable_user("ivy", &countersign_server::ops::Actor::Operator).await.unwrap();
    expect_err(call(a, s, p()).await, 400, "unknown_user_id").await;
    server.stop().await;
}

#[tokio::test]
async fn client_authentication_errors() {
    let (server, agent) = user_and_agent(no_limits().await, "jo").await;
    let params = agent.request_params("jo");
    let http = http();
    let url = server.url("/bc-authorize");

    let resp = http.post(&url).basic_auth(&agent.client_id, Some("wrong")).form(&params).send().await.unwrap();
    assert_eq!(resp.headers()["www-authenticate"], "Basic realm=\"countersign\"");
    expect_err(resp, 401, "invalid_client").await;
    let resp = http.post(&url).basic_auth("cli_unknown", Some("x")).form(&params).send().await.unwrap();
    expect_err(resp, 401, "invalid_client").await;
    let resp = http.post(&url).form(&params).send().await.unwrap();
    expect_err(resp, 401, "invalid_client").await;
    // Not the registered method (client_secret_basic).
    let mut post = params.clone();
    post.push(("client_id", agent.client_id.clone()));
    post.push(("client_secret", agent.secret.clone().unwrap()));
    expect_err(http.post(&url).form(&post).send().await.unwrap(), 401, "invalid_client").await;
    // Two methods at once.
    let resp = http.post(&url).basic_auth(&agent.client_id, agent.secret.as_deref()).form(&post).send().await.unwrap();
    expect_err(resp, 400, "invalid_request").await;
    // Form only.
    let resp = http
        .post(&url)
        .basic_auth(&agent.client_id, agent.secret.as_deref())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_err(resp, 400, "invalid_request").await;
    // Body limit.
    let big = vec![("scope", "openid".to_owned()), ("pad", "x".repeat(70 * 1024))];
    let resp = http.post(&url).basic_auth(&agent.client_id, agent.secret.as_deref()).form(&big).send().await.unwrap();
    expect_err(resp, 413, "invalid_request").await;

    // private_key_jwt: a replayed assertion is refused.
    let pk = Agent::register(&server, json!({"token_endpoint_auth_method": "private_key_jwt"})).await;
    let assertion = pk.assertion(server.state.now());
    let mut form = pk.request_params("jo");
    form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
    form.push(("client_assertion", assertion));
    assert_eq!(http.post(&url).form(&form).send().await.unwrap().status(), 200);
    expect_err(http.post(&url).form(&form).send().await.unwrap(), 401, "invalid_client").await;

    // Disabled by the operator: authenticated but not authorized.
    server.state.disable_client(&agent.client_id, &countersign_server::ops::Actor::Operator).await.unwrap();
    expect_err(agent.bc_authorize(&server, &params).await, 400, "unauthorized_client").await;
    expect_err(agent.token(&server, "x").await, 400, "unauthorized_client").await;

    // The secret is stored as its SHA-256 only.
    let rows = countersign_server::ops::list_clients(&server.state.db).await.unwrap();
    assert!(rows.iter().any(|c| c.client_id == agent.client_id && c.disabled));
    server.stop().await;
}

#[tokio::test]
async fn ping_needs_a_notification_token_and_user_codes_are_checked() {
    let server = no_limits().await;
    add_user(&server, "kim").await;
    let (_rx, ping) = notified_agent(&server, "ping", json!({})).await;
    let p = without(ping.request_params("kim"), "client_notification_token");
    expect_err(ping.bc_authorize(&server, &p).await, 400, "invalid_request").await;

    let uc = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    assert_eq!(uc.registration["backchannel_user_code_parameter"], true);
    let p = uc.request_params("kim");
    expect_err(uc.bc_authorize(&server, &p).await, 400, "missing_user_code").await;
    expect_err(uc.bc_authorize(&server, &with(p.clone(), "user_code", "1234")).await, 400, "invalid_user_code").await;
    countersign_server::ops::set_user_code(
        &server.state.db,
        &server.state.user_code_key,
        "kim",
        &UserCode::new("4711".into()),
        &countersign_server::ops::Actor::Operator,
        server.state.now(),
    )
    .await
    .unwrap();
    expect_err(uc.bc_authorize(&server, &with(p.clone(), "user_code", "1234")).await, 400, "invalid_user_code").await;
    assert_eq!(uc.bc_authorize(&server, &with(p, "user_code", "4711")).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn login_hint_token_and_id_token_hint() {
    let (server, dev) = user_and_device(no_limits().await, "lu").await;
    let agent = Agent::register(&server, json!({"token_endpoint_auth_method": "private_key_jwt"})).await;
    let now = server.state.now();
    let base = without(agent.request_params("lu"), "login_hint");
    let lht = |exp: u64, key: Option<&DeviceKeyPair>| {
        let claims = json!({
            "iss": agent.client_id, "aud": server.base_url, "exp": exp,
            "sub_id": {"format": "email", "email": "lu@example.com"},
        });
        match key {
            None => agent.sign(&claims),
            Some(k) => {
                k.sign(&countersign_protocol::jws::SignHeader { typ: None, kid: Some("k1".into()) }, &claims).unwrap()
            }
        }
    };
    let ok = agent.bc_authorize(&server, &with(base.clone(), "login_hint_token", &lht(now + 60, None))).await;
    assert_eq!(ok.status(), 200);
    let ack: Value = ok.json().await.unwrap();
    // format email matches e-mail addresses only (case-insensitively), never a username.
    let by_email = |email: &str| {
        agent.sign(&json!({
            "iss": agent.client_id, "aud": server.base_url, "exp": now + 60,
            "sub_id": {"format": "email", "email": email},
        }))
    };
    for not_an_email in ["lu", ""] {
        let p = with(base.clone(), "login_hint_token", &by_email(not_an_email));
        expect_err(agent.bc_authorize(&server, &p).await, 400, "unknown_user_id").await;
    }
    let p = with(base.clone(), "login_hint_token", &by_email("LU@Example.COM"));
    assert_eq!(agent.bc_authorize(&server, &p).await.status(), 200);
    let expired = with(base.clone(), "login_hint_token", &lht(now.saturating_sub(5), None));
    expect_err(agent.bc_authorize(&server, &expired).await, 400, "expired_login_hint_token").await;
    let stranger = DeviceKeyPair::generate().unwrap();
    let forged = with(base.clone(), "login_hint_token", &lht(now + 60, Some(&stranger)));
    expect_err(agent.bc_authorize(&server, &forged).await, 400, "invalid_request").await;

    // id_token_hint: an ID token this server issued.
    let req = dev.pending(&server).await.remove(0);
    dev.decide(&server, &req, Decision::Approve, None).await;
    let tok: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    let id_token = id_token_str(&tok);
    let resp = agent.bc_authorize(&server, &with(base.clone(), "id_token_hint", &id_token)).await;
    assert_eq!(resp.status(), 200);
    let pending = dev.pending(&server).await;
    assert_eq!(pending[0].user.sub, dev.sub);
    // An access token is not an ID token; a tampered one does not verify.
    let access = tok["access_token"].as_str().unwrap();
    expect_err(agent.bc_authorize(&server, &with(base.clone(), "id_token_hint", access)).await, 400, "invalid_request")
        .await;
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    parts[1] = countersign_protocol::jws::b64url_encode(
        json!({"iss": server.base_url, "sub": dev.sub, "aud": "x", "exp": now + 60}).to_string(),
    );
    expect_err(
        agent.bc_authorize(&server, &with(base, "id_token_hint", &parts.join("."))).await,
        400,
        "invalid_request",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn signed_request_objects() {
    let server = no_limits().await;
    add_user(&server, "max").await;
    let rx = Receiver::start().await;
    let key = DeviceKeyPair::generate().unwrap();
    *rx.state.jwks.lock().unwrap() = Some(client_jwks(&key));
    let agent = Agent::register(
        &server,
        json!({
            "backchannel_authentication_request_signing_alg": "ES256",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": format!("{}/jwks", rx.url),
        }),
    )
    .await;
    let agent = Agent { key: std::sync::Arc::new(key), ..agent };
    // Unsigned parameters are refused for this client.
    expect_err(agent.bc_authorize(&server, &agent.request_params("max")).await, 400, "invalid_request").await;

    let now = server.state.now();
    let object = |exp: u64, jti: &str| {
        json!({
            "iss": agent.client_id, "aud": server.base_url, "iat": now, "nbf": now, "exp": exp, "jti": jti,
            "scope": "openid payments", "login_hint": "max", "binding_message": "PAY-1",
            "authorization_details": details(), "requested_expiry": 120,
        })
    };
    let jti = generate_url_safe(16).unwrap();
    let signed = agent.sign_request(&object(now + 300, &jti));
    let resp = agent.bc_authorize(&server, &[("request", signed.clone())]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["expires_in"], 120);
    expect_err(agent.bc_authorize(&server, &[("request", signed)]).await, 400, "invalid_request_object").await;
    let expired = agent.sign_request(&object(now.saturating_sub(1), "jti-expired-000000000000"));
    expect_err(agent.bc_authorize(&server, &[("request", expired)]).await, 400, "invalid_request_object").await;
    let stranger = DeviceKeyPair::generate().unwrap();
    let forged = stranger
        .sign(
            &countersign_protocol::jws::SignHeader {
                typ: Some(countersign_protocol::jws::JwtType::RequestObject),
                kid: Some("k1".into()),
            },
            &object(now + 300, "jti-forged-0000000000000"),
        )
        .unwrap();
    expect_err(agent.bc_authorize(&server, &[("request", forged)]).await, 400, "invalid_request_object").await;
    let mut wrong_type = object(now + 300, "jti-type-00000000000000000");
    wrong_type["binding_message"] = json!(42);
    let wrong_type = agent.sign_request(&wrong_type);
    expect_err(agent.bc_authorize(&server, &[("request", wrong_type)]).await, 400, "invalid_request_object").await;
    let outside = agent.sign_request(&object(now + 300, "jti-outside-0000000000000"));
    let resp = agent.bc_authorize(&server, &[("request", outside), ("scope", "openid".into())]).await;
    expect_err(resp, 400, "invalid_request").await;
    server.stop().await;
}

#[tokio::test]
async fn token_endpoint_errors_and_slow_down() {
    let (server, agent) = user_and_agent(no_limits().await, "ned").await;
    let other = Agent::register(&server, json!({})).await;
    let ack = agent.start(&server, "ned").await;
    let id = ack["auth_req_id"].as_str().unwrap();

    expect_err(agent.token(&server, "unknown-auth-req-id").await, 400, "invalid_grant").await;
    expect_err(other.token(&server, id).await, 400, "invalid_grant").await;
    let resp = agent.post("/token", &[("grant_type", "client_credentials".into())], 0).await;
    expect_err(resp, 400, "unsupported_grant_type").await;
    let resp = agent.post("/token", &[("grant_type", "urn:openid:params:grant-type:ciba".into())], 0).await;
    expect_err(resp, 400, "invalid_request").await;

    expect_err(agent.token(&server, id).await, 400, "authorization_pending").await;
    expect_err(agent.token(&server, id).await, 400, "slow_down").await;
    // The interval is now 10 s, for good: 5 s later is still too fast (15 s now).
    server.clock.advance(5);
    expect_err(agent.token(&server, id).await, 400, "slow_down").await;
    server.clock.advance(15);
    expect_err(agent.token(&server, id).await, 400, "authorization_pending").await;
    // Never back to 5 s: 10 s later is too fast (the interval becomes 20 s).
    server.clock.advance(10);
    expect_err(agent.token(&server, id).await, 400, "slow_down").await;
    server.clock.advance(20);
    expect_err(agent.token(&server, id).await, 400, "authorization_pending").await;
    server.clock.advance(400);
    expect_err(agent.token(&server, id).await, 400, "expired_token").await;

    // An approval just before expiry can be redeemed for a minute after it, not longer.
    let dev = TestDevice::enroll(&server, "ned").await;
    let ack = agent.start(&server, "ned").await;
    let id = ack["auth_req_id"].as_str().unwrap();
    let ack2 = agent.start(&server, "ned").await;
    let id2 = ack2["auth_req_id"].as_str().unwrap();
    for req in dev.pending(&server).await {
        assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    }
    server.clock.advance(300 + 30);
    assert_eq!(agent.token(&server, id).await.status(), 200);
    server.clock.advance(31);
    expect_err(agent.token(&server, id2).await, 400, "expired_token").await;
    server.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let server = server_with(|c| c.limits.client_per_minute = 7).await;
    add_users(&server, &["ola", "pia"]).await;
    let agent = Agent::register(&server, json!({})).await;
    for _ in 0..5 {
        agent.start(&server, "ola").await;
    }
    let resp = agent.bc_authorize(&server, &agent.request_params("ola")).await;
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    expect_err(resp, 429, "slow_down").await;
    // Per client: 7 per minute across users.
    agent.start(&server, "pia").await;
    agent.start(&server, "pia").await;
    let resp = agent.bc_authorize(&server, &agent.request_params("pia")).await;
    assert!(resp.headers().contains_key("retry-after"));
    expect_err(resp, 429, "slow_down").await;
    server.clock.advance(61);
    agent.start(&server, "ola").await;
    server.stop().await;
}

// The per-user rate counts every request the user was asked in the last
// minute, whatever became of it (approved, denied, still pending), and only
// that minute: a request made 59 s ago counts, one made 60 s ago does not.
#[tokio::test]
async fn the_per_user_rate_counts_decided_requests_and_exactly_the_last_minute() {
    let server = server_with(|c| {
        c.limits.user_per_minute = 3;
        c.limits.client_per_minute = 0;
    })
    .await;
    add_users(&server, &["uma"]).await;
    let dev = TestDevice::enroll(&server, "uma").await;
    // Still, so that no second passes between the requests and the checks.
    server.clock.pause();
    let agent = Agent::register(&server, json!({})).await;
    for decision in [Some(Decision::Approve), Some(Decision::Deny), None] {
        agent.start(&server, "uma").await;
        if let Some(decision) = decision {
            let req = dev.pending(&server).await.remove(0);
            let reason = (decision == Decision::Deny).then_some(DenyReason::WrongDetails);
            assert_eq!(dev.decide(&server, &req, decision, reason).await.status(), 200);
        }
    }
    assert_eq!(dev.pending(&server).await.len(), 1, "two of the three are decided");
    let resp = agent.bc_authorize(&server, &agent.request_params("uma")).await;
    assert_eq!(resp.headers()["retry-after"], "60");
    expect_err(resp, 429, "slow_down").await;
    server.clock.advance(59);
    let resp = agent.bc_authorize(&server, &agent.request_params("uma")).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_err(resp, 429, "slow_down").await;
    server.clock.advance(1);
    agent.start(&server, "uma").await;
    server.stop().await;
}

// An `auth_req_id` starts with its creation time (12 hex digits and a dot),
// so that the index the token endpoint looks it up in grows at its end; one
// without that prefix, as servers before it made them, is still found by
// its hash (a request in flight across an upgrade keeps working).
#[tokio::test]
async fn auth_req_ids_carry_their_time_and_older_ones_are_still_found() {
    let server = no_limits().await;
    add_users(&server, &["ulf"]).await;
    let dev = TestDevice::enroll(&server, "ulf").await;
    let agent = Agent::register(&server, json!({})).await;
    let first = agent.start(&server, "ulf").await["auth_req_id"].as_str().unwrap().to_owned();
    server.clock.advance(1);
    let second = agent.start(&server, "ulf").await["auth_req_id"].as_str().unwrap().to_owned();
    let (time, secret) = first.split_once('.').expect("a time prefix");
    assert_eq!(time.len(), 12);
    assert!(time.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{first}");
    assert_eq!(secret.len(), 27, "160 random bits in base64url: {first}");
    assert!(first < second, "later ids sort later: {first} {second}");
    expect_err(agent.token(&server, &first).await, 400, "authorization_pending").await;
    // The same secret behind another time prefix is another id.
    let moved = format!("{:012x}.{secret}", u64::from_str_radix(time, 16).unwrap() + 1);
    expect_err(agent.token(&server, &moved).await, 400, "invalid_grant").await;

    // A request stored as an older server stored it: an id without the
    // prefix, found by its bare hash.
    let legacy = generate_url_safe(32).unwrap();
    let updated = sqlx::query("UPDATE auth_requests SET auth_req_id_hash = $1 WHERE auth_req_id_hash = $2")
        .bind(countersign_server::testing::hash_secret(&legacy))
        .bind(countersign_server::testing::auth_req_id_key(&second))
        .execute(&server.state.db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    server.clock.advance(10);
    expect_err(agent.token(&server, &legacy).await, 400, "authorization_pending").await;
    expect_err(agent.token(&server, &second).await, 400, "invalid_grant").await;
    // Approved, it is redeemed with the older id.
    let mut pending = dev.pending(&server).await;
    assert_eq!(pending.len(), 2);
    let req = pending.remove(1);
    assert!(req.created_at > pending[0].created_at, "the second request");
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let resp = agent.token(&server, &legacy).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    server.stop().await;
}

#[tokio::test]
async fn not_me_denials_block_the_client_for_that_user() {
    let server = no_limits().await;
    add_users(&server, &["quin", "rae"]).await;
    let dev = TestDevice::enroll(&server, "quin").await;
    // A verified client is counted on its own, within the window (unverified
    // clients are counted together and blocked until lifted: tests/trust.rs).
    let agent = Agent::register(&server, json!({})).await;
    verify(&server, &agent).await;
    let other = Agent::register(&server, json!({})).await;
    for reason in [DenyReason::NotMe, DenyReason::WrongDetails, DenyReason::NotMe, DenyReason::NotMe] {
        expect_ok_start(&agent, &server, "quin").await;
        let req = dev.pending(&server).await.remove(0);
        assert_eq!(dev.decide(&server, &req, Decision::Deny, Some(reason)).await.status(), 200);
    }
    let resp = agent.bc_authorize(&server, &agent.request_params("quin")).await;
    expect_err(resp, 403, "access_denied").await;
    // Only this client, only this user.
    expect_ok_start(&other, &server, "quin").await;
    expect_ok_start(&agent, &server, "rae").await;
    server.clock.advance(24 * 3600 + 1);
    expect_ok_start(&agent, &server, "quin").await;
    server.stop().await;
}

async fn expect_ok_start(agent: &Agent, server: &TestServer, user: &str) {
    let resp = agent.bc_authorize(server, &agent.request_params(user)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
}

#[tokio::test]
async fn registration_validation() {
    let server = server().await;
    let http = http();
    let reg = |body: Value| {
        let http = http.clone();
        let url = server.url("/register");
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let base = json!({"backchannel_token_delivery_mode": "poll"});
    let merge = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for bad in [
        json!({}),
        json!({"backchannel_token_delivery_mode": "carrier-pigeon"}),
        json!({"backchannel_token_delivery_mode": 5}),
        merge(json!({"backchannel_token_delivery_mode": "ping"})),
        merge(json!({"backchannel_token_delivery_mode": "push",
            "backchannel_client_notification_endpoint": "ftp://example.com/cb"})),
        merge(json!({"token_endpoint_auth_method": "none"})),
        merge(json!({"token_endpoint_auth_method": "private_key_jwt"})),
        merge(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}})),
        merge(json!({"jwks": client_jwks(&DeviceKeyPair::generate().unwrap()), "jwks_uri": "https://x.example/jwks"})),
        merge(json!({"backchannel_authentication_request_signing_alg": "RS256"})),
        merge(json!({"backchannel_authentication_request_signing_alg": "ES256"})),
        merge(json!({"grant_types": ["authorization_code"]})),
        merge(json!({"client_name": ""})),
        merge(json!({"logo_uri": "http://example.com/logo.png"})),
        merge(json!({"scope": "openid  x"})),
        merge(json!({"authorization_details_types": [""]})),
    ] {
        let resp = reg(bad.clone()).await;
        let (s, c, _) = error_of(resp).await;
        assert_eq!((s, c.as_str()), (400, "invalid_client_metadata"), "{bad}");
    }
    let resp = reg(merge(json!({"redirect_uris": ["not a url"]}))).await;
    expect_err(resp, 400, "invalid_redirect_uri").await;

    let resp = reg(merge(json!({"client_name": "Portfolio Agent", "scope": "openid trade"}))).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["grant_types"], json!(["urn:openid:params:grant-type:ciba"]));
    let secret = body["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256-bit secret");
    server.stop().await;

    // Notification endpoints must be https unless the danger switch is on.
    let strict = server_with(|c| c.danger_allow_http_loopback_notifications = false).await;
    let resp = http
        .post(strict.url("/register"))
        .json(&json!({"backchannel_token_delivery_mode": "ping",
            "backchannel_client_notification_endpoint": "http://127.0.0.1:9/cb"}))
        .send()
        .await
        .unwrap();
    expect_err(resp, 400, "invalid_client_metadata").await;
    strict.stop().await;
}

#[tokio::test]
async fn registration_with_an_initial_access_token() {
    let token = generate_url_safe(32).unwrap();
    let t2 = token.clone();
    let server =
        server_with(move |c| c.registration = RegistrationPolicy::InitialAccessToken(InitialAccessToken::new(t2)))
            .await;
    let http = http();
    let body = json!({"backchannel_token_delivery_mode": "poll"});
    let resp = http.post(server.url("/register")).json(&body).send().await.unwrap();
    assert_eq!(resp.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    expect_err(resp, 401, "invalid_token").await;
    let resp = http.post(server.url("/register")).bearer_auth("nope").json(&body).send().await.unwrap();
    expect_err(resp, 401, "invalid_token").await;
    let resp = http.post(server.url("/register")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    server.stop().await;
}

#[tokio::test]
async fn introspection_and_revocation() {
    let (server, dev, agent) = user_device_and_agent(no_limits().await, "sam").await;
    let other = Agent::register(&server, json!({"token_endpoint_auth_method": "client_secret_post"})).await;
    let tok = approved_tokens(&server, &dev, &agent, "sam").await;
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let now = server.state.now();

    let intro: Value = agent.post("/introspect", &[("token", access.clone())], now).await.json().await.unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], dev.sub);
    assert_eq!(intro["client_id"], agent.client_id);
    assert_eq!(intro["scope"], "openid payments");
    assert_eq!(intro["authorization_details"], details());
    assert_eq!(intro["act"], json!({"sub": agent.client_id}));
    // RFC 7662 §4: another (authenticated) client gets nothing but inactive.
    let resp = other.post("/introspect", &[("token", access.clone())], now).await;
    assert_eq!(resp.status(), 200);
    let intro: Value = resp.json().await.unwrap();
    assert_eq!(intro, json!({"active": false}), "another client's token");
    let intro: Value = agent.post("/introspect", &[("token", "garbage".into())], now).await.json().await.unwrap();
    assert_eq!(intro, json!({"active": false}));
    let resp = http().post(server.url("/introspect")).form(&[("token", &access)]).send().await.unwrap();
    expect_err(resp, 401, "invalid_client").await;
    expect_err(agent.post("/introspect", &[], now).await, 400, "invalid_request").await;

    expect_err(other.post("/revoke", &[("token", access.clone())], now).await, 400, "unauthorized_client").await;
    let resp = agent.post("/revoke", &[("token", "garbage".into())], now).await;
    assert_eq!(resp.status(), 200);
    let resp =
        agent.post("/revoke", &[("token", access.clone()), ("token_type_hint", "access_token".into())], now).await;
    assert_eq!(resp.status(), 200);
    let intro: Value = agent.post("/introspect", &[("token", access.clone())], now).await.json().await.unwrap();
    assert_eq!(intro, json!({"active": false}), "revoked");

    // Expiry makes a token inactive.
    let tok = approved_tokens(&server, &dev, &agent, "sam").await;
    let access = tok["access_token"].as_str().unwrap().to_owned();
    server.clock.advance(601);
    let intro: Value = agent.post("/introspect", &[("token", access)], server.state.now()).await.json().await.unwrap();
    assert_eq!(intro["active"], false);
    server.stop().await;
}

/// A client withdraws its own pending request by revoking its `auth_req_id`
/// (RFC 7009 endpoint; CIBA defines no cancel): the approvers stop showing
/// it and a poll is denied. Another client's is refused, a decided one is
/// left as it is, and an unknown one is answered 200 like any token.
#[tokio::test]
async fn a_client_withdraws_its_pending_request_by_revoking_its_auth_req_id() {
    let (server, agent) = user_and_agent(no_limits().await, "wes").await;
    let other = Agent::register(&server, json!({})).await;
    let dev = TestDevice::enroll(&server, "wes").await;
    let now = server.state.now();
    let ack = agent.start(&server, "wes").await;
    let id = ack["auth_req_id"].as_str().unwrap().to_owned();
    assert_eq!(dev.pending(&server).await.len(), 1);

    async fn revoke(a: &Agent, token: String, now: u64) -> reqwest::Response {
        a.post("/revoke", &[("token", token), ("token_type_hint", "auth_req_id".into())], now).await
    }
    expect_err(revoke(&other, id.clone(), now).await, 400, "unauthorized_client").await;
    assert_eq!(dev.pending(&server).await.len(), 1, "another client cannot withdraw it");

    let resp = revoke(&agent, id.clone(), now).await;
    assert_eq!(resp.status(), 200);
    assert!(dev.pending(&server).await.is_empty(), "withdrawn from the approvers");
    let resp = agent.token(&server, &id).await;
    let body = expect_err(resp, 400, "access_denied").await;
    assert_eq!(body["error_description"], "the request was cancelled", "{body}");
    // Again, and an unknown one: 200 (RFC 7009 §2.2), nothing changes.
    assert_eq!(revoke(&agent, id.clone(), now).await.status(), 200);
    assert_eq!(revoke(&agent, format!("{}.unknownunknownunknown", &id[..12]), now).await.status(), 200);

    // A decided request is not withdrawn: its tokens are still issued.
    let ack = agent.start(&server, "wes").await;
    let approved = ack["auth_req_id"].as_str().unwrap().to_owned();
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    assert_eq!(revoke(&agent, approved.clone(), now).await.status(), 200);
    assert_eq!(agent.token(&server, &approved).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn discovery_documents_and_no_cors() {
    let server = server().await;
    let http = http();
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let meta: Value = http.get(server.url(path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(meta["issuer"], server.base_url);
        assert_eq!(meta["backchannel_token_delivery_modes_supported"], json!(["poll", "ping", "push"]));
        assert_eq!(meta["backchannel_authentication_endpoint"], server.url("/bc-authorize"));
        assert_eq!(meta["backchannel_authentication_request_signing_alg_values_supported"], json!(["ES256"]));
        assert_eq!(meta["backchannel_user_code_parameter_supported"], true);
        assert!(meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:openid:params:grant-type:ciba")));
        assert_eq!(meta["countersign_device_endpoint"], server.url("/device/v1"));
        assert_eq!(meta["jwks_uri"], server.url("/jwks"));
        let types = meta["authorization_details_types_supported"].as_array().unwrap();
        assert!(types.contains(&json!("payment_initiation")) && types.contains(&json!(STOCK_TRADE)), "{types:?}");
        assert_eq!(meta["authorization_details_schemas_endpoint"], server.url("/authorization-details-schemas"));
        assert_eq!(
            meta["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
        );
    }
    let resp = http.get(server.url("/authorization-details-schemas")).send().await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let schemas: Value = resp.json().await.unwrap();
    let builtin = countersign_details::Registry::builtin().unwrap();
    assert_eq!(schemas, builtin.schemas_document());
    countersign_details::Registry::from_schemas_document(&schemas).expect("hashes verify");
    let resp = http
        .request(reqwest::Method::OPTIONS, server.url("/token"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    let resp = http.get(server.url("/token")).header("Origin", "https://evil.example").send().await.unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert_eq!(http.get(server.url("/nope")).send().await.unwrap().status(), 404);
    server.stop().await;
}

/// The `error_description` of an `invalid_authorization_details` answer, checked
/// to be RFC 6749 §5.2-legal.
async fn details_refusal(resp: reqwest::Response) -> String {
    let body = expect_err(resp, 400, "invalid_authorization_details").await;
    let d = body["error_description"].as_str().expect("error_description").to_owned();
    assert!(d.chars().all(|c| matches!(c, ' ' | '!' | '#'..='[' | ']'..='~')), "illegal character in {d:?}");
    d
}

#[tokio::test]
async fn schema_violations_are_refused_naming_index_and_path() {
    let (server, agent) = user_and_agent(no_limits().await, "ivy").await;
    let (a, s) = (&agent, &server);
    async fn call(agent: &Agent, server: &TestServer, details: Value) -> reqwest::Response {
        agent
            .bc_authorize(server, &with(agent.request_params("ivy"), "authorization_details", &details.to_string()))
            .await
    }
    let send = |details: Value| call(a, s, details);

    // A limit order without its limit price: the missing member's path.
    let limit =
        json!([{"type": STOCK_TRADE, "action": "buy", "symbol": "AAPL", "quantity": "10", "order_type": "limit"}]);
    let d = details_refusal(send(limit).await).await;
    assert!(d.starts_with("authorization_details[0]/limit_price: "), "{d}");
    assert!(d.contains("'limit_price'"), "quotes become apostrophes: {d}");

    // The second detail, a nested value: an amount sent as a JSON number.
    let mut two = details();
    let mut pay = details()[0].clone();
    pay["instructedAmount"]["amount"] = json!(123.5);
    two.as_array_mut().unwrap().push(pay);
    let d = details_refusal(send(two).await).await;
    assert!(d.starts_with("authorization_details[1]/instructedAmount/amount: "), "{d}");

    // A member a closed schema does not allow, with a lookalike name: the
    // Cyrillic letter is named, not dropped.
    let extra = json!([{"type": STOCK_TRADE, "action": "sell", "symbol": "BRK.B", "quantity": "0.5",
        "order_type": "market", "n\u{043e}te": "x"}]);
    let d = details_refusal(send(extra).await).await;
    assert!(d.starts_with("authorization_details[0]: ") && d.contains("n<U+043E>te"), "{d}");

    // A valid trade of a registered type is accepted.
    let trade =
        json!([{"type": STOCK_TRADE, "action": "sell", "symbol": "BRK.B", "quantity": "0.5", "order_type": "market"}]);
    assert_eq!(send(trade).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn unknown_types_are_refused_at_registration_and_in_requests() {
    let server = no_limits().await;
    add_user(&server, "ivy").await;
    let resp = http()
        .post(server.url("/register"))
        .json(&json!({"backchannel_token_delivery_mode": "poll",
            "authorization_details_types": ["payment_initiation", "urn:example:unknown"]}))
        .send()
        .await
        .unwrap();
    let body = expect_err(resp, 400, "invalid_client_metadata").await;
    assert!(body["error_description"].as_str().unwrap().contains("urn:example:unknown"), "{body}");

    let agent = Agent::register(&server, json!({})).await;
    let unknown = json!([details()[0].clone(), {"type": "urn:example:unknown", "door": "front"}]).to_string();
    let d = details_refusal(
        agent.bc_authorize(&server, &with(agent.request_params("ivy"), "authorization_details", &unknown)).await,
    )
    .await;
    assert!(d.starts_with("authorization_details[1]/type: unknown type 'urn:example:unknown'"), "{d}");

    // Auth0 Guardian's family: any type under its prefix may be registered and sent.
    let auth0 = "urn:auth0:schemas:authorization-details:v1:money-transfer";
    let agent = Agent::register(&server, json!({"authorization_details_types": [auth0]})).await;
    let guardian = json!([{"type": auth0, "instruction": "Approve the transfer of 150.00 EUR to Bob",
        "properties": {"amount": {"display": true, "name": "Amount", "display_order": 1, "value": "150.00 EUR"}}}]);
    let resp = agent
        .bc_authorize(&server, &with(agent.request_params("ivy"), "authorization_details", &guardian.to_string()))
        .await;
    assert_eq!(resp.status(), 200);
    server.stop().await;
}

/// The test door schema with an icon and its member emphasised.
fn door_schema() -> Value {
    let mut schema = countersign_server::testing::door_schema();
    schema["x-countersign"]["icon"] = json!("door");
    schema["properties"]["door"]["x-countersign"]["emphasis"] = json!(true);
    schema
}

#[tokio::test]
async fn custom_types_from_a_schemas_dir_are_accepted_published_and_hashed() {
    use countersign_protocol::device::SchemaHash;
    use countersign_server::testing::{spawn_test_server, TestOptions};
    use countersign_server::RegistrySchemas;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("door.json"), door_schema().to_string()).unwrap();
    let schemas = RegistrySchemas::with_dir(dir.path()).unwrap();
    let server = spawn_test_server(TestOptions { schemas: Some(std::sync::Arc::new(schemas)), ..Default::default() })
        .await
        .unwrap();
    let sub = add_user(&server, "ivy").await;
    let hash = SchemaHash::of_schema(&door_schema()).unwrap();

    // Published: in the metadata and in the schemas document, with its hash.
    let http = http();
    let meta: Value =
        http.get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let types = meta["authorization_details_types_supported"].as_array().unwrap();
    assert!(types.contains(&json!("urn:acme:door")) && types.contains(&json!(STOCK_TRADE)), "{types:?}");
    let document: Value =
        http.get(server.url("/authorization-details-schemas")).send().await.unwrap().json().await.unwrap();
    let entry = document["schemas"].as_array().unwrap().iter().find(|e| e["type"] == "urn:acme:door").unwrap();
    assert_eq!(entry["hash"], hash.as_str());
    assert_eq!(entry["schema"], door_schema());

    // Accepted (and validated) at /bc-authorize.
    let dev = TestDevice::enroll(&server, "ivy").await;
    assert_eq!(dev.sub, sub);
    let mut events = dev.events(&server, None).await;
    let agent = Agent::register(&server, json!({"authorization_details_types": ["urn:acme:door"]})).await;
    let door = |v: Value| with(agent.request_params("ivy"), "authorization_details", &v.to_string());
    let d = details_refusal(agent.bc_authorize(&server, &door(json!([{"type": "urn:acme:door"}]))).await).await;
    assert!(d.starts_with("authorization_details[0]/door: "), "{d}");
    let resp = agent.bc_authorize(&server, &door(json!([{"type": "urn:acme:door", "door": "Front door"}]))).await;
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();

    // Hashed: the statement carries the custom schema's hash, and the server
    // rebuilds it with the same one.
    let (_, req) = expect_request(events.next_event(WAIT).await);
    assert_eq!(req.risk.as_str(), "low", "risk from the schema");
    assert!(req.requires.is_empty(), "a low-risk request needs no user verification");
    assert_eq!(dev.schemas(&req)["urn:acme:door"], hash);
    let resp = dev.decide(&server, &req, countersign_protocol::device::Decision::Approve, None).await;
    assert_eq!(resp.status(), 200);
    let tok: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(tok["authorization_details"][0]["door"], "Front door");
    server.stop().await;
}

#[tokio::test]
async fn risk_comes_from_the_schemas() {
    let (server, dev) = user_and_device(no_limits().await, "ivy").await;
    let mut events = dev.events(&server, None).await;
    let agent = Agent::register(&server, json!({})).await;
    // payment_initiation is critical: user verification is required.
    agent.start(&server, "ivy").await;
    let (_, req) = expect_request(events.next_event(WAIT).await);
    assert_eq!(req.risk.as_str(), "critical");
    assert_eq!(req.requires, vec![countersign_protocol::device::Requirement::UserVerification]);
    server.stop().await;
}

#[tokio::test]
async fn user_code_failures_lock_the_code_for_the_window() {
    let server = no_limits().await;
    add_users(&server, &["uma", "vic"]).await;
    for u in ["uma", "vic"] {
        countersign_server::ops::set_user_code(
            &server.state.db,
            &server.state.user_code_key,
            u,
            &UserCode::new("4711".into()),
            &countersign_server::ops::Actor::Operator,
            server.state.now(),
        )
        .await
        .unwrap();
    }
    let uc = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    let other = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    let right = |agent: &Agent, user: &str| with(agent.request_params(user), "user_code", "4711");
    let wrong = |agent: &Agent, user: &str, code: &str| with(agent.request_params(user), "user_code", code);
    for i in 0..5 {
        let resp = uc.bc_authorize(&server, &wrong(&uc, "uma", &format!("000{i}"))).await;
        expect_err(resp, 400, "invalid_user_code").await;
    }
    // Locked: even the right code is refused, from any client, with the fatigue 429.
    for agent in [&uc, &other] {
        let resp = agent.bc_authorize(&server, &right(agent, "uma")).await;
        let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        expect_err(resp, 429, "slow_down").await;
    }
    // Another user is not affected.
    assert_eq!(uc.bc_authorize(&server, &right(&uc, "vic")).await.status(), 200);
    server.clock.advance(890);
    expect_err(uc.bc_authorize(&server, &right(&uc, "uma")).await, 429, "slow_down").await;
    server.clock.advance(11);
    assert_eq!(uc.bc_authorize(&server, &right(&uc, "uma")).await.status(), 200);
    server.stop().await;

    // Per client: wrong codes across users lock the client, not the users.
    let server = server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
        c.limits.client_user_code_failures = 3;
    })
    .await;
    for u in ["uma", "vic", "wes"] {
        add_user(&server, u).await;
        countersign_server::ops::set_user_code(
            &server.state.db,
            &server.state.user_code_key,
            u,
            &UserCode::new("4711".into()),
            &countersign_server::ops::Actor::Operator,
            server.state.now(),
        )
        .await
        .unwrap();
    }
    let uc = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    let other = Agent::register(&server, json!({"backchannel_user_code_parameter": true})).await;
    for u in ["uma", "vic", "wes"] {
        expect_err(uc.bc_authorize(&server, &wrong(&uc, u, "1234")).await, 400, "invalid_user_code").await;
    }
    expect_err(uc.bc_authorize(&server, &right(&uc, "uma")).await, 429, "slow_down").await;
    assert_eq!(other.bc_authorize(&server, &right(&other, "uma")).await.status(), 200);
    server.clock.advance(901);
    assert_eq!(uc.bc_authorize(&server, &right(&uc, "wes")).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn registration_refuses_hidden_characters_in_client_metadata() {
    let server = server().await;
    let http = http();
    let reg = |extra: Value| {
        let mut body = json!({"backchannel_token_delivery_mode": "poll"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        http.post(server.url("/register")).json(&body).send()
    };
    let names = [
        ("Pay\u{202E}lapyaP", "U+202E"),
        ("Bank\u{2066}x\u{2069}", "U+2066"),
        ("Bank\u{200E}", "U+200E"),
        ("Bank\u{200F}", "U+200F"),
        ("Bank\u{061C}", "U+061C"),
        ("Ba\u{200B}nk", "U+200B"),
        ("Ba\u{200D}nk", "U+200D"),
        ("Ba\u{2060}nk", "U+2060"),
        ("Ba\u{2064}nk", "U+2064"),
        ("\u{FEFF}Bank", "U+FEFF"),
        ("Bank\u{E0041}\u{E0042}", "U+E0041"),
        ("Bank\u{00AD}", "U+00AD"),
        ("Bank\u{0007}", "U+0007"),
        ("Bank\u{0085}", "U+0085"),
    ];
    for (name, shown) in names {
        let resp = reg(json!({"client_name": name})).await.unwrap();
        let body = expect_err(resp, 400, "invalid_client_metadata").await;
        let d = body["error_description"].as_str().unwrap();
        assert!(d.contains("client_name") && d.contains(shown), "{name:?}: {d}");
    }
    for extra in [
        json!({"software_version": "1.0\u{202E}"}),
        json!({"software_id": "\u{200B}"}),
        json!({"contacts": ["ops@example.com\u{2067}"]}),
    ] {
        expect_err(reg(extra).await.unwrap(), 400, "invalid_client_metadata").await;
    }
    // Letters of any script, combining marks and emoji (with VS16) stay allowed.
    let resp = reg(json!({"client_name": "Zoe\u{0308} & Søn — Ω Я 中 \u{2764}\u{FE0F}"})).await.unwrap();
    assert_eq!(resp.status(), 201);
    server.stop().await;
}

#[tokio::test]
async fn user_agent_hidden_characters_are_escaped_not_dropped() {
    let (server, dev, agent) = user_device_and_agent(no_limits().await, "xia").await;
    let ua = "Agent/1.0 \u{202E}evil\u{200B}\tx";
    let resp = agent
        .http
        .post(server.url("/bc-authorize"))
        .basic_auth(&agent.client_id, agent.secret.as_deref())
        .header("user-agent", reqwest::header::HeaderValue::from_bytes(ua.as_bytes()).unwrap())
        .form(&agent.request_params("xia"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.context.user_agent.as_deref(), Some("Agent/1.0 \\u{202E}evil\\u{200B}\\tx"));
    server.stop().await;
}

#[tokio::test]
async fn stored_request_debug_redacts_the_callback_secrets() {
    let (server, dev) = user_and_device(no_limits().await, "yul").await;
    let (_rx, agent) = notified_agent(&server, "ping", json!({})).await;
    let token = "cnt-0123456789abcdefghijklmnop";
    let ack = agent.start(&server, "yul").await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap();
    let id = dev.pending(&server).await.remove(0).id;
    let mut conn = server.state.db.acquire().await.unwrap();
    let stored = countersign_server::testing::load_request(&mut conn, id.as_str()).await.unwrap().unwrap();
    assert_eq!(stored.notify_auth_req_id.as_ref().map(|s| s.secret()), Some(auth_req_id));
    assert_eq!(stored.notification_token.as_ref().map(|s| s.secret()), Some(token));
    for text in [format!("{stored:?}"), format!("{stored:#?}")] {
        assert!(!text.contains(auth_req_id), "auth_req_id in Debug");
        assert!(!text.contains(token), "client_notification_token in Debug");
        assert!(text.contains("<redacted>"));
    }
    drop(conn);
    server.stop().await;
}

// The record cache (oauth/records.rs): `/bc-authorize` keeps the clients and
// users it reads, and a change made behind the server's back (plain SQL on
// another connection, as the operator's CLI is another process) is never
// outrun by it: a cached record lets nothing through that the stored one
// refuses, and refuses nothing that the stored one lets through.
#[tokio::test]
async fn cached_clients_and_users_never_outrun_the_stored_ones() {
    let (server, a) = user_and_agent(no_limits().await, "kim").await;
    let b = Agent::register(&server, json!({})).await;
    let db = &server.state.db;
    let sql = |q: String| async move { sqlx::query(&q).execute(db).await.unwrap() };
    // Requests stored for `a`, each with its device event and audit entry.
    let stored = || async {
        let count = |q: &'static str| sqlx::query_scalar::<_, i64>(q).bind(&a.client_id).fetch_one(db);
        let requests = count("SELECT COUNT(*) FROM auth_requests WHERE client_id = $1").await.unwrap();
        let events = count(
            "SELECT COUNT(*) FROM events e JOIN auth_requests r ON r.request_id = e.request_id WHERE r.client_id = $1",
        )
        .await
        .unwrap();
        let audited =
            count("SELECT COUNT(*) FROM audit_log WHERE action = 'request.created' AND actor = 'client:' || $1")
                .await
                .unwrap();
        assert_eq!((events, audited), (requests, requests), "one event and one audit entry per stored request");
        requests
    };
    let http = http();
    let url = server.url("/bc-authorize");
    let params = a.request_params("kim");
    let call = |secret: &str| http.post(&url).basic_auth(&a.client_id, Some(secret)).form(&params).send();
    let (old_secret, new_secret) = (a.secret.clone().unwrap(), b.secret.clone().unwrap());
    // Reads sent to the hot-path reader. (On the pool, as on PostgreSQL,
    // there is no reader and no cache: `None`, and the rest holds the same.)
    let reads = || server.state.reader.as_ref().map(|r| r.reads());
    // A request accepted without a read of its own: the cache holds the
    // stored records.
    let accepted_from_memory = |secret: String| async move {
        let before = reads();
        assert_eq!(call(&secret).await.unwrap().status(), 200);
        assert_eq!(reads(), before, "accepted with cached records, nothing read");
    };

    // Warm: the client and the user are read once, then taken from memory.
    assert_eq!(call(&old_secret).await.unwrap().status(), 200);
    for _ in 0..5 {
        accepted_from_memory(old_secret.clone()).await;
    }
    assert_eq!(stored().await, 6);

    // The secret replaced behind the server's back: the new one is taken
    // at once (the cached record's refusal is not the answer), and the
    // record read for it replaces the cached one; the old secret is
    // refused.
    sql(format!(
        "UPDATE clients SET secret_hash = (SELECT secret_hash FROM clients WHERE client_id = '{}') \
         WHERE client_id = '{}'",
        b.client_id, a.client_id
    ))
    .await;
    assert_eq!(call(&new_secret).await.unwrap().status(), 200);
    expect_err(call(&old_secret).await.unwrap(), 401, "invalid_client").await;
    assert_eq!(stored().await, 7);
    accepted_from_memory(new_secret.clone()).await;
    // Refused while the cached record still allowed it: the writer's job
    // finds the records changed and stores nothing.
    let hash: String = sqlx::query_scalar("SELECT secret_hash FROM clients WHERE client_id = $1")
        .bind(&a.client_id)
        .fetch_one(db)
        .await
        .unwrap();
    sql(format!("UPDATE clients SET secret_hash = 'replaced' WHERE client_id = '{}'", a.client_id)).await;
    expect_err(call(&new_secret).await.unwrap(), 401, "invalid_client").await;
    assert_eq!(stored().await, 8);
    sql(format!("UPDATE clients SET secret_hash = '{hash}' WHERE client_id = '{}'", a.client_id)).await;

    // Disabled, then enabled again: the cache holds the disabled record
    // until a request reads the enabled one, then serves that.
    sql(format!("UPDATE clients SET disabled = 1 WHERE client_id = '{}'", a.client_id)).await;
    expect_err(call(&new_secret).await.unwrap(), 400, "unauthorized_client").await;
    expect_err(call(&new_secret).await.unwrap(), 400, "unauthorized_client").await;
    sql(format!("UPDATE clients SET disabled = 0 WHERE client_id = '{}'", a.client_id)).await;
    assert_eq!(call(&new_secret).await.unwrap().status(), 200);
    accepted_from_memory(new_secret.clone()).await;
    assert_eq!(stored().await, 10);

    // The user disabled, then enabled again.
    sql("UPDATE users SET disabled = 1 WHERE username = 'kim'".into()).await;
    expect_err(call(&new_secret).await.unwrap(), 400, "unknown_user_id").await;
    expect_err(call(&new_secret).await.unwrap(), 400, "unknown_user_id").await;
    sql("UPDATE users SET disabled = 0 WHERE username = 'kim'".into()).await;
    assert_eq!(call(&new_secret).await.unwrap().status(), 200);
    accepted_from_memory(new_secret.clone()).await;
    assert_eq!(stored().await, 12);

    // A change to another client moves the generation too: the next
    // request is checked, done again from the database (it reads), and
    // accepted; the one after comes from memory again.
    sql(format!("UPDATE clients SET client_name = 'Renamed' WHERE client_id = '{}'", b.client_id)).await;
    let before = reads();
    assert_eq!(call(&new_secret).await.unwrap().status(), 200);
    assert!(reads() > before || before.is_none(), "the request was done again from the database");
    accepted_from_memory(new_secret.clone()).await;
    assert_eq!(stored().await, 14);
    server.stop().await;
}
