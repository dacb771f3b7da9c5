//! Refresh tokens for the CIBA grant (docs/server.md, "Refresh tokens"):
//! issued with `offline_access` to clients that may hold them, rotated on
//! every use, a reused one revoking its whole grant (audited), narrowing
//! allowed and widening refused, lifetimes enforced on the server's clock,
//! and every way of ending a grant ending its refresh tokens. A real server
//! on a real socket, a real SQLite file.

mod common;

use common::*;
use countersign_protocol::device::Decision;
use countersign_server::ops::{self, Actor, TokenPolicyChange};
use countersign_server::testing::TestServer;
use serde_json::{json, Value};

const OFFLINE: &str = "openid payments offline_access";

/// Metadata of a client that may hold refresh tokens.
fn refresh_client() -> Value {
    json!({ "grant_types": ["urn:openid:params:grant-type:ciba", "refresh_token"] })
}

/// `agent` asks `user` with `scope` and `details`, `dev` approves, `agent`
/// redeems: (the auth_req_id, the token answer).
async fn grant_with(
    server: &TestServer,
    dev: &TestDevice,
    agent: &Agent,
    scope: &str,
    details: &Value,
) -> (String, Value) {
    let params = with(with(agent.request_params("ann"), "scope", scope), "authorization_details", &details.to_string());
    let resp = agent.bc_authorize(server, &params).await;
    assert_eq!(resp.status(), 200, "bc-authorize");
    let ack: Value = resp.json().await.unwrap();
    let id = ack["auth_req_id"].as_str().unwrap().to_owned();
    decide_first(server, dev, Decision::Approve, None).await;
    let resp = agent.token(server, &id).await;
    assert_eq!(resp.status(), 200, "token");
    (id, resp.json().await.unwrap())
}

async fn grant(server: &TestServer, dev: &TestDevice, agent: &Agent) -> (String, Value) {
    grant_with(server, dev, agent, OFFLINE, &details()).await
}

/// A server with ann, her device, and an agent that may hold refresh tokens.
async fn setup_with(
    f: impl FnOnce(&mut countersign_server::Config) + Send + 'static,
) -> (TestServer, TestDevice, Agent) {
    let server = server_with(f).await;
    let dev = TestDevice::of_new_user(&server, "ann").await;
    let agent = Agent::register(&server, refresh_client()).await;
    (server, dev, agent)
}

async fn setup() -> (TestServer, TestDevice, Agent) {
    setup_with(|_| {}).await
}

