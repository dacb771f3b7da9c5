//! WebAuthn over the device channel (docs/protocol.md §5.5, §8.3 step 8),
//! against the real server on a real socket, with webauthn-authenticator-rs's
//! software passkey (user verification set) as the authenticator.

mod common;

use common::webauthn::{
    approve_with, credentials, device_delete as delete, device_post as post, statement_hash, webauthn_server,
};
use common::*;
use countersign_protocol::device::{
    ApproverRequest, CredentialList, Decision, RegistrationStart, Requirement, StatementHash, WebauthnCredential,
};
use countersign_protocol::jws::b64url_decode;
use countersign_server::testing::TestServer;
use serde_json::{json, Value};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_rs::prelude::RequestChallengeResponse;

async fn start_registration(dev: &TestDevice, server: &TestServer) -> RegistrationStart {
    let resp = post(dev, server, "/webauthn/registrations", None).await;
    assert_eq!(resp.status(), 200, "registration start");
    resp.json().await.expect("json")
}

/// The authenticator's answer to a registration start.
fn create(key: &mut SoftPasskey, server: &TestServer, start: &RegistrationStart) -> Value {
    let options = serde_json::from_value(start.options.clone()).expect("CreationChallengeResponse");
    let credential = key.do_registration(url::Url::parse(&server.base_url).unwrap(), options).expect("registration");
    serde_json::to_value(credential).unwrap()
}

/// Registers `key` for the device's user under `name`.
async fn register(dev: &TestDevice, server: &TestServer, key: &mut SoftPasskey, name: &str) -> WebauthnCredential {
    let start = start_registration(dev, server).await;
    let credential = create(key, server, &start);
    let path = format!("/webauthn/registrations/{}", start.registration_id);
    let resp = post(dev, server, &path, Some(&json!({ "name": name, "credential": credential }))).await;
    assert_eq!(resp.status(), 200, "registration finish");
    resp.json().await.expect("json")
}

/// An assertion of `key` over `hash`, as an approver asks for it: the
/// options built from the credential list, the challenge the statement hash.
fn assertion(key: &mut SoftPasskey, server: &TestServer, list: &CredentialList, hash: &StatementHash) -> Value {
    let options: RequestChallengeResponse = serde_json::from_value(json!({
        "publicKey": {
            "challenge": hash.as_str(),
            "timeout": 60000,
            "rpId": list.rp_id,
            "allowCredentials": list.credentials.iter().map(|c| json!({"type": "public-key", "id": c.credential_id})).collect::<Vec<_>>(),
            "userVerification": "required"
        }
    }))
    .expect("RequestChallengeResponse");
    let credential = key.do_authentication(url::Url::parse(&server.base_url).unwrap(), options).expect("assertion");
    serde_json::to_value(credential).unwrap()
}

/// A user with a device, an agent, and a registered key.
async fn setup(server: &TestServer, username: &str) -> (TestDevice, Agent, SoftPasskey) {
    let dev = TestDevice::of_new_user(server, username).await;
    let agent = Agent::register(server, json!({})).await;
    let mut key = SoftPasskey::new(true);
    register(&dev, server, &mut key, "YubiKey 5C").await;
    (dev, agent, key)
}

async fn critical_request(server: &TestServer, dev: &TestDevice, agent: &Agent, username: &str) -> ApproverRequest {
    let ack = agent.start(server, username).await;
    assert!(ack["auth_req_id"].is_string());
    let req = dev.pending(server).await.into_iter().last().expect("pending request");
    assert!(req.requires.contains(&Requirement::Webauthn), "a critical request requires WebAuthn: {:?}", req.requires);
    req
}

