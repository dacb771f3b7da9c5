//! Issue 16: scope-only CIBA requests (no `authorization_details`) shown
//! with the scope registry's descriptions and signed over them, and the
//! `audience` parameter (the API the token is for), over real sockets.

mod common;

use common::*;
use countersign_protocol::ciba::Audience;
use countersign_protocol::device::{Decision, Risk};
use countersign_server::scopes::ScopeRegistry;
use serde_json::{json, Value};

const ORDERS: &str = "https://api.example.com/orders";
const DEFAULT_API: &str = "https://api.example.com/default";

/// A scope-only request's parameters (no `authorization_details`).
fn scope_only(username: &str, scope: &str) -> Vec<(&'static str, String)> {
    vec![("scope", scope.into()), ("login_hint", username.into()), ("binding_message", "MAIL-7Q".into())]
}

fn access_claims(token: &Value) -> Value {
    let at = token["access_token"].as_str().unwrap();
    let payload = at.split('.').nth(1).unwrap();
    serde_json::from_slice(&countersign_protocol::jws::b64url_decode(payload).unwrap()).unwrap()
}

async fn configured() -> countersign_server::testing::TestServer {
    server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
        c.apis = vec![Audience::new(ORDERS).unwrap()];
        c.scopes = ScopeRegistry::builtin()
            .with_text(br#"{"calendar.read": {"description": "Read your calendar", "risk": "low"}}"#)
            .unwrap();
    })
    .await
}

#[tokio::test]
async fn a_scope_only_request_is_shown_with_descriptions_approved_and_redeemed() {
    let server = configured().await;
    let dev = TestDevice::of_new_user(&server, "sam").await;
    let agent = Agent::register(&server, json!({})).await;

    let resp = agent.bc_authorize(&server, &scope_only("sam", "openid email calendar.read")).await;
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();

    // The approver sees the scopes, their descriptions, no details.
    let req = dev.pending(&server).await.remove(0);
    assert!(req.is_scope_only());
    assert_eq!(req.scope, ["openid", "email", "calendar.read"]);
    assert_eq!(req.scope_description("email"), Some("Read your email address"));
    assert_eq!(req.scope_description("calendar.read"), Some("Read your calendar"));
    assert_eq!(req.risk, Risk::Low, "every scope known and low");
    assert_eq!(req.audience, None, "no audience asked, no default: the issuer");
    // As sent on the wire: `authorization_details: []`.
    let raw = dev.get(&server, &format!("/requests/{}", req.id)).await.json::<Value>().await.unwrap();
    assert_eq!(raw["request"]["authorization_details"], json!([]));
    assert_eq!(raw["request"]["scope_descriptions"]["openid"], "Know who you are (your account identifier)");

    // Approved through the statement (scope_descriptions signed).
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let resp = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    let token: Value = resp.json().await.unwrap();
    // The token response has the scopes and no authorization_details.
    assert!(token.get("authorization_details").is_none(), "{token}");
    let claims = access_claims(&token);
    assert_eq!(claims["scope"], "openid email calendar.read");
    assert_eq!(claims["authorization_details"], json!([]), "the access token says: none granted");
    assert_eq!(claims["aud"], server.config().issuer.as_str());
}

// Beside details, a described scope riskier than the details raises the
// request's risk (an operator's critical scope stays critical whatever
// low-risk details come with it); an undescribed one does not.
#[tokio::test]
async fn a_described_scope_riskier_than_the_details_raises_the_risk() {
    let server = server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
        c.scopes = ScopeRegistry::builtin()
            .with_text(br#"{"mail.bulk": {"description": "Send e-mail to all your contacts", "risk": "critical"}}"#)
            .unwrap();
    })
    .await;
    let dev = TestDevice::of_new_user(&server, "rae").await;
    let email = "urn:countersign:details:v1:send_email";
    let agent = Agent::register(&server, json!({ "authorization_details_types": [email] })).await;
    let details = json!([{ "type": email, "to": ["bob@example.org"], "subject": "Hello" }]).to_string();
    for (scope, risk) in
        [("openid", Risk::Medium), ("openid files.delete", Risk::Medium), ("openid mail.bulk", Risk::Critical)]
    {
        let mut params = scope_only("rae", scope);
        params.push(("authorization_details", details.clone()));
        let resp = agent.bc_authorize(&server, &params).await;
        assert_eq!(resp.status(), 200, "{scope}");
        let pending = dev.pending(&server).await;
        let req = pending.iter().find(|r| r.scope.join(" ") == scope).unwrap();
        assert_eq!(req.risk, risk, "{scope}");
    }
}

