//! What the server answered survives `kill -9` right after the answer: an
//! accepted `/bc-authorize`, a `slow_down` state and a recorded decision.
//! The real binary serves a SQLite file; each SIGKILL follows the answer at
//! once, then the binary starts again on the same file. A server that
//! answered before its write was durable (a group commit answering early, a
//! write queued after the response) would lose what it had said here.

mod common;

use common::*;
use countersign_protocol::ciba::DEFAULT_INTERVAL;
use countersign_protocol::device::{Decision, Issuer};
use countersign_server::ops;
use countersign_server::testing::new_user;
use serde_json::json;
use std::path::Path;

fn wall_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `poll_interval` and `last_poll_at` of the one request in the file, read
/// while the server is down.
async fn stored_poll_state(db: &Path) -> (i64, Option<i64>) {
    let pool = ops::open_database(db).await.expect("the database opens after the kill");
    let row: (i64, Option<i64>) = sqlx::query_as("SELECT poll_interval, last_poll_at FROM auth_requests")
        .fetch_one(&pool)
        .await
        .expect("one request");
    pool.close().await;
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_server_answered_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let mut server = ServerProcess::new(&db);
    let issuer = Issuer::new(server.base.clone()).unwrap();
    let ticket = {
        let pool = ops::open_database(&db).await.unwrap();
        ops::add_user(&pool, &new_user("dana", "Dana Kill"), &ops::Actor::Operator, wall_now()).await.unwrap();
        let link = ops::enrollment_link(&pool, &issuer, "dana", 600, wall_now()).await.unwrap();
        pool.close().await;
        link.ticket().clone()
    };
    server.start().await;
    let dev = TestDevice::enroll_at(&server.base, ticket).await;
    let agent = Agent::register_at(&server.base, json!({})).await;

    // An accepted request: killed as soon as it is answered, the request is
    // still there.
    let auth_req_id = agent.authorize(&agent.request_params("dana")).await;
    server.kill_9();
    server.start().await;
    let (status, body) = agent.poll(&auth_req_id).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("authorization_pending")), "{body}");

    // A slow_down: the interval it raised is on disk after the kill.
    let (status, body) = agent.poll(&auth_req_id).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("slow_down")), "{body}");
    server.kill_9();
    let (interval, last_poll) = stored_poll_state(&db).await;
    assert_eq!(interval, i64::try_from(DEFAULT_INTERVAL + 5).unwrap(), "the raised interval was kept");
    assert!(last_poll.is_some(), "the poll time was kept");
    server.start().await;
    assert_eq!(dev.pending(&server).await.len(), 1, "the request is pending after the restart");

    // A decision: answered 200, killed at once, the agent gets its tokens.
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(dev.decide(&server, &req, Decision::Approve, None).await.status(), 200);
    server.kill_9();
    server.start().await;
    let (status, body) = agent.poll(&auth_req_id).await;
    assert_eq!(status, 200, "the approval survived: {body}");
    assert!(body["access_token"].is_string(), "{body}");
}