#[tokio::test]
async fn a_critical_request_is_approved_with_a_registered_key_and_its_tokens_issued() {
    let server = webauthn_server().await;
    let (dev, agent, mut key) = setup(&server, "alice").await;
    let list = credentials(&dev, &server).await;
    assert_eq!(list.rp_id, "localhost");
    assert_eq!(list.origin, server.base_url);
    assert_eq!(list.credentials.len(), 1);
    assert_eq!(list.credentials[0].name, "YubiKey 5C");
    assert!(list.credentials[0].last_used_at.is_none());

    let ack = agent.start(&server, "alice").await;
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.requires, [Requirement::UserVerification, Requirement::Webauthn]);
    // The device key alone is not enough.
    let resp = approve_with(&dev, &server, &req, None).await;
    expect_err(resp, 403, "step_up_required").await;
    // With the assertion over the statement the user saw: approved.
    let hash = statement_hash(&dev, &req, Decision::Approve);
    let webauthn = assertion(&mut key, &server, &list, &hash);
    let resp = approve_with(&dev, &server, &req, Some(webauthn.clone())).await;
    assert_eq!(resp.status(), 200);
    let (status, tokens) = agent.poll(ack["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string());
    // Recorded: the credential's last use, the assertion as the receipt.
    let list = credentials(&dev, &server).await;
    assert!(list.credentials[0].last_used_at.is_some());
    let stored: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT webauthn_assertion, webauthn_credential_id FROM auth_requests WHERE request_id = $1")
            .bind(req.id.as_str())
            .fetch_one(&server.state.db)
            .await
            .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&stored.0.unwrap()).unwrap(), webauthn);
    assert_eq!(stored.1.as_deref(), Some(list.credentials[0].credential_id.as_str()));
}

#[tokio::test]
async fn an_assertion_for_another_statement_or_another_request_is_refused() {
    let server = webauthn_server().await;
    let (dev, agent, mut key) = setup(&server, "alice").await;
    let list = credentials(&dev, &server).await;
    let first = critical_request(&server, &dev, &agent, "alice").await;
    // Made over the denial's statement: not what is being approved.
    let deny_hash = statement_hash(&dev, &first, Decision::Deny);
    let resp = approve_with(&dev, &server, &first, Some(assertion(&mut key, &server, &list, &deny_hash))).await;
    let body = expect_err(resp, 403, "step_up_failed").await;
    assert!(body["error_description"].as_str().unwrap().contains("does not verify"), "{body}");
    // A valid assertion for the first request, replayed on a second one.
    let hash = statement_hash(&dev, &first, Decision::Approve);
    let used = assertion(&mut key, &server, &list, &hash);
    assert_eq!(approve_with(&dev, &server, &first, Some(used.clone())).await.status(), 200);
    let second = critical_request(&server, &dev, &agent, "alice").await;
    assert_ne!(first.id, second.id);
    let resp = approve_with(&dev, &server, &second, Some(used)).await;
    expect_err(resp, 403, "step_up_failed").await;
    // Still pending: nothing was recorded for it.
    assert!(dev.pending(&server).await.iter().any(|r| r.id == second.id));
}

#[tokio::test]
async fn an_older_assertion_after_a_newer_one_flags_the_credential_and_it_is_refused_from_then_on() {
    let server = webauthn_server().await;
    let (dev, agent, mut key) = setup(&server, "alice").await;
    let list = credentials(&dev, &server).await;
    let first = critical_request(&server, &dev, &agent, "alice").await;
    let second = critical_request(&server, &dev, &agent, "alice").await;
    // As a clone would: assertion A (counter n) made, then B (n + 1)
    // used first; A arrives after it.
    let older = assertion(&mut key, &server, &list, &statement_hash(&dev, &first, Decision::Approve));
    let newer = assertion(&mut key, &server, &list, &statement_hash(&dev, &second, Decision::Approve));
    assert_eq!(approve_with(&dev, &server, &second, Some(newer)).await.status(), 200);
    let resp = approve_with(&dev, &server, &first, Some(older)).await;
    let body = expect_err(resp, 403, "step_up_failed").await;
    assert!(body["error_description"].as_str().unwrap().contains("counter"), "{body}");
    let list = credentials(&dev, &server).await;
    assert!(list.credentials[0].flagged_at.is_some(), "flagged for the admin view");
    let reason: Option<String> =
        sqlx::query_scalar("SELECT flag_reason FROM webauthn_credentials").fetch_one(&server.state.db).await.unwrap();
    assert!(reason.unwrap().contains("counter"));
    // A fresh, valid assertion of the flagged credential: refused.
    let fresh = assertion(&mut key, &server, &list, &statement_hash(&dev, &first, Decision::Approve));
    let body = expect_err(approve_with(&dev, &server, &first, Some(fresh)).await, 403, "step_up_failed").await;
    assert!(body["error_description"].as_str().unwrap().contains("flagged"), "{body}");
    assert!(dev.pending(&server).await.iter().any(|r| r.id == first.id), "still pending");
}

