//! The server's logs carry no secret. Its own test binary: the subscriber
//! is the process-wide default, so no other test's callsites interfere.

mod common;

use common::*;
use countersign_protocol::device::Decision;
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

/// The server's logs (every level of its own, SQL statements included)
/// carry no secret: client secret, ticket, auth_req_id, notification token,
/// device proof, decision, tokens.
#[tokio::test]
async fn logs_carry_no_secrets() {
    let buf = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,countersign_server=trace,sqlx=debug"))
        .with_writer(buf.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");

    let server = server().await;
    add_user(&server, "lee").await;
    let t = ticket(&server, "lee").await;
    let dev = TestDevice::enroll(&server, "lee").await;
    let rx = Receiver::start().await;
    let agent = Agent::register(
        &server,
        json!({
            "backchannel_token_delivery_mode": "ping",
            "backchannel_client_notification_endpoint": format!("{}/cb", rx.url),
            "token_endpoint_auth_method": "client_secret_post",
        }),
    )
    .await;
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

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
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
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret leaked into the logs");
    }
}
