//! A replayed token response is logged at info with the request id only,
//! and neither it nor the stored ciphertext's failures put a secret in the
//! logs. Its own test binary: the subscriber is the process-wide default.

mod common;

use common::*;
use countersign_protocol::device::Decision;
use serde_json::Value;

#[tokio::test]
async fn a_replay_is_logged_with_the_request_id_only() {
    let buf = capture_logs();

    let (server, dev, agent) = user_device_and_agent(server().await, "rae").await;
    let ack = agent.start(&server, "rae").await;
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    let first = agent.token(&server, &auth_req_id).await.bytes().await.unwrap();
    let again = agent.token(&server, &auth_req_id).await.bytes().await.unwrap();
    assert_eq!(first, again);
    // A stored response that does not open is logged too (without it).
    let sealed: String = sqlx::query_scalar("SELECT token_response FROM auth_requests WHERE request_id = $1")
        .bind(req.id.as_str())
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    sqlx::query("UPDATE auth_requests SET token_response = $1 WHERE request_id = $2")
        // Another first character, whatever it was (altered ciphertext).
        .bind(format!("{}{}", if sealed.starts_with('A') { 'B' } else { 'A' }, &sealed[1..]))
        .bind(req.id.as_str())
        .execute(&server.state.db)
        .await
        .unwrap();
    expect_err(agent.token(&server, &auth_req_id).await, 400, "invalid_grant").await;
    server.stop().await;

    let logs = buf.text();
    let replayed: Vec<&str> = logs.lines().filter(|l| l.contains("token response replayed")).collect();
    assert_eq!(replayed.len(), 1, "{logs}");
    let line = replayed[0];
    assert!(line.contains(" INFO "), "{line}");
    let fields = line.split("token response replayed").nth(1).unwrap_or_default();
    assert!(fields.contains(&format!("request_id={}", req.id.as_str())), "{line}");
    assert_eq!(fields.matches('=').count(), 1, "the request id and nothing else: {line}");
    assert!(logs.contains("does not decrypt"), "{logs}");

    let tok: Value = serde_json::from_slice(&first).unwrap();
    let secrets = [
        agent.secret.clone().unwrap(),
        auth_req_id,
        tok["access_token"].as_str().unwrap().to_owned(),
        tok["id_token"].as_str().unwrap().to_owned(),
        sealed,
    ];
    assert_no_secret(&logs, &secrets);
}