/// The request's recorded status and assertion, and the credential's flag.
async fn recorded(server: &TestServer, req: &ApproverRequest) -> (String, Option<Value>, Option<i64>) {
    let (status, assertion): (String, Option<String>) =
        sqlx::query_as("SELECT status, webauthn_assertion FROM auth_requests WHERE request_id = $1")
            .bind(req.id.as_str())
            .fetch_one(&server.state.db)
            .await
            .unwrap();
    let flagged: Option<i64> =
        sqlx::query_scalar("SELECT flagged_at FROM webauthn_credentials").fetch_one(&server.state.db).await.unwrap();
    (status, assertion.map(|a| serde_json::from_str(&a).unwrap()), flagged)
}

#[tokio::test]
async fn the_same_approval_with_its_assertion_posted_again_gets_the_recorded_answer_and_flags_nothing() {
    let server = webauthn_server().await;
    let (dev, agent, mut key) = setup(&server, "alice").await;
    let list = credentials(&dev, &server).await;
    let req = critical_request(&server, &dev, &agent, "alice").await;
    let webauthn = assertion(&mut key, &server, &list, &statement_hash(&dev, &req, Decision::Approve));
    let mut body = dev.submission(&req, Decision::Approve, None, server.state.now());
    body.webauthn = Some(webauthn.clone());
    let first = dev.submit(&server, &req.id, &body).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    // The same body again (an outbox entry delivered twice): the recorded
    // answer (§8.3 step 5), the key not flagged.
    let again = dev.submit(&server, &req.id, &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(recorded(&server, &req).await, ("approved".to_owned(), Some(webauthn), None));
    assert!(credentials(&dev, &server).await.credentials[0].flagged_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_approval_posted_twice_at_once_is_recorded_once_and_flags_nothing() {
    let server = webauthn_server().await;
    let (dev, agent, mut key) = setup(&server, "alice").await;
    let list = credentials(&dev, &server).await;
    for round in 0..20 {
        // Past the per-minute request limits of an unverified client.
        server.clock.advance(61);
        let ack = agent.start(&server, "alice").await;
        let req = dev.pending(&server).await.into_iter().last().expect("pending request");
        let webauthn = assertion(&mut key, &server, &list, &statement_hash(&dev, &req, Decision::Approve));
        let mut body = dev.submission(&req, Decision::Approve, None, server.state.now());
        body.webauthn = Some(webauthn.clone());
        // Two deliveries of one submission racing: whichever passes the
        // "already decided" check before the other commits meets a counter
        // the other stored, with this very assertion recorded.
        let (a, b) = tokio::join!(dev.submit(&server, &req.id, &body), dev.submit(&server, &req.id, &body));
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200), "round {round}");
        let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
        assert_eq!(a, b, "round {round}: one decision, answered twice");
        assert_eq!(recorded(&server, &req).await, ("approved".to_owned(), Some(webauthn), None), "round {round}");
        let (status, tokens) = agent.poll(ack["auth_req_id"].as_str().unwrap()).await;
        assert_eq!(status, 200, "round {round}: {tokens}");
    }
    assert!(credentials(&dev, &server).await.credentials[0].flagged_at.is_none());
}

#[tokio::test]
async fn an_assertion_for_another_origin_is_refused() {
    let server = webauthn_server().await;
    let (dev, agent, mut key) = setup(&server, "alice").await;
    let list = credentials(&dev, &server).await;
    let req = critical_request(&server, &dev, &agent, "alice").await;
    let hash = statement_hash(&dev, &req, Decision::Approve);
    // The same rpId, another port: another origin (a page elsewhere).
    let options: RequestChallengeResponse = serde_json::from_value(json!({
        "publicKey": {
            "challenge": hash.as_str(), "timeout": 60000, "rpId": list.rp_id, "userVerification": "required",
            "allowCredentials": [{"type": "public-key", "id": list.credentials[0].credential_id}]
        }
    }))
    .unwrap();
    let elsewhere = url::Url::parse("http://localhost:1").unwrap();
    let made = serde_json::to_value(key.do_authentication(elsewhere, options).expect("assertion")).unwrap();
    let body = expect_err(approve_with(&dev, &server, &req, Some(made)).await, 403, "step_up_failed").await;
    assert!(body["error_description"].as_str().unwrap().contains("does not verify"), "{body}");
}

#[tokio::test]
async fn another_users_credential_is_refused() {
    let server = webauthn_server().await;
    let (alice, agent, _) = setup(&server, "alice").await;
    let (bob, _, mut bobs_key) = setup(&server, "bob").await;
    let bobs = credentials(&bob, &server).await;
    let req = critical_request(&server, &alice, &agent, "alice").await;
    let hash = statement_hash(&alice, &req, Decision::Approve);
    let resp = approve_with(&alice, &server, &req, Some(assertion(&mut bobs_key, &server, &bobs, &hash))).await;
    let body = expect_err(resp, 403, "step_up_failed").await;
    assert!(body["error_description"].as_str().unwrap().contains("not one of the user's"), "{body}");
}

#[tokio::test]
async fn a_denial_needs_no_key_and_a_lower_risk_needs_none() {
    let server = webauthn_server().await;
    let (dev, agent, _) = setup(&server, "alice").await;
    let req = critical_request(&server, &dev, &agent, "alice").await;
    // An assertion sent with a denial is ignored, even a malformed one.
    let mut body = dev.submission(&req, Decision::Deny, None, server.state.now());
    body.webauthn = Some(json!({"not": "an assertion"}));
    assert_eq!(dev.submit(&server, &req.id, &body).await.status(), 200);
    // A stock trade is high risk: user verification only.
    let mut params = agent.request_params("alice");
    params.retain(|(k, _)| *k != "authorization_details");
    params.push(("authorization_details", json!([stock_trade_detail()]).to_string()));
    let resp = agent.bc_authorize(&server, &params).await;
    assert_eq!(resp.status(), 200);
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.requires, [Requirement::UserVerification]);
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
}

