//! The device channel's refusals: enrollment, device proofs, decisions
//! (tampered, replayed, wrong device, revoked device, expired, conflicting).

mod common;

use common::*;
use countersign_protocol::device::{
    ApprovalStatement, Decision, DecisionClaims, DecisionSubmission, DenyReason, DeviceAuthClaims, HttpMethod,
    SchemaHash,
};
use countersign_protocol::jws::{DeviceKeyPair, JwtType, SignHeader};
use countersign_server::ops::NewUser;
use countersign_server::testing::new_user;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn enrollment_refusals() {
    let server = server().await;
    add_users(&server, &["ann", "off"]).await;
    let http = http();
    let url = server.url("/device/v1/enroll");
    let key = DeviceKeyPair::generate().unwrap();
    let body = |ticket: &str| {
        json!({"ticket": ticket, "public_jwk": key.public_jwk(), "device_name": "Laptop",
            "platform": "linux", "capabilities": ["push"]})
    };
    let post = |b: Value| {
        let http = http.clone();
        let url = url.clone();
        async move { http.post(url).json(&b).send().await.unwrap() }
    };

    let unknown = countersign_protocol::secret::generate_url_safe(32).unwrap();
    expect_err(post(body(&unknown)).await, 400, "invalid_ticket").await;
    expect_err(post(body("short")).await, 400, "invalid_ticket").await;
    let t = ticket(&server, "ann").await;
    let mut b = body(t.secret());
    b["public_jwk"]["x"] = json!(countersign_protocol::jws::b64url_encode([7u8; 32]));
    expect_err(post(b).await, 400, "invalid_public_key").await;
    let mut b = body(t.secret());
    b["public_jwk"]["kid"] = json!("mine");
    expect_err(post(b).await, 400, "invalid_public_key").await;
    let mut b = body(t.secret());
    b["extra"] = json!(1);
    expect_err(post(b).await, 400, "invalid_request").await;
    let mut b = body(t.secret());
    b["device_name"] = json!("");
    expect_err(post(b).await, 400, "invalid_request").await;
    let resp = http.post(&url).header("content-type", "text/plain").body(body(t.secret()).to_string()).send().await;
    expect_err(resp.unwrap(), 400, "invalid_request").await;
    let resp = http.post(&url).json(&json!({"ticket": "x".repeat(70 * 1024)})).send().await.unwrap();
    expect_err(resp, 413, "invalid_request").await;

    // The refusals above did not consume the ticket; single use after that.
    assert_eq!(post(body(t.secret())).await.status(), 201);
    expect_err(post(body(t.secret())).await, 400, "invalid_ticket").await;
    // Expired.
    let t = ticket(&server, "ann").await;
    server.clock.advance(601);
    expect_err(post(body(t.secret())).await, 400, "invalid_ticket").await;
    // A disabled user's ticket.
    let t = ticket(&server, "off").await;
    server.state.disable_user("off", &countersign_server::ops::Actor::Operator).await.unwrap();
    expect_err(post(body(t.secret())).await, 400, "invalid_ticket").await;

    // The https link opens the app URI.
    let t = ticket(&server, "ann").await;
    let link = format!("{}?ticket={}", server.url("/device/v1/enroll-link"), t.secret());
    let resp = http.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-security-policy"], "default-src 'none'");
    let page = resp.text().await.unwrap();
    assert!(page.contains("countersign://enroll?issuer="), "{page}");
    let resp = http.get(server.url("/device/v1/enroll-link?ticket=bad")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn enrollment_preview_shows_the_user_and_spends_nothing() {
    let server = server().await;
    let sub = add_user(&server, "ann").await;
    let admin = server.create_user(&NewUser { admin: true, ..new_user("root", "Root \u{202e}Admin") }).await;
    let http = http();
    let preview_url = server.url("/device/v1/enroll-preview");
    let preview = |ticket: &str| {
        let (http, url) = (http.clone(), preview_url.clone());
        let body = json!({ "ticket": ticket });
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let key = DeviceKeyPair::generate().unwrap();
    let enroll = |ticket: &str| {
        let (http, url) = (http.clone(), server.url("/device/v1/enroll"));
        let body = json!({"ticket": ticket, "public_jwk": key.public_jwk(), "device_name": "Laptop",
            "platform": "linux", "capabilities": ["push"]});
        async move { http.post(url).json(&body).send().await.unwrap() }
    };

    let created = server.state.now();
    let t = ticket(&server, "ann").await;
    let resp = preview(t.secret()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "user": { "sub": sub, "name": "ann name", "roles": ["user"] }, "expires_at": created + 600 })
    );
    // Previewing again changes nothing, and the ticket still enrolls, once.
    let again: Value = preview(t.secret()).await.json().await.unwrap();
    assert_eq!(again, body);
    let enrolled = enroll(t.secret()).await;
    assert_eq!(enrolled.status(), 201);
    let enrolled: Value = enrolled.json().await.unwrap();
    assert_eq!(enrolled["user"], body["user"], "the preview showed the user the enrollment got");
    // Used.
    let resp = preview(t.secret()).await;
    let text = resp.text().await.unwrap();
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["error"], "invalid_ticket", "{text}");
    assert!(!text.contains(t.secret()), "the ticket is not echoed: {text}");

    // The admin's roles and name come through as stored (hidden characters included:
    // the approver flags them).
    let t = ticket(&server, "root").await;
    let body: Value = preview(t.secret()).await.json().await.unwrap();
    assert_eq!(body["user"]["sub"], admin.sub);
    assert_eq!(body["user"]["name"], "Root \u{202e}Admin");
    assert_eq!(body["user"]["roles"], json!(["admin", "user"]));

    // Unknown (well-formed) and malformed tickets.
    let unknown = countersign_protocol::secret::generate_url_safe(32).unwrap();
    let body = expect_err(preview(&unknown).await, 400, "invalid_ticket").await;
    assert!(!body.to_string().contains(&unknown), "{body}");
    expect_err(preview("short").await, 400, "invalid_ticket").await;

    // Expired: usable until the second before expires_at, refused from then on.
    let t = ticket(&server, "ann").await;
    server.clock.advance(599);
    assert_eq!(preview(t.secret()).await.status(), 200);
    server.clock.advance(1);
    expect_err(preview(t.secret()).await, 400, "invalid_ticket").await;
    expect_err(enroll(t.secret()).await, 400, "invalid_ticket").await;

    // A disabled user's ticket, as for /enroll.
    let t = ticket(&server, "ann").await;
    server.state.disable_user("ann", &countersign_server::ops::Actor::Operator).await.unwrap();
    expect_err(preview(t.secret()).await, 400, "invalid_ticket").await;
    server.stop().await;
}