#[tokio::test]
async fn unknown_scopes_are_sent_without_a_description_and_raise_the_risk() {
    let server = configured().await;
    let dev = TestDevice::of_new_user(&server, "una").await;
    let agent = Agent::register(&server, json!({})).await;
    let resp = agent.bc_authorize(&server, &scope_only("una", "openid files.delete")).await;
    assert_eq!(resp.status(), 200);
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.scope_description("files.delete"), None);
    assert_eq!(req.risk, Risk::High, "a scope nobody can describe counts high");
    // The default requires user verification from high: the approver must do it.
    assert!(!req.requires.is_empty());
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
}

#[tokio::test]
async fn a_statement_over_another_description_is_refused() {
    let server = configured().await;
    let dev = TestDevice::of_new_user(&server, "tom").await;
    let agent = Agent::register(&server, json!({})).await;
    assert_eq!(agent.bc_authorize(&server, &scope_only("tom", "openid email")).await.status(), 200);
    let req = dev.pending(&server).await.remove(0);
    // An approver that showed another description for `email`...
    let mut shown = req.clone();
    shown.scope_descriptions.insert("email".into(), "Read nothing at all".into());
    let body = dev.submission(&shown, Decision::Approve, None, server.clock_now());
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "statement_mismatch").await;
    // ...or showed `email` as known when it was not (or the reverse).
    let mut shown = req.clone();
    shown.scope_descriptions.remove("email");
    let body = dev.submission(&shown, Decision::Approve, None, server.clock_now());
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "statement_mismatch").await;
    // ...or another API.
    let mut shown = req.clone();
    shown.audience = Some(Audience::new(ORDERS).unwrap());
    let body = dev.submission(&shown, Decision::Approve, None, server.clock_now());
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "statement_mismatch").await;
    // What was sent is accepted.
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
}

#[tokio::test]
async fn an_empty_details_array_is_refused() {
    let server = configured().await;
    add_user(&server, "val").await;
    let agent = Agent::register(&server, json!({})).await;
    let mut p = scope_only("val", "openid");
    p.push(("authorization_details", "[]".into()));
    let body = expect_err(agent.bc_authorize(&server, &p).await, 400, "invalid_authorization_details").await;
    assert!(body["error_description"].as_str().unwrap().contains("empty"), "{body}");
}