fn stock_trade_detail() -> Value {
    json!({"type": STOCK_TRADE, "action": "buy", "symbol": "ACME", "quantity": "10", "order_type": "market"})
}

#[tokio::test]
async fn registration_refusals_store_nothing() {
    let server = webauthn_server().await;
    let dev = TestDevice::of_new_user(&server, "alice").await;
    let mut key = SoftPasskey::new(true);
    // A name with a bidi override: refused, the registration not spent.
    let start = start_registration(&dev, &server).await;
    assert_eq!(start.options["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let credential = create(&mut key, &server, &start);
    let path = format!("/webauthn/registrations/{}", start.registration_id);
    let body = json!({ "name": "Key\u{202e}yeK", "credential": credential });
    expect_err(post(&dev, &server, &path, Some(&body)).await, 400, "invalid_credential").await;
    // Spent by its first finish: the same registration cannot be finished again.
    let body = json!({ "name": "Key", "credential": credential });
    assert_eq!(post(&dev, &server, &path, Some(&body)).await.status(), 200);
    expect_err(post(&dev, &server, &path, Some(&body)).await, 404, "not_found").await;
    // The same credential again, through a new registration: one user each.
    let again = start_registration(&dev, &server).await;
    let path_again = format!("/webauthn/registrations/{}", again.registration_id);
    let err = expect_err(post(&dev, &server, &path_again, Some(&body)).await, 400, "invalid_credential").await;
    assert!(err["error_description"].as_str().unwrap().contains("does not verify"), "another challenge: {err}");
    assert_eq!(credentials(&dev, &server).await.credentials.len(), 1);
    sqlx::query("DELETE FROM webauthn_credentials").execute(&server.state.db).await.unwrap();
    // A credential made for another registration's challenge.
    let (a, b) = (start_registration(&dev, &server).await, start_registration(&dev, &server).await);
    let for_a = create(&mut key, &server, &a);
    let path_b = format!("/webauthn/registrations/{}", b.registration_id);
    let body = json!({ "name": "Key", "credential": for_a });
    let err = expect_err(post(&dev, &server, &path_b, Some(&body)).await, 400, "invalid_credential").await;
    assert!(err["error_description"].as_str().unwrap().contains("does not verify"), "{err}");
    // Unknown members are refused.
    let start = start_registration(&dev, &server).await;
    let path = format!("/webauthn/registrations/{}", start.registration_id);
    let body = json!({ "name": "Key", "credential": create(&mut key, &server, &start), "admin": true });
    expect_err(post(&dev, &server, &path, Some(&body)).await, 400, "invalid_request").await;
    assert!(credentials(&dev, &server).await.credentials.is_empty(), "nothing stored");
    // Another user's device cannot finish this user's registration.
    let start = start_registration(&dev, &server).await;
    let other = TestDevice::of_new_user(&server, "bob").await;
    let path = format!("/webauthn/registrations/{}", start.registration_id);
    let body = json!({ "name": "Key", "credential": create(&mut key, &server, &start) });
    expect_err(post(&other, &server, &path, Some(&body)).await, 404, "not_found").await;
    // Without user verification (presence only) it is refused: the
    // authenticator data's UV flag cleared (`none` attestation signs nothing).
    let start = start_registration(&dev, &server).await;
    let path = format!("/webauthn/registrations/{}", start.registration_id);
    let mut credential = create(&mut key, &server, &start);
    let object = credential["response"]["attestationObject"].as_str().unwrap();
    credential["response"]["attestationObject"] = json!(without_uv(object));
    let body = json!({ "name": "Key", "credential": credential });
    expect_err(post(&dev, &server, &path, Some(&body)).await, 400, "invalid_credential").await;
    assert!(credentials(&dev, &server).await.credentials.is_empty(), "nothing stored");
}

/// `attestationObject` (base64url CBOR) with the UV flag (0x04) of its
/// authenticator data cleared: the byte string after the `authData` key,
/// flags at offset 32 (WebAuthn §6.1).
fn without_uv(object: &str) -> String {
    let mut bytes = b64url_decode(object).unwrap();
    let key = b"hauthData";
    let at = bytes.windows(key.len()).position(|w| w == key).expect("authData") + key.len();
    let data = match bytes[at] {
        0x58 => at + 2,
        0x59 => at + 3,
        other => panic!("unexpected CBOR header {other:#x}"),
    };
    assert_eq!(bytes[data + 32] & 0x05, 0x05, "UP and UV set before");
    bytes[data + 32] &= !0x04;
    countersign_protocol::jws::b64url_encode(&bytes)
}

#[tokio::test]
async fn a_removed_key_is_gone_and_removing_it_again_is_not_found() {
    let server = webauthn_server().await;
    let (dev, _, _) = setup(&server, "alice").await;
    let id = credentials(&dev, &server).await.credentials[0].credential_id.clone();
    let other = TestDevice::of_new_user(&server, "bob").await;
    let path = format!("/webauthn/credentials/{id}");
    expect_err(delete(&other, &server, &path).await, 404, "not_found").await;
    assert_eq!(delete(&dev, &server, &path).await.status(), 204);
    assert!(credentials(&dev, &server).await.credentials.is_empty());
    expect_err(delete(&dev, &server, &path).await, 404, "not_found").await;
    assert_eq!(b64url_decode(&id).map(|b| !b.is_empty()), Ok(true));
    // Both recorded in the audit log, by the device, once each (the
    // refused removals record nothing).
    type Entry = (String, String, Option<String>, Option<String>, String);
    let entries: Vec<Entry> = sqlx::query_as(
        "SELECT action, actor, target, sub, data FROM audit_log WHERE action LIKE 'security_key.%' ORDER BY seq",
    )
    .fetch_all(&server.state.db)
    .await
    .unwrap();
    let device = format!("device:{}", dev.id);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        (entries[0].0.as_str(), entries[0].1.as_str(), entries[0].2.as_deref(), entries[0].3.as_deref()),
        ("security_key.added", device.as_str(), Some(id.as_str()), Some(dev.sub.as_str()))
    );
    let added: Value = serde_json::from_str(&entries[0].4).unwrap();
    assert!(added["name"].is_string(), "{added}");
    assert_eq!(
        (entries[1].0.as_str(), entries[1].1.as_str(), entries[1].2.as_deref(), entries[1].3.as_deref()),
        ("security_key.removed", device.as_str(), Some(id.as_str()), Some(dev.sub.as_str()))
    );
    assert!(countersign_server::audit::verify(&server.state.db).await.unwrap().is_ok());
}

#[tokio::test]
async fn the_policy_is_critical_by_default_and_per_client() {
    assert_eq!(
        countersign_server::Config::new(countersign_protocol::device::Issuer::new("https://a.example").unwrap())
            .webauthn_at,
        Some(countersign_protocol::device::Risk::Critical),
        "the production default"
    );
    let server = webauthn_server().await;
    let dev = TestDevice::of_new_user(&server, "alice").await;
    let agent = Agent::register(&server, json!({})).await;
    countersign_server::ops::set_client_step_up(
        &server.state.db,
        &agent.client_id,
        "never",
        &countersign_server::ops::Actor::Operator,
        server.state.now(),
    )
    .await
    .unwrap();
    agent.start(&server, "alice").await;
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(req.requires, [Requirement::UserVerification], "this client: never");
    let err = countersign_server::ops::set_client_step_up(
        &server.state.db,
        &agent.client_id,
        "sometimes",
        &countersign_server::ops::Actor::Operator,
        server.state.now(),
    )
    .await;
    assert!(err.unwrap_err().to_string().contains("never, low, medium, high, critical"));
}

#[tokio::test]
async fn an_ip_issuer_has_no_webauthn() {
    let server = server_with(|c| c.webauthn_at = Some(countersign_protocol::device::Risk::Critical)).await;
    let dev = TestDevice::of_new_user(&server, "alice").await;
    let err = expect_err(post(&dev, &server, "/webauthn/registrations", None).await, 400, "invalid_request").await;
    assert!(err["error_description"].as_str().unwrap().contains("domain name"), "{err}");
}

/// Asserts the exact answer: `status` and `body` (every member), with
/// `Cache-Control: no-store`; the headers.
async fn expect_exact(resp: reqwest::Response, status: u16, body: Value) -> reqwest::header::HeaderMap {
    let headers = resp.headers().clone();
    assert_eq!(resp.status(), status);
    assert_eq!(resp.json::<Value>().await.expect("json"), body);
    assert_eq!(headers["cache-control"], "no-store");
    headers
}

/// The user's registrations in progress, as stored.
async fn stored_registrations(server: &TestServer, dev: &TestDevice) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM webauthn_registrations WHERE sub = $1")
        .bind(&dev.sub)
        .fetch_one(&server.state.db)
        .await
        .unwrap()
}

