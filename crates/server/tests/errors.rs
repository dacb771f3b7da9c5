//! Error answers say what was wrong, in words that are true, and never echo
//! unbounded input: a quoted name or value is a short escaped prefix with
//! its length. On a real server, on a real socket.

mod common;

use common::*;
use serde_json::{json, Value};

/// The error description of a refused request, checked to be bounded and in
/// RFC 6749 §5.2's characters.
async fn description(resp: reqwest::Response, status: u16, code: &str) -> String {
    let text = resp.text().await.unwrap();
    assert!(text.len() < 2_000, "{} bytes answered", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], code, "{body}");
    let d = body["error_description"].as_str().unwrap().to_owned();
    assert!(d.chars().all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\'), "{d}");
    let _ = status;
    d
}

async fn refused_details(agent: &Agent, server: &countersign_server::testing::TestServer, raw: &str) -> String {
    let params = with(agent.request_params("eli"), "authorization_details", raw);
    let resp = agent.bc_authorize(server, &params).await;
    assert_eq!(resp.status(), 400);
    description(resp, 400, "invalid_authorization_details").await
}

#[tokio::test]
async fn long_member_names_are_quoted_as_a_short_prefix_with_their_length() {
    let (server, agent) = user_and_agent(server_with(|c| c.max_body_bytes = 512 * 1024).await, "eli").await;
    for n in [8_193, 100_000] {
        let key = "k".repeat(n);
        let mut detail = details()[0].clone();
        detail[&key] = json!(1);
        detail["creditorName"] = json!("Bob");
        let raw = format!(r#"[{{"type":"payment_initiation","{key}":1,"{key}":2}}]"#);
        let d = refused_details(&agent, &server, &raw).await;
        assert!(d.contains(&format!("({n} characters)")), "{d}");
        assert!(d.starts_with("authorization_details is refused: duplicate key 'kkkk"), "{d}");
        // A schema violation naming the member (not described, closed schema).
        // A violation naming the member: its path (`/` and the name) quoted.
        let d = refused_details(&agent, &server, &json!([detail]).to_string()).await;
        assert!(d.contains(&format!("({} characters)", n + 1)) && d.len() < 1_100, "{d}");
    }
    server.stop().await;
}

#[tokio::test]
async fn refused_json_is_described_as_refused_and_numbers_as_sent() {
    let (server, agent) = user_and_agent(server().await, "eli").await;
    let d = refused_details(&agent, &server, r#"[{"type":"payment_initiation","n":9007199254740993.0}]"#).await;
    assert_eq!(d, "authorization_details is refused: number 9007199254740993.0 at '/0/n' is beyond +/-(2^53-1)");
    let d = refused_details(&agent, &server, r#"[{"type":"payment_initiation","type":"x"}]"#).await;
    assert_eq!(d, "authorization_details is refused: duplicate key 'type' at '/0/type'");
    let deep = format!(r#"[{{"type":"payment_initiation","n":{}0{}}}]"#, "[".repeat(80), "]".repeat(80));
    let d = refused_details(&agent, &server, &deep).await;
    assert!(d.starts_with("authorization_details is refused: nesting deeper than 64 levels at '/0/n/0/"), "{d}");
    let d = refused_details(&agent, &server, r#"[{"type":"payment_initiation""#).await;
    assert!(d.starts_with("authorization_details is not valid JSON: invalid JSON at line 1"), "{d}");
    // A hidden character in a quoted name stays visible, as its code point.
    let d = refused_details(&agent, &server, r#"[{"type":"payment_initiation","a\u202eb":1,"a\u202eb":2}]"#).await;
    assert!(d.contains("a<U+202E>b"), "{d}");
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_told_the_limit_and_its_size() {
    let (server, agent) = user_and_agent(server().await, "eli").await;
    let big = "x".repeat(70_000);
    let params = with(agent.request_params("eli"), "binding_message", &big);
    let resp = agent.bc_authorize(&server, &params).await;
    assert_eq!(resp.status(), 413);
    let d = description(resp, 413, "invalid_request").await;
    assert!(d.starts_with("request body too large: this server accepts at most 65536 bytes, this one has 7"), "{d}");
    // The device channel says the same.
    let dev = TestDevice::enroll(&server, "eli").await;
    let url = format!("{}/enroll-preview", dev.endpoint);
    let resp = dev.http.post(url).header("content-type", "application/json").body(big).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("at most 65536 bytes"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn other_echoes_of_input_are_bounded_too() {
    let (server, agent) = user_and_agent(server().await, "eli").await;
    let long = "g".repeat(20_000);
    let resp =
        agent.post("/token", &[("grant_type", long.clone()), ("auth_req_id", "x".into())], server.state.now()).await;
    let d = description(resp, 400, "unsupported_grant_type").await;
    assert!(d.contains("(20000 characters)"), "{d}");
    let http = http();
    let meta = json!({"backchannel_token_delivery_mode": "poll", "redirect_uris": [format!("{long} x")]});
    let resp = http.post(server.url("/register")).json(&meta).send().await.unwrap();
    let d = description(resp, 400, "invalid_redirect_uri").await;
    assert!(d.contains("(20002 characters)"), "{d}");
    let meta = json!({"backchannel_token_delivery_mode": "poll", "authorization_details_types": [long]});
    let resp = http.post(server.url("/register")).json(&meta).send().await.unwrap();
    let d = description(resp, 400, "invalid_client_metadata").await;
    assert!(d.contains("(20000 characters)"), "{d}");
    // The device channel quotes serde's messages (an unknown member) bounded.
    let dev = TestDevice::enroll(&server, "eli").await;
    agent.start(&server, "eli").await;
    let req = dev.pending(&server).await.remove(0);
    let mut body = serde_json::to_value(dev.submission(
        &req,
        countersign_protocol::device::Decision::Approve,
        None,
        server.state.now(),
    ))
    .unwrap();
    body[&long] = json!(1);
    let resp = dev.submit(&server, &req.id, &body).await;
    let text = resp.text().await.unwrap();
    assert!(text.len() < 2_000, "{} bytes", text.len());
    assert!(text.contains("invalid_request"), "{text}");
    server.stop().await;
}
