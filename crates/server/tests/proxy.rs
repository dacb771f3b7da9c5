//! Outbound requests never go through a proxy named in the environment: a
//! proxy would resolve and connect where the server's resolver cannot check
//! (its own binary, since the environment is process-wide).

mod common;

use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[tokio::test]
async fn outbound_requests_ignore_proxy_variables() {
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = proxy.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    // Set before any HTTP client of this process is built; the test's own
    // clients reach the server directly (NO_PROXY).
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"] {
        std::env::set_var(name, &proxy_url);
    }
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    std::env::set_var("no_proxy", "127.0.0.1,localhost");

    let server = server_with(|c| c.limits.user_per_minute = 0).await;
    add_user(&server, "pat").await;
    let agent = Agent::register(
        &server,
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://jwks.agent.test/keys"}),
    )
    .await;
    let resp = agent.bc_authorize(&server, &agent.request_params("pat")).await;
    expect_err(resp, 401, "invalid_client").await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the jwks_uri fetch went through the proxy");
    server.stop().await;
}