/// Finishes `start` with a credential of a new software key.
async fn finish(dev: &TestDevice, server: &TestServer, start: &RegistrationStart, name: &str) -> reqwest::Response {
    let credential = create(&mut SoftPasskey::new(true), server, start);
    let path = format!("/webauthn/registrations/{}", start.registration_id);
    post(dev, server, &path, Some(&json!({ "name": name, "credential": credential }))).await
}

const PENDING_CAP: u32 = 5;
const CREDENTIAL_CAP: u32 = 10;

fn too_many_registrations() -> Value {
    json!({
        "error": "slow_down",
        "error_description": "the user already has the most security key registrations in progress this server \
                              allows (5); retry when one is finished or expires (Retry-After)"
    })
}

fn too_many_credentials() -> Value {
    json!({
        "error": "invalid_credential",
        "error_description": "the user already has the most security keys this server allows (10); remove one to \
                              register another"
    })
}

#[tokio::test]
async fn a_user_has_at_most_5_registrations_in_progress_from_all_their_devices() {
    let limits = countersign_server::config::Limits::default();
    assert_eq!(limits.max_pending_webauthn_registrations_per_user, PENDING_CAP, "the documented default");
    let server = webauthn_server().await;
    let laptop = TestDevice::of_new_user(&server, "alice").await;
    let phone = TestDevice::enroll(&server, "alice").await;
    let mut started = Vec::new();
    for i in 0..PENDING_CAP {
        started.push(start_registration(if i % 2 == 0 { &laptop } else { &phone }, &server).await);
    }
    // The sixth, from either device: 429 slow_down until the first expires.
    for dev in [&laptop, &phone] {
        let resp = post(dev, &server, "/webauthn/registrations", None).await;
        let headers = expect_exact(resp, 429, too_many_registrations()).await;
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&retry), "Retry-After {retry}");
    }
    assert_eq!(stored_registrations(&server, &laptop).await, 5, "nothing stored for the refused starts");
    // Another user is not affected.
    let bob = TestDevice::of_new_user(&server, "bob").await;
    start_registration(&bob, &server).await;
    // Every one still finishes (none was dropped to make room); each
    // finished one makes room for one more start.
    assert_eq!(finish(&laptop, &server, &started[0], "Key 0").await.status(), 200);
    let again = start_registration(&phone, &server).await;
    expect_exact(post(&laptop, &server, "/webauthn/registrations", None).await, 429, too_many_registrations()).await;
    // A finish refused for a bad credential spends its registration: room too.
    let path = format!("/webauthn/registrations/{}", started[1].registration_id);
    let body = json!({ "name": "Key", "credential": create(&mut SoftPasskey::new(true), &server, &again) });
    expect_err(post(&phone, &server, &path, Some(&body)).await, 400, "invalid_credential").await;
    start_registration(&laptop, &server).await;
    expect_exact(post(&phone, &server, "/webauthn/registrations", None).await, 429, too_many_registrations()).await;
    // Expired ones no longer count.
    server.clock.advance(REGISTRATION_TTL_SECS);
    for _ in 0..PENDING_CAP {
        start_registration(&laptop, &server).await;
    }
    assert_eq!(stored_registrations(&server, &laptop).await, 5, "the expired ones deleted");
    expect_exact(post(&laptop, &server, "/webauthn/registrations", None).await, 429, too_many_registrations()).await;
    // The expired ones, each from the device that started it, are gone.
    for (i, start) in started.iter().enumerate().skip(2) {
        let dev = if i % 2 == 0 { &laptop } else { &phone };
        let body = expect_err(finish(dev, &server, start, "Late").await, 404, "not_found").await;
        assert_eq!(body["error_description"], "no such registration", "registration {i}");
    }
    assert_eq!(credentials(&laptop, &server).await.credentials.len(), 1);
}

