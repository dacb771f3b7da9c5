//! The server's logs carry no secret. Its own test binary: the subscriber
//! is the process-wide default, so no other test's callsites interfere.

mod common;

use common::*;
use countersign_protocol::device::Decision;
use serde_json::{json, Value};

#[tokio::test]
async fn logs_carry_no_secrets() {
    let buf = capture_logs();

    let server = server().await;
    add_user(&server, "lee").await;
    let t = ticket(&server, "lee").await;
    let dev = TestDevice::enroll(&server, "lee").await;
    let (rx, agent) =
        notified_agent(&server, "ping", json!({ "token_endpoint_auth_method": "client_secret_post" })).await;
    let ack = agent.start(&server, "lee").await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    // A failing call logs too.
    expect_err(agent.token(&server, "wrong").await, 400, "invalid_grant").await;
    let req = dev.pending(&server).await.remove(0);
    let decision = dev.submission(&req, Decision::Approve, None, server.state.now());
    assert_eq!(dev.submit(&server, &req.id, &decision).await.status(), 200);
    rx.wait_calls("/cb", 1).await;
    let tok: Value = agent.token(&server, &auth_req_id).await.json().await.unwrap();
    server.stop().await;

    let logs = buf.text();
    assert!(logs.contains("decision recorded") && logs.contains("tokens issued"), "{logs}");
    let secrets = [
        agent.secret.clone().unwrap(),
        t.secret().to_owned(),
        auth_req_id,
        "cnt-0123456789abcdefghijklmnop".to_owned(),
        decision.decision_jws.clone(),
        tok["access_token"].as_str().unwrap().to_owned(),
        tok["id_token"].as_str().unwrap().to_owned(),
    ];
    assert_no_secret(&logs, &secrets);
}