#[tokio::test]
async fn enrollment_preview_refuses_malformed_bodies() {
    let server = server().await;
    let t = new_user_ticket(&server, "ann").await;
    let http = http();
    let url = server.url("/device/v1/enroll-preview");
    let post_json = |b: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move { http.post(url).json(&b).send().await.unwrap() }
    };
    let post_raw = |content_type: &'static str, body: String| {
        let (http, url) = (http.clone(), url.clone());
        async move { http.post(url).header("content-type", content_type).body(body).send().await.unwrap() }
    };

    // Unknown member, missing ticket, wrong types, not an object.
    expect_err(post_json(json!({ "ticket": t.secret(), "sub": "u_1" })).await, 400, "invalid_request").await;
    expect_err(post_json(json!({})).await, 400, "invalid_request").await;
    expect_err(post_json(json!({ "ticket": 42 })).await, 400, "invalid_request").await;
    expect_err(post_json(json!([t.secret()])).await, 400, "invalid_request").await;
    expect_err(post_json(json!(t.secret())).await, 400, "invalid_request").await;
    // Not JSON, duplicate members (strict reader), another media type, empty.
    expect_err(post_raw("application/json", "{\"ticket\":".into()).await, 400, "invalid_request").await;
    let dup = format!("{{\"ticket\":\"{0}\",\"ticket\":\"{0}\"}}", t.secret());
    expect_err(post_raw("application/json", dup).await, 400, "invalid_request").await;
    let form = format!("ticket={}", t.secret());
    expect_err(post_raw("application/x-www-form-urlencoded", form).await, 400, "invalid_request").await;
    expect_err(post_raw("application/json", String::new()).await, 400, "invalid_request").await;
    // Over the body limit.
    expect_err(post_json(json!({ "ticket": "x".repeat(70 * 1024) })).await, 413, "invalid_request").await;
    // Only POST: the ticket never goes in a URL.
    let resp = http.get(format!("{url}?ticket={}", t.secret())).send().await.unwrap();
    assert_eq!(resp.status(), 405);

    // None of that spent the ticket.
    assert_eq!(post_json(json!({ "ticket": t.secret() })).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn device_proof_refusals() {
    let (server, dev) = user_and_device(server().await, "bea").await;
    let http = http();
    let url = format!("{}/requests", dev.endpoint);
    let send = |proof: Option<String>| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let mut r = http.get(&url);
            if let Some(p) = proof {
                r = r.header("Authorization", format!("Device {p}"));
            }
            r.send().await.unwrap()
        }
    };
    let now = server.state.now();
    let resp = send(None).await;
    assert_eq!(resp.headers()["www-authenticate"], "Device error=\"invalid_token\"");
    expect_err(resp, 401, "invalid_token").await;

    let proof = dev.proof(HttpMethod::Get, &url, now);
    assert_eq!(send(Some(proof.clone())).await.status(), 200);
    expect_err(send(Some(proof)).await, 401, "invalid_token").await; // replayed jti
    expect_err(send(Some(dev.proof(HttpMethod::Post, &url, now))).await, 401, "invalid_token").await;
    let other_url = format!("{}/events", dev.endpoint);
    expect_err(send(Some(dev.proof(HttpMethod::Get, &other_url, now))).await, 401, "invalid_token").await;
    expect_err(send(Some(dev.proof(HttpMethod::Get, &url, now - 120))).await, 401, "invalid_token").await;
    // Signed by another key under this device's id.
    let stranger = DeviceKeyPair::generate().unwrap();
    let claims = DeviceAuthClaims::new(dev.id.clone(), dev.issuer.clone(), HttpMethod::Get, &url, now).unwrap();
    expect_err(send(Some(claims.sign(&stranger).unwrap())).await, 401, "invalid_token").await;
    // An unknown device id.
    let ghost = countersign_protocol::device::DeviceId::new("dev_ghost").unwrap();
    let claims = DeviceAuthClaims::new(ghost, dev.issuer.clone(), HttpMethod::Get, &url, now).unwrap();
    expect_err(send(Some(claims.sign(&dev.key).unwrap())).await, 401, "invalid_token").await;
    // Another audience.
    let other_iss = countersign_protocol::device::Issuer::new("https://other.example").unwrap();
    let claims = DeviceAuthClaims::new(dev.id.clone(), other_iss, HttpMethod::Get, &url, now).unwrap();
    expect_err(send(Some(claims.sign(&dev.key).unwrap())).await, 401, "invalid_token").await;

    expect_err(dev.get(&server, "/requests?status=approved").await, 400, "invalid_request").await;
    server.stop().await;
}