/// How long a registration is kept (docs/protocol.md §5.5: 5 minutes).
const REGISTRATION_TTL_SECS: u64 = 300;

#[tokio::test]
async fn a_user_has_at_most_10_credentials_and_one_over_it_stores_nothing() {
    let limits = countersign_server::config::Limits::default();
    assert_eq!(limits.max_webauthn_credentials_per_user, CREDENTIAL_CAP, "the documented default");
    let server = webauthn_server().await;
    let dev = TestDevice::of_new_user(&server, "alice").await;
    for i in 0..CREDENTIAL_CAP - 2 {
        register(&dev, &server, &mut SoftPasskey::new(true), &format!("Key {i}")).await;
    }
    // Three started under the cap; the third finish is one over it.
    let (a, b, c) = (
        start_registration(&dev, &server).await,
        start_registration(&dev, &server).await,
        start_registration(&dev, &server).await,
    );
    assert_eq!(finish(&dev, &server, &a, "Key 8").await.status(), 200);
    assert_eq!(finish(&dev, &server, &b, "Key 9").await.status(), 200);
    let over = finish(&dev, &server, &c, "Key 10").await;
    expect_exact(over, 400, too_many_credentials()).await;
    let list = credentials(&dev, &server).await;
    assert_eq!(list.credentials.len(), 10, "nothing stored");
    assert!(list.credentials.iter().all(|k| k.name != "Key 10"));
    // The refused finish spent its registration.
    assert_eq!(stored_registrations(&server, &dev).await, 0);
    expect_err(finish(&dev, &server, &c, "Key 10").await, 404, "not_found").await;
    // At the cap, a start is refused before the key is touched; nothing stored.
    expect_exact(post(&dev, &server, "/webauthn/registrations", None).await, 400, too_many_credentials()).await;
    assert_eq!(stored_registrations(&server, &dev).await, 0);
    // Another user is not affected.
    let bob = TestDevice::of_new_user(&server, "bob").await;
    register(&bob, &server, &mut SoftPasskey::new(true), "Bob's key").await;
    // Removing one makes room for one.
    let path = format!("/webauthn/credentials/{}", list.credentials[0].credential_id);
    assert_eq!(delete(&dev, &server, &path).await.status(), 204);
    register(&dev, &server, &mut SoftPasskey::new(true), "Key 11").await;
    assert_eq!(credentials(&dev, &server).await.credentials.len(), 10);
    expect_exact(post(&dev, &server, "/webauthn/registrations", None).await, 400, too_many_credentials()).await;
}

#[tokio::test]
async fn the_caps_are_configurable_and_0_lifts_them() {
    let options = countersign_server::testing::TestOptions {
        localhost_issuer: true,
        ..countersign_server::testing::TestOptions::with_config(|c| {
            c.limits.max_pending_webauthn_registrations_per_user = 0;
            c.limits.max_webauthn_credentials_per_user = 1;
        })
    };
    let server = countersign_server::testing::spawn_test_server(options).await.expect("test server");
    let dev = TestDevice::of_new_user(&server, "alice").await;
    let started: Vec<_> = futures_util::future::join_all((0..8).map(|_| start_registration(&dev, &server))).await;
    assert_eq!(stored_registrations(&server, &dev).await, 8);
    assert_eq!(finish(&dev, &server, &started[0], "Only key").await.status(), 200);
    let refused = json!({
        "error": "invalid_credential",
        "error_description": "the user already has the most security keys this server allows (1); remove one to \
                              register another"
    });
    expect_exact(finish(&dev, &server, &started[1], "Second").await, 400, refused).await;
    assert_eq!(credentials(&dev, &server).await.credentials.len(), 1);
}