/// `POST /token` with `grant_type=refresh_token` and `extra` parameters.
async fn refresh(
    server: &TestServer,
    agent: &Agent,
    token: &str,
    extra: &[(&'static str, String)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", token.to_owned())];
    form.extend_from_slice(extra);
    agent.post("/token", &form, server.state.now()).await
}

/// A refresh that must succeed: the token answer.
async fn refreshed(server: &TestServer, agent: &Agent, token: &str) -> Value {
    let resp = refresh(server, agent, token, &[]).await;
    assert_eq!(resp.status(), 200, "refresh");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

/// A refresh that must be refused with 400 `code`: the error description.
async fn refused(server: &TestServer, agent: &Agent, token: &str, code: &str) -> String {
    let body = expect_err(refresh(server, agent, token, &[]).await, 400, code).await;
    let d = body["error_description"].as_str().unwrap_or_default().to_owned();
    assert!(!d.contains(token), "the description never holds the token");
    d
}

fn rt(v: &Value) -> String {
    v["refresh_token"].as_str().expect("refresh_token").to_owned()
}

fn at(v: &Value) -> String {
    v["access_token"].as_str().expect("access_token").to_owned()
}

async fn introspect(server: &TestServer, agent: &Agent, token: &str) -> Value {
    let resp = agent.post("/introspect", &[("token", token.to_owned())], server.state.now()).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn active(server: &TestServer, agent: &Agent, token: &str) -> bool {
    introspect(server, agent, token).await["active"] == json!(true)
}

async fn audit_actions(server: &TestServer, action: &str) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>("SELECT target, data FROM audit_log WHERE action = $1 ORDER BY seq")
        .bind(action)
        .fetch_all(&server.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn offline_access_gives_a_refresh_token_only_to_a_client_allowed_to_hold_one() {
    let (server, dev, agent) = setup().await;
    assert_eq!(agent.registration["grant_types"], refresh_client()["grant_types"]);
    let meta: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["grant_types_supported"], json!(["urn:openid:params:grant-type:ciba", "refresh_token"]));

    let (_, tokens) = grant(&server, &dev, &agent).await;
    let token = rt(&tokens);
    assert!(token.starts_with("csrt_") && token.len() == 5 + 43, "{token}");
    assert_eq!(tokens["scope"], OFFLINE);
    assert!(tokens["id_token"].is_string());
    // Only the hash is stored.
    let stored: Vec<(String,)> =
        sqlx::query_as("SELECT token_hash FROM refresh_tokens").fetch_all(&server.state.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, token);

    // Without offline_access: no refresh token.
    let (_, plain) = grant_with(&server, &dev, &agent, "openid payments", &details()).await;
    assert!(plain.get("refresh_token").is_none());

    // A client that did not register the refresh_token grant: offline_access
    // is not granted (dropped from the scope issued), the access token stands.
    let other = Agent::register(&server, json!({})).await;
    let (_, tokens) = grant(&server, &dev, &other).await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(tokens["scope"], "openid payments");
    let claims = verify_jwt(&server, &at(&tokens), "at+jwt").await;
    assert_eq!(claims["scope"], "openid payments");
    // Nor may it use the grant type (RFC 6749 §5.2), with whatever token:
    // not even the allowed agent's live one.
    refused(&server, &other, "csrt_nothing", "unauthorized_client").await;
    refused(&server, &other, &token, "unauthorized_client").await;

    // Registration: the CIBA grant once, refresh_token at most once, nothing else.
    for grants in [
        json!(["refresh_token"]),
        json!(["urn:openid:params:grant-type:ciba", "refresh_token", "refresh_token"]),
        json!(["urn:openid:params:grant-type:ciba", "authorization_code"]),
    ] {
        let resp = http()
            .post(server.url("/register"))
            .json(&json!({ "backchannel_token_delivery_mode": "poll", "grant_types": grants }))
            .send()
            .await
            .unwrap();
        let body = expect_err(resp, 400, "invalid_client_metadata").await;
        assert!(body["error_description"].as_str().unwrap().contains("refresh_token"), "{body}");
    }
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_keeps_the_grant() {
    let (server, dev, agent) = setup().await;
    let (_, first) = grant(&server, &dev, &agent).await;
    let original = verify_jwt(&server, &at(&first), "at+jwt").await;
    server.clock.advance(30);

    let second = refreshed(&server, &agent, &rt(&first)).await;
    assert_ne!(rt(&second), rt(&first));
    assert_ne!(at(&second), at(&first));
    assert!(second.get("id_token").is_none(), "no ID token on a refresh");
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["expires_in"], 600);
    assert_eq!(second["scope"], OFFLINE);
    assert_eq!(second["authorization_details"], details());
    let claims = verify_jwt(&server, &at(&second), "at+jwt").await;
    for k in ["sub", "client_id", "act", "scope", "authorization_details", "auth_time", "aud", "iss"] {
        assert_eq!(claims[k], original[k], "{k}");
    }
    assert_ne!(claims["jti"], original["jti"]);
    assert_eq!(claims["iat"], original["iat"].as_u64().unwrap() + 30);
    // Both access tokens are live (the first one simply runs out).
    assert!(active(&server, &agent, &at(&second)).await);
    assert!(active(&server, &agent, &at(&first)).await);
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT request_id FROM tokens").fetch_all(&server.state.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], rows[1], "one grant, two access tokens");

    // The new one rotates again, through /oauth/token with a JSON body too.
    let resp = agent
        .http
        .post(server.url("/oauth/token"))
        .basic_auth(&agent.client_id, agent.secret.as_deref())
        .json(&json!({ "grant_type": "refresh_token", "refresh_token": rt(&second) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let third: Value = resp.json().await.unwrap();
    assert_ne!(rt(&third), rt(&second));

    // Malformed refresh requests are invalid_request.
    let resp = agent.post("/token", &[("grant_type", "refresh_token".into())], server.state.now()).await;
    let body = expect_err(resp, 400, "invalid_request").await;
    assert_eq!(body["error_description"], "missing required parameter: refresh_token");
    refused(&server, &agent, "csrt_unknown", "invalid_grant").await;
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_grant_and_is_audited() {
    let (server, dev, agent) = setup().await;
    let (_, first) = grant(&server, &dev, &agent).await;
    let second = refreshed(&server, &agent, &rt(&first)).await;

    // The first token again (a thief, or the client's stale copy).
    let d = refused(&server, &agent, &rt(&first), "invalid_grant").await;
    assert!(d.contains("already used"), "{d}");
    // The legitimately rotated newest token is dead too, and so are the
    // grant's access tokens.
    let d = refused(&server, &agent, &rt(&second), "invalid_grant").await;
    assert!(d.contains("revoked"), "{d}");
    assert!(!active(&server, &agent, &at(&first)).await);
    assert!(!active(&server, &agent, &at(&second)).await);
    assert_eq!(introspect(&server, &agent, &rt(&second)).await, json!({ "active": false }));

    let reused = audit_actions(&server, "refresh_token.reused").await;
    assert_eq!(reused.len(), 1);
    let data: Value = serde_json::from_str(&reused[0].1).unwrap();
    assert_eq!(data["access_tokens_revoked"], 2);
    assert_eq!(data["refresh_tokens_revoked"], 2);
    let request_id: (String,) =
        sqlx::query_as("SELECT request_id FROM tokens LIMIT 1").fetch_one(&server.state.db).await.unwrap();
    assert_eq!(reused[0].0, request_id.0);
    // The log still verifies.
    assert!(countersign_server::audit::verify(&server.state.db).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_refresh_may_narrow_scope_and_details_and_never_widen_them() {
    let (server, dev, agent) = setup().await;
    let mut two = details();
    let mut other = two[0].clone();
    other["instructedAmount"]["amount"] = json!("7.00");
    two.as_array_mut().unwrap().push(other.clone());
    let (_, first) = grant_with(&server, &dev, &agent, OFFLINE, &two).await;
    assert_eq!(first["authorization_details"], two);

    // Narrower scope and one of the two objects.
    let resp = refresh(
        &server,
        &agent,
        &rt(&first),
        &[("scope", "payments".into()), ("authorization_details", json!([other]).to_string())],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let narrow: Value = resp.json().await.unwrap();
    assert_eq!(narrow["scope"], "payments");
    assert_eq!(narrow["authorization_details"], json!([other]));
    let claims = verify_jwt(&server, &at(&narrow), "at+jwt").await;
    assert_eq!(claims["scope"], "payments");
    assert_eq!(claims["authorization_details"], json!([other]));

    // Widening is refused, and the token stays usable (nothing rotated).
    let token = rt(&narrow);
    let resp = refresh(&server, &agent, &token, &[("scope", "payments admin".into())]).await;
    let body = expect_err(resp, 400, "invalid_scope").await;
    assert!(body["error_description"].as_str().unwrap().contains("admin"), "{body}");
    let mut changed = other.clone();
    changed["instructedAmount"]["amount"] = json!("7000.00");
    for wide in [json!([changed]), json!([other, other]), json!([other, two[0], other])] {
        let resp = refresh(&server, &agent, &token, &[("authorization_details", wide.to_string())]).await;
        expect_err(resp, 400, "invalid_authorization_details").await;
    }
    // The family keeps what was originally granted: a plain refresh after a
    // narrowing gets all of it back.
    let full = refreshed(&server, &agent, &token).await;
    assert_eq!(full["scope"], OFFLINE);
    assert_eq!(full["authorization_details"], two);
}

#[tokio::test]
async fn lifetimes_are_enforced_on_the_servers_clock() {
    let (server, dev, agent) = setup_with(|c| {
        c.refresh_token_idle_lifetime_secs = 100;
        c.refresh_token_lifetime_secs = 250;
    })
    .await;
    // Idle: used within 100 s it rotates, and the new one has 100 s again.
    let (_, first) = grant(&server, &dev, &agent).await;
    server.clock.advance(99);
    let second = refreshed(&server, &agent, &rt(&first)).await;
    server.clock.advance(100);
    assert!(!active(&server, &agent, &rt(&second)).await, "past its idle end it introspects inactive");
    let d = refused(&server, &agent, &rt(&second), "invalid_grant").await;
    assert!(d.contains("unused for too long"), "{d}");

    // Absolute: however often rotated, the grant ends 250 s after it began
    // (the clock runs on: it began between these two readings).
    let began = server.state.now();
    let (_, mut tokens) = grant(&server, &dev, &agent).await;
    let began = began..=server.state.now();
    for _ in 0..2 {
        server.clock.advance(90);
        tokens = refreshed(&server, &agent, &rt(&tokens)).await;
    }
    // 180 s in: the idle end of this token (100 s on) is capped by the
    // absolute end (70 s on).
    let exp = introspect(&server, &agent, &rt(&tokens)).await["exp"].as_u64().unwrap();
    assert!((began.start() + 250..=began.end() + 250).contains(&exp), "{exp} vs a grant begun in {began:?}");
    server.clock.advance(70);
    let d = refused(&server, &agent, &rt(&tokens), "invalid_grant").await;
    assert!(d.contains("lifetime has ended"), "{d}");

    // Per client, by registration metadata within the server's maxima.
    let short = Agent::register(
        &server,
        json!({
            "grant_types": ["urn:openid:params:grant-type:ciba", "refresh_token"],
            "access_token_lifetime": 60, "refresh_token_idle_lifetime": 20,
        }),
    )
    .await;
    assert_eq!(short.registration["access_token_lifetime"], 60);
    assert_eq!(short.registration["refresh_token_idle_lifetime"], 20);
    let (_, tokens) = grant(&server, &dev, &short).await;
    assert_eq!(tokens["expires_in"], 60);
    let claims = verify_jwt(&server, &at(&tokens), "at+jwt").await;
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 60);
    server.clock.advance(20);
    refused(&server, &short, &rt(&tokens), "invalid_grant").await;

    // Above the server's maximum: refused, saying so.
    for (name, value) in
        [("refresh_token_lifetime", 251), ("refresh_token_idle_lifetime", 101), ("access_token_lifetime", 601)]
    {
        let mut meta = refresh_client();
        meta["backchannel_token_delivery_mode"] = json!("poll");
        meta[name] = json!(value);
        let resp = http().post(server.url("/register")).json(&meta).send().await.unwrap();
        let body = expect_err(resp, 400, "invalid_client_metadata").await;
        let d = body["error_description"].as_str().unwrap();
        assert!(d.contains(name) && d.contains("maximum"), "{d}");
    }

    // By the operator: audited as client.policy, and the access token TTL
    // applies at once.
    let change = TokenPolicyChange { access_token: Some(Some(30)), ..TokenPolicyChange::default() };
    ops::set_client_token_policy(&server.state.db, &agent.client_id, &change, &Actor::Operator, server.state.now())
        .await
        .unwrap();
    let (_, tokens) = grant(&server, &dev, &agent).await;
    assert_eq!(tokens["expires_in"], 30);
    assert_eq!(refreshed(&server, &agent, &rt(&tokens)).await["expires_in"], 30);
    let policy = audit_actions(&server, "client.policy").await;
    assert_eq!(policy.last().unwrap().0, agent.client_id);
    // Denying refresh tokens to the client revokes the ones it holds.
    let (_, tokens) = grant(&server, &dev, &agent).await;
    let deny = TokenPolicyChange { refresh_tokens: Some(false), ..TokenPolicyChange::default() };
    ops::set_client_token_policy(&server.state.db, &agent.client_id, &deny, &Actor::Operator, server.state.now())
        .await
        .unwrap();
    assert!(!active(&server, &agent, &rt(&tokens)).await, "revoked");
    // And the client may no longer use the grant type (RFC 6749 §5.2).
    refused(&server, &agent, &rt(&tokens), "unauthorized_client").await;
    let (_, tokens) = grant(&server, &dev, &agent).await;
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn revoking_a_refresh_token_or_an_access_token_ends_the_grant() {
    let (server, dev, agent) = setup().await;
    let other = Agent::register(&server, refresh_client()).await;

    // Introspection of a refresh token: to its client only.
    let (_, tokens) = grant(&server, &dev, &agent).await;
    let seen = introspect(&server, &agent, &rt(&tokens)).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["token_type"], "refresh_token");
    assert_eq!(seen["client_id"], agent.client_id);
    assert_eq!(seen["scope"], OFFLINE);
    assert_eq!(introspect(&server, &other, &rt(&tokens)).await, json!({ "active": false }));
    // Another client can neither revoke nor use it.
    let resp = other.post("/revoke", &[("token", rt(&tokens))], server.state.now()).await;
    expect_err(resp, 400, "unauthorized_client").await;
    let d = refused(&server, &other, &rt(&tokens), "invalid_grant").await;
    assert_eq!(d, "unknown refresh token");

    // RFC 7009 with the refresh token (the hint is not needed, a wrong one
    // does not matter): the family and the access tokens end.
    let second = refreshed(&server, &agent, &rt(&tokens)).await;
    let resp = agent
        .post("/revoke", &[("token", rt(&second)), ("token_type_hint", "access_token".into())], server.state.now())
        .await;
    assert_eq!(resp.status(), 200);
    refused(&server, &agent, &rt(&second), "invalid_grant").await;
    assert!(!active(&server, &agent, &at(&second)).await);
    assert!(!active(&server, &agent, &at(&tokens)).await);
    assert_eq!(introspect(&server, &agent, &rt(&second)).await, json!({ "active": false }));
    // Revoking it again, or an unknown one: 200.
    assert_eq!(agent.post("/revoke", &[("token", rt(&second))], server.state.now()).await.status(), 200);
    assert_eq!(agent.post("/revoke", &[("token", "csrt_x".into())], server.state.now()).await.status(), 200);

    // RFC 7009 with an access token of the grant: its refresh tokens end.
    let (_, tokens) = grant(&server, &dev, &agent).await;
    let resp = agent.post("/revoke", &[("token", at(&tokens))], server.state.now()).await;
    assert_eq!(resp.status(), 200);
    refused(&server, &agent, &rt(&tokens), "invalid_grant").await;

    // An administrator revoking the grant (by its access token's jti).
    let (_, tokens) = grant(&server, &dev, &agent).await;
    let second = refreshed(&server, &agent, &rt(&tokens)).await;
    let jti = verify_jwt(&server, &at(&tokens), "at+jwt").await["jti"].as_str().unwrap().to_owned();
    assert!(ops::revoke_grant(&server.state.db, &jti, &Actor::Operator, server.state.now()).await.unwrap());
    refused(&server, &agent, &rt(&second), "invalid_grant").await;
    assert!(!active(&server, &agent, &at(&second)).await);
}

#[tokio::test]
async fn a_disabled_user_a_blocked_client_and_a_disabled_client_are_refused() {
    let (server, dev, agent) = setup().await;
    let (_, a) = grant(&server, &dev, &agent).await;
    let (_, b) = grant(&server, &dev, &agent).await;

    // Blocked for the user: refused, and the tokens revoked.
    ops::block_client_for_user(&server.state.db, &agent.client_id, "ann", &Actor::Operator, server.state.now())
        .await
        .unwrap();
    refused(&server, &agent, &rt(&a), "invalid_grant").await;
    let live: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL")
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(live.0, 0);
    ops::unblock_client(&server.state.db, &agent.client_id, Some("ann"), &Actor::Operator, server.state.now())
        .await
        .unwrap();
    refused(&server, &agent, &rt(&b), "invalid_grant").await;

    // A disabled user.
    let (_, c) = grant(&server, &dev, &agent).await;
    ops::disable_user(&server.state.db, "ann", &Actor::Operator, server.state.now()).await.unwrap();
    refused(&server, &agent, &rt(&c), "invalid_grant").await;

    // A disabled client: unauthorized_client before anything else, its
    // refresh tokens revoked.
    let server2 = server_with(|_| {}).await;
    let dev2 = TestDevice::of_new_user(&server2, "ann").await;
    let agent2 = Agent::register(&server2, refresh_client()).await;
    let (_, d) = grant(&server2, &dev2, &agent2).await;
    ops::disable_client(&server2.state.db, &agent2.client_id, &Actor::Operator, server2.state.now()).await.unwrap();
    expect_err(refresh(&server2, &agent2, &rt(&d), &[]).await, 400, "unauthorized_client").await;
    let live: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL")
        .fetch_one(&server2.state.db)
        .await
        .unwrap();
    assert_eq!(live.0, 0);
}

#[tokio::test]
async fn a_replayed_token_response_never_hands_out_a_rotated_refresh_token() {
    let (server, dev, agent) = setup().await;
    let (id, first) = grant(&server, &dev, &agent).await;
    // Within the window, before any refresh: the same bytes again.
    let again: Value = agent.token(&server, &id).await.json().await.unwrap();
    assert_eq!(again, first);
    // Once the refresh token has rotated, the stored response (which holds
    // the old one) is no longer handed out.
    let second = refreshed(&server, &agent, &rt(&first)).await;
    let body = expect_token_err(&server, &agent, &json!({ "auth_req_id": id }), "invalid_grant").await;
    assert_eq!(body["error_description"], "auth_req_id already redeemed");
    // And the rotation stands: no reuse was triggered.
    refreshed(&server, &agent, &rt(&second)).await;

    // Revoked (by the refresh token) within the window: not replayed either.
    let (id, tokens) = grant(&server, &dev, &agent).await;
    assert_eq!(agent.post("/revoke", &[("token", rt(&tokens))], server.state.now()).await.status(), 200);
    expect_token_err(&server, &agent, &json!({ "auth_req_id": id }), "invalid_grant").await;
}

#[tokio::test]
async fn push_clients_get_the_refresh_token_with_rt_hash() {
    let server = server().await;
    let dev = TestDevice::of_new_user(&server, "ann").await;
    let rx = Receiver::start().await;
    let agent = callback_agent(&server, "push", &rx.url, refresh_client()).await;
    let params = with(agent.request_params("ann"), "scope", OFFLINE);
    assert_eq!(agent.bc_authorize(&server, &params).await.status(), 200);
    decide_first(&server, &dev, Decision::Approve, None).await;
    let calls = rx.wait_calls("/cb", 1).await;
    let body: Value = serde_json::from_str(&calls[0].body).unwrap();
    let token = rt(&body);
    let id = verify_jwt(&server, body["id_token"].as_str().unwrap(), "JWT").await;
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    assert_eq!(id["urn:openid:params:jwt:claim:rt_hash"], countersign_protocol::jws::b64url_encode(&d.as_ref()[..16]));
    // Push clients refresh at the token endpoint like the others.
    refreshed(&server, &agent, &token).await;
}

// The administrators' grants list: a grant whose access token has expired
// is still active while its refresh token can get another (an administrator
// who saw "expired" would leave an agent with access), with the time it can
// until; once that token is idle past its end the grant reads expired; an
// access token a refresh superseded reads expired; the status filters agree
// with what each row says.
#[tokio::test]
async fn the_admin_grants_list_counts_a_live_refresh_token_as_an_active_grant() {
    let (server, dev, agent) = setup_with(|c| {
        c.access_token_ttl_secs = 60;
        c.refresh_token_idle_lifetime_secs = 100;
        c.refresh_token_lifetime_secs = 250;
    })
    .await;
    let admin = TestDevice::of_new_user(&server, "ada").await;
    ops::set_admin(&server.state.db, "ada", true, &Actor::Operator, server.state.now()).await.unwrap();
    // Only the test moves the clock: `issued` is the token's second.
    server.clock.pause();
    let (_, tokens) = grant(&server, &dev, &agent).await;
    let issued = server.state.now();
    let list = |status: &'static str| {
        let (server, admin) = (&server, &admin);
        async move {
            let path = if status.is_empty() { "/grants".to_owned() } else { format!("/grants?status={status}") };
            admin.admin_get(server, &path).await["items"].as_array().unwrap().clone()
        }
    };

    let rows = list("").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["refreshable_until"].as_u64()),
        (Some("active"), Some(issued + 100))
    );

    // The access token expired; the refresh token lives on.
    server.clock.advance(61);
    assert!(!active(&server, &agent, &at(&tokens)).await);
    let rows = list("").await;
    assert_eq!(rows[0]["status"], "active", "{rows:?}");
    assert_eq!(list("active").await.len(), 1);
    assert!(list("expired").await.is_empty());

    // Idle past its end: nothing can refresh it, the grant has expired.
    server.clock.advance(40);
    let rows = list("").await;
    assert_eq!(rows[0]["status"], "expired", "{rows:?}");
    assert!(rows[0].get("refreshable_until").is_none(), "{rows:?}");
    assert!(list("active").await.is_empty());
    assert_eq!(list("expired").await.len(), 1);

    // A refreshed grant: each of its access tokens is a row. Only the latest
    // is renewed by the refresh token; the one it superseded just expires.
    let (_, tokens) = grant(&server, &dev, &agent).await;
    server.clock.advance(30);
    let next = refreshed(&server, &agent, &rt(&tokens)).await;
    server.clock.advance(31);
    let rows = list("").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!((rows[0]["status"].as_str(), rows[1]["status"].as_str()), (Some("active"), Some("expired")), "{rows:?}");
    assert!(rows[0]["refreshable_until"].is_u64() && rows[1].get("refreshable_until").is_none(), "{rows:?}");
    let active_rows = list("active").await;
    assert_eq!(active_rows.len(), 1, "{active_rows:?}");
    assert_eq!(list("expired").await.len(), 2);
    // Revoking it, as the admin view does, ends the refresh token too.
    let id = active_rows[0]["id"].as_str().unwrap();
    let resp =
        admin.admin(&server, countersign_protocol::device::HttpMethod::Post, &format!("/grants/{id}/revoke")).await;
    assert_eq!(resp.status(), 200);
    assert!(!active(&server, &agent, &rt(&next)).await, "the refresh token ended with its grant");
    assert!(list("active").await.is_empty(), "{:?}", list("").await);
}
