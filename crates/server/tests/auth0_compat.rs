//! The calls Auth0's AI SDKs make, byte for byte as the `auth0` Node
//! library (4.x, `auth/backchannel.js`) sends them for `@auth0/ai`'s
//! `withAsyncAuthorization`: a form with `client_id` and `client_secret`
//! (client_secret_post), the `iss_sub` JSON `login_hint` whose `iss` is
//! `https://{domain}/` (trailing slash), `audience` empty when the tool sets
//! none, `requested_expiry` as a string, `authorization_details` as a JSON
//! string; then `POST /oauth/token` polls. The SDK waits `Retry-After` after
//! a `slow_down` (it does not add 5 s itself), so the header must be there.

mod common;

use common::*;
use countersign_protocol::device::Decision;
use serde_json::{json, Value};

/// A server without per-minute limits, a user `username` with an enrolled
/// device, and an agent registered as an Auth0 application is (its secret
/// sent in the body); the secret.
async fn sdk_setup(username: &str) -> (countersign_server::testing::TestServer, TestDevice, Agent, String) {
    let server = server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
    })
    .await;
    let dev = TestDevice::of_new_user(&server, username).await;
    let agent = Agent::register(&server, json!({ "token_endpoint_auth_method": "client_secret_post" })).await;
    let secret = agent.secret.clone().unwrap();
    (server, dev, agent, secret)
}

/// A payment of `amount` EUR to `creditor`.
fn payment(amount: &str, creditor: &str) -> Value {
    json!([{
        "type": "payment_initiation",
        "instructedAmount": { "currency": "EUR", "amount": amount },
        "creditorName": creditor,
        "creditorAccount": { "iban": "DE02100100109307118603" },
    }])
}

#[tokio::test]
async fn the_auth0_sdk_calls_work_unchanged() {
    let (server, dev, agent, secret) = sdk_setup("zoe").await;
    let http = reqwest::Client::new();
    let details = payment("123.50", "Merchant A");
    let login_hint = json!({ "format": "iss_sub", "iss": format!("{}/", server.base_url), "sub": dev.sub }).to_string();
    let form = [
        ("scope", "openid".to_owned()),
        ("audience", String::new()),
        ("requested_expiry", "300".to_owned()),
        ("binding_message", "PAY-4F7Q".to_owned()),
        ("authorization_details", details.to_string()),
        ("login_hint", login_hint),
        ("client_id", agent.client_id.clone()),
        ("client_secret", secret.clone()),
    ];
    let resp = http.post(server.url("/bc-authorize")).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();
    assert_eq!(ack["expires_in"], 300);
    let interval = ack["interval"].as_u64().unwrap();
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();

    let poll = || {
        let form = [
            ("client_id", agent.client_id.clone()),
            ("auth_req_id", auth_req_id.clone()),
            ("grant_type", "urn:openid:params:grant-type:ciba".to_owned()),
            ("client_secret", secret.clone()),
        ];
        http.post(server.url("/oauth/token")).form(&form).send()
    };
    let pending = poll().await.unwrap();
    assert_eq!(pending.status(), 400);
    assert!(pending.headers().get("retry-after").is_none());
    assert_eq!(pending.json::<Value>().await.unwrap()["error"], "authorization_pending");
    // Too fast: slow_down, and Retry-After says the raised interval.
    let slow = poll().await.unwrap();
    assert_eq!(slow.status(), 400);
    let retry_after = slow.headers()["retry-after"].to_str().unwrap().to_owned();
    assert_eq!(retry_after, (interval + 5).to_string());
    assert_eq!(slow.json::<Value>().await.unwrap()["error"], "slow_down");

    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.binding_message, "PAY-4F7Q");
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    server.clock.advance(interval + 5);
    let done = poll().await.unwrap();
    assert_eq!(done.status(), 200);
    let tokens: Value = done.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["authorization_details"], details, "tokenSetFromTokenResponse reads them here");
    assert!(tokens["access_token"].is_string() && tokens["id_token"].is_string());

    // An iss_sub hint naming another issuer is no user of this server.
    let foreign = json!({ "format": "iss_sub", "iss": "https://tenant.example.test/", "sub": dev.sub }).to_string();
    let mut bad = form.clone();
    bad[5] = ("login_hint", foreign);
    let resp = http.post(server.url("/bc-authorize")).form(&bad).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unknown_user_id");
    // The SDK's client authentication: a wrong secret is `invalid_client`
    // at /oauth/token too.
    let form = [
        ("client_id", agent.client_id.clone()),
        ("auth_req_id", auth_req_id.clone()),
        ("grant_type", "urn:openid:params:grant-type:ciba".to_owned()),
        ("client_secret", "wrong-secret-0123456789".to_owned()),
    ];
    let resp = http.post(server.url("/oauth/token")).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "invalid_client");
    server.stop().await;
}

// auth0-python (6.x, `authentication/rest.py`) posts JSON: to
// `/oauth/token` as `application/json`, and to `/bc-authorize` a JSON
// object under the form's media type (its header overrides requests'
// own). Both are read as the same parameters; other media types, a JSON
// array or a repeated member are `invalid_request`.
#[tokio::test]
async fn the_python_sdks_json_bodies_are_read_as_parameters() {
    let (server, dev, agent, secret) = sdk_setup("kai").await;
    let http = reqwest::Client::new();
    let details = payment("9.99", "Merchant B");
    let body = json!({
        "client_id": agent.client_id,
        "client_secret": secret,
        "binding_message": "PAY-77",
        "login_hint": json!({ "format": "iss_sub", "iss": format!("{}/", server.base_url), "sub": dev.sub }).to_string(),
        "scope": "openid",
        "authorization_details": details.to_string(),
        "requested_expiry": "120",
    });
    let resp = http
        .post(server.url("/bc-authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();
    assert_eq!(ack["expires_in"], 120);
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    // The same as application/json, with the details as an array and a
    // number for the expiry: read alike.
    let mut as_json = body.clone();
    as_json["authorization_details"] = details.clone();
    as_json["requested_expiry"] = json!(60);
    let resp = http.post(server.url("/bc-authorize")).json(&as_json).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["expires_in"], 60);

    let req = dev.pending(&server).await.into_iter().find(|r| r.binding_message == "PAY-77").unwrap();
    assert_eq!(req.authorization_details.to_value(), details);
    let token = |id: &str| {
        json!({
            "client_id": agent.client_id,
            "client_secret": secret,
            "auth_req_id": id,
            "grant_type": "urn:openid:params:grant-type:ciba",
        })
    };
    let resp = http.post(server.url("/oauth/token")).json(&token(&auth_req_id)).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "authorization_pending");

    let refused = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{body}");
        body["error_description"].as_str().unwrap_or_default().to_owned()
    };
    let text =
        http.post(server.url("/oauth/token")).header("content-type", "text/plain").body("x").send().await.unwrap();
    let said = refused(text).await;
    assert!(said.contains("application/x-www-form-urlencoded or application/json"), "{said}");
    let array = http
        .post(server.url("/oauth/token"))
        .header("content-type", "application/json")
        .body("[1]")
        .send()
        .await
        .unwrap();
    assert!(refused(array).await.contains("one object"));
    let twice = format!(
        r#"{{"client_id":"{0}","client_id":"{0}","client_secret":"{1}","auth_req_id":"{2}","grant_type":"urn:openid:params:grant-type:ciba"}}"#,
        agent.client_id, secret, auth_req_id
    );
    let twice = http
        .post(server.url("/oauth/token"))
        .header("content-type", "application/json")
        .body(twice)
        .send()
        .await
        .unwrap();
    refused(twice).await;
    server.stop().await;
}