#[tokio::test]
async fn an_unknown_audience_is_refused_with_invalid_target() {
    let server = configured().await;
    add_user(&server, "wes").await;
    let agent = Agent::register(&server, json!({})).await;
    let p = with(agent.request_params("wes"), "audience", "https://evil.example/api");
    let body = expect_err(agent.bc_authorize(&server, &p).await, 400, "invalid_target").await;
    assert!(body["error_description"].as_str().unwrap().contains("https://evil.example/api"), "{body}");
    // Malformed (a space): invalid_request; twice: invalid_request.
    let p = with(agent.request_params("wes"), "audience", "a b");
    expect_err(agent.bc_authorize(&server, &p).await, 400, "invalid_request").await;
    let mut p = agent.request_params("wes");
    p.push(("audience", ORDERS.into()));
    p.push(("audience", ORDERS.into()));
    expect_err(agent.bc_authorize(&server, &p).await, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_known_audience_is_shown_signed_and_lands_in_aud() {
    let server = configured().await;
    let dev = TestDevice::of_new_user(&server, "xia").await;
    let agent = Agent::register(&server, json!({})).await;
    let p = with(agent.request_params("xia"), "audience", ORDERS);
    let resp = agent.bc_authorize(&server, &p).await;
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.audience.as_ref().map(Audience::as_str), Some(ORDERS));
    assert!(!req.is_scope_only());
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let token: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(access_claims(&token)["aud"], ORDERS);
    assert!(token["authorization_details"].is_array(), "a RAR request still gets its details");
}

#[tokio::test]
async fn the_default_audience_applies_when_none_is_asked_and_may_be_asked_by_name() {
    let server = server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
        c.access_token_audience = Some(DEFAULT_API.into());
    })
    .await;
    let dev = TestDevice::of_new_user(&server, "yan").await;
    let agent = Agent::register(&server, json!({})).await;
    for asked in [None, Some(DEFAULT_API)] {
        let p = match asked {
            Some(a) => with(scope_only("yan", "openid"), "audience", a),
            None => scope_only("yan", "openid"),
        };
        let resp = agent.bc_authorize(&server, &p).await;
        assert_eq!(resp.status(), 200);
        let ack: Value = resp.json().await.unwrap();
        let req = dev.pending(&server).await.remove(0);
        assert_eq!(req.audience.as_ref().map(Audience::as_str), Some(DEFAULT_API), "shown to the user");
        assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
        let token: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
        assert_eq!(access_claims(&token)["aud"], DEFAULT_API);
    }
    // An API not configured is refused even with a default.
    let p = with(scope_only("yan", "openid"), "audience", ORDERS);
    expect_err(agent.bc_authorize(&server, &p).await, 400, "invalid_target").await;
}

#[tokio::test]
async fn discovery_lists_the_described_scopes() {
    let server = configured().await;
    let meta: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let scopes: Vec<&str> = meta["scopes_supported"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for s in ["openid", "profile", "email", "offline_access", "calendar.read"] {
        assert!(scopes.contains(&s), "{s} in {scopes:?}");
    }
}

#[tokio::test]
async fn audience_and_no_details_in_a_signed_request_object() {
    let server = configured().await;
    let dev = TestDevice::of_new_user(&server, "zed").await;
    let agent = Agent::register(
        &server,
        json!({"token_endpoint_auth_method": "private_key_jwt", "backchannel_authentication_request_signing_alg": "ES256"}),
    )
    .await;
    let now = server.state.now();
    let object = |audience: &str, jti: &str| {
        agent.sign_request(&json!({
            "iss": agent.client_id, "aud": server.base_url, "iat": now, "nbf": now, "exp": now + 300, "jti": jti,
            "scope": "openid email", "login_hint": "zed", "binding_message": "MAIL-2", "audience": audience,
        }))
    };
    let resp = agent.bc_authorize(&server, &[("request", object(ORDERS, "jti-audience-known-0000000"))]).await;
    assert_eq!(resp.status(), 200);
    let req = dev.pending(&server).await.remove(0);
    assert!(req.is_scope_only());
    assert_eq!(req.audience.as_ref().map(Audience::as_str), Some(ORDERS));
    let resp = agent.bc_authorize(&server, &[("request", object("urn:other", "jti-audience-unknown-00000"))]).await;
    expect_err(resp, 400, "invalid_target").await;
}

#[tokio::test]
async fn a_scope_only_grant_with_offline_access_is_refreshed() {
    let server = configured().await;
    let dev = TestDevice::of_new_user(&server, "ora").await;
    let agent =
        Agent::register(&server, json!({ "grant_types": ["urn:openid:params:grant-type:ciba", "refresh_token"] }))
            .await;
    let resp = agent.bc_authorize(&server, &scope_only("ora", "openid offline_access")).await;
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.risk, Risk::Medium, "offline_access is medium");
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let token: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    let refresh = token["refresh_token"].as_str().expect("a refresh token").to_owned();
    let form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh)];
    let resp = agent.post("/token", &form, server.state.now()).await;
    assert_eq!(resp.status(), 200);
    let refreshed: Value = resp.json().await.unwrap();
    assert!(refreshed.get("authorization_details").is_none(), "{refreshed}");
    assert_eq!(access_claims(&refreshed)["authorization_details"], json!([]));
}