#[tokio::test]
async fn revoked_device_is_refused_at_once_and_its_stream_closed() {
    let (server, dev) = user_and_device(server().await, "cat").await;
    let keep = TestDevice::enroll(&server, "cat").await;
    let agent = Agent::register(&server, json!({})).await;
    agent.start(&server, "cat").await;
    let req = dev.pending(&server).await.remove(0);
    let mut sse = dev.events(&server, None).await;
    let mut kept = keep.events(&server, None).await;
    let body = dev.submission(&req, Decision::Approve, None, server.state.now());

    server.state.revoke_device(dev.id.as_str(), &countersign_server::ops::Actor::Operator).await.unwrap();
    assert!(sse.ends_within(WAIT).await, "the revoked device's stream is closed");
    expect_err(dev.get(&server, "/requests?status=pending").await, 401, "invalid_token").await;
    expect_err(dev.submit(&server, &req.id, &body).await, 401, "invalid_token").await;
    // The other device is unaffected and still decides.
    assert!(!kept.ends_within(Duration::from_millis(200)).await);
    assert_eq!(keep.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let devices = countersign_server::ops::list_devices(&server.state.db, "cat").await.unwrap();
    assert_eq!(devices.iter().filter(|d| d.revoked_at.is_some()).count(), 1);
    server.stop().await;
}

#[tokio::test]
async fn decision_refusals_and_idempotence() {
    let server = server_with(|c| c.limits.user_per_minute = 0).await;
    add_users(&server, &["dan", "eli"]).await;
    let dev = TestDevice::enroll(&server, "dan").await;
    let dev2 = TestDevice::enroll(&server, "dan").await;
    let stranger = TestDevice::enroll(&server, "eli").await;
    let agent = Agent::register(&server, json!({})).await;
    agent.start(&server, "dan").await;
    agent.start(&server, "dan").await;
    let reqs = dev.pending(&server).await;
    let (req, req_b) = (&reqs[0], &reqs[1]);
    let now = server.state.now();

    // Another user's device: the request does not exist for it.
    expect_err(stranger.get(&server, &format!("/requests/{}", req.id)).await, 404, "not_found").await;
    let body = stranger.submission(req, Decision::Approve, None, now);
    expect_err(stranger.submit(&server, &req.id, &body).await, 404, "not_found").await;
    let unknown = countersign_protocol::device::RequestId::new("req_unknown").unwrap();
    expect_err(dev.submit(&server, &unknown, &body).await, 404, "not_found").await;

    // Malformed body, unknown member.
    expect_err(dev.submit(&server, &req.id, &json!({"decision_jws": "x"})).await, 400, "invalid_request").await;
    let mut extra = serde_json::to_value(dev.submission(req, Decision::Approve, None, now)).unwrap();
    extra["note"] = json!("hi");
    expect_err(dev.submit(&server, &req.id, &extra).await, 400, "invalid_request").await;

    // Signed by the other device of the same user, submitted by this one.
    let body = dev2.submission(req, Decision::Approve, None, now);
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "invalid_decision").await;
    // A decision for request B replayed on request A.
    let body_b = dev.submission(req_b, Decision::Approve, None, now);
    expect_err(dev.submit(&server, &req.id, &body_b).await, 400, "invalid_decision").await;
    // Expired decision JWS.
    let old = dev.submission(req, Decision::Approve, None, now - 200);
    expect_err(dev.submit(&server, &req.id, &old).await, 400, "invalid_decision").await;
    // deny_reason with approve.
    let schemas = dev.schemas(req);
    let st = ApprovalStatement::build(req, Decision::Approve, schemas.clone()).unwrap();
    let mut claims = DecisionClaims::new(dev.id.clone(), &st, None, now).unwrap();
    claims.deny_reason = Some(DenyReason::Other);
    let jws = claims.sign(&dev.key).unwrap();
    let body = DecisionSubmission { decision_jws: jws, display_schemas: schemas.clone(), webauthn: None };
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "invalid_decision").await;
    // Not a decision JWS (typ).
    let wrong_typ = dev
        .key
        .sign(
            &SignHeader { typ: Some(JwtType::Jwt), kid: Some(dev.id.to_string()) },
            &DecisionClaims::new(dev.id.clone(), &st, None, now).unwrap(),
        )
        .unwrap();
    let body = DecisionSubmission { decision_jws: wrong_typ, display_schemas: schemas.clone(), webauthn: None };
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "invalid_decision").await;

    // Tampered: the device signs other details than the server stored.
    let mut tampered = req.clone();
    let mut d = tampered.authorization_details.to_value();
    d[0]["instructedAmount"]["amount"] = json!("1.00");
    tampered.authorization_details = countersign_protocol::rar::AuthorizationDetails::from_value(d).unwrap();
    let body = dev.submission(&tampered, Decision::Approve, None, now);
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "statement_mismatch").await;
    // Another binding message or nonce: the same.
    let mut tampered = req.clone();
    tampered.binding_message = "PAY-XXXX".into();
    let body = dev.submission(&tampered, Decision::Approve, None, now);
    expect_err(dev.submit(&server, &req.id, &body).await, 400, "statement_mismatch").await;
    // Same content, other display schemas: its own error with the current hashes.
    let theirs: std::collections::BTreeMap<String, SchemaHash> =
        req.authorization_details.types().map(|t| (t.to_owned(), SchemaHash::digest(b"old schema"))).collect();
    let st = ApprovalStatement::build(req, Decision::Approve, theirs.clone()).unwrap();
    let claims = DecisionClaims::new(dev.id.clone(), &st, None, now).unwrap();
    let body =
        DecisionSubmission { decision_jws: claims.sign(&dev.key).unwrap(), display_schemas: theirs, webauthn: None };
    let err = expect_err(dev.submit(&server, &req.id, &body).await, 409, "display_schema_mismatch").await;
    let published = dev.registry.schema_hash("payment_initiation");
    assert_ne!(published, SchemaHash::of_no_schema());
    assert_eq!(err["display_schemas"]["payment_initiation"], published.as_str());
    // A device that rendered without the schema is told the same.
    let none: std::collections::BTreeMap<String, SchemaHash> =
        req.authorization_details.types().map(|t| (t.to_owned(), SchemaHash::of_no_schema())).collect();
    let st = ApprovalStatement::build(req, Decision::Approve, none.clone()).unwrap();
    let claims = DecisionClaims::new(dev.id.clone(), &st, None, now).unwrap();
    let body =
        DecisionSubmission { decision_jws: claims.sign(&dev.key).unwrap(), display_schemas: none, webauthn: None };
    let err = expect_err(dev.submit(&server, &req.id, &body).await, 409, "display_schema_mismatch").await;
    assert_eq!(err["display_schemas"]["payment_initiation"], published.as_str());

    // Nothing above was recorded.
    assert_eq!(dev.pending(&server).await.len(), 2);

    // First valid decision wins; an identical resubmission (even re-signed)
    // gets the same answer; a different one gets 409.
    let first = dev.submission(req, Decision::Deny, Some(DenyReason::NotMe), now);
    let r1: Value = dev.submit(&server, &req.id, &first).await.json().await.unwrap();
    assert_eq!(r1["status"], "denied");
    let r2: Value = dev.submit(&server, &req.id, &first).await.json().await.unwrap();
    assert_eq!(r2, r1);
    server.clock.advance(2);
    let resigned = dev.submission(req, Decision::Deny, Some(DenyReason::NotMe), server.state.now());
    let r3: Value = dev.submit(&server, &req.id, &resigned).await.json().await.unwrap();
    assert_eq!(r3, r1);
    let err = expect_err(dev.decide(&server, req, Decision::Approve, None).await, 409, "decision_conflict").await;
    assert_eq!(err["status"], "denied");
    let other_reason = dev.submission(req, Decision::Deny, Some(DenyReason::Other), server.state.now());
    expect_err(dev.submit(&server, &req.id, &other_reason).await, 409, "decision_conflict").await;
    expect_err(dev2.decide(&server, req, Decision::Deny, Some(DenyReason::NotMe)).await, 409, "decision_conflict")
        .await;

    // Late: at expires_at the request is expired, never recorded.
    server.clock.advance(req_b.expires_at - server.state.now());
    let err = expect_err(dev.decide(&server, req_b, Decision::Approve, None).await, 410, "request_expired").await;
    assert_eq!(err["status"], "expired");

    // A proof's jti is single use across endpoints too.
    let url = format!("{}/requests/{}", dev.endpoint, req.id);
    let proof = dev.proof(HttpMethod::Get, &url, server.state.now());
    let h = http();
    let ok = h.get(&url).header("Authorization", format!("Device {proof}")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let again = h.get(&url).header("Authorization", format!("Device {proof}")).send().await.unwrap();
    expect_err(again, 401, "invalid_token").await;
    server.stop().await;
}
