//! Clients that hang up in the middle of their requests (a load generator
//! ending its run, an agent killed, a network reset) leave the server whole:
//! the next writer is served at once. On a real server, on a real socket.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// `POST /bc-authorize` for `eli` as raw HTTP/1.1 bytes.
fn raw_request(server: &countersign_server::testing::TestServer, agent: &Agent, n: usize) -> Vec<u8> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("client_id", &agent.client_id);
    form.append_pair("client_secret", agent.secret.as_deref().unwrap());
    for (name, value) in with(agent.request_params("eli"), "binding_message", &format!("HANGUP-{n}")) {
        form.append_pair(name, &value);
    }
    let body = form.finish();
    format!(
        "POST /bc-authorize HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_hanging_up_mid_request_leave_the_database_writable() {
    let server = server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
        c.limits.unverified_user_client_per_minute = 0;
        c.limits.max_pending_per_user = 0;
        c.limits.max_pending_unverified_per_user = 0;
    })
    .await;
    add_user(&server, "eli").await;
    let agent = Agent::register(&server, json!({ "token_endpoint_auth_method": "client_secret_post" })).await;

    // Each connection is reset (linger 0) at a different point of its
    // request's handling: before, during and after its transaction begins.
    for n in 0..300 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(&raw_request(&server, &agent, n)).await.unwrap();
        tokio::time::sleep(Duration::from_micros(u64::try_from(n % 40).unwrap() * 50)).await;
        stream.set_zero_linger().unwrap();
        drop(stream);
    }

    // Well inside the 10 s a writer waits for a lock held elsewhere.
    for n in 0..5 {
        let params = with(agent.request_params("eli"), "binding_message", &format!("AFTER-{n}"));
        let resp = tokio::time::timeout(Duration::from_secs(3), agent.bc_authorize(&server, &params))
            .await
            .expect("served in time after the hang-ups");
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
}
