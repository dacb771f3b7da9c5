//! The sweeper's pruning: what is past its keeping goes, nothing newer, and
//! it writes in the database's write turn (on SQLite, a statement outside it
//! held the write lock behind the request writer's back).

mod common;

use common::*;
use countersign_server::Clock as _;
use std::time::Duration;

const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;

/// Adds an event of `sub` created at `created_at`; returns its `seq`.
async fn event(server: &countersign_server::testing::TestServer, sub: &str, created_at: u64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO events (sub, kind, data, created_at) VALUES ($1, 'request', '{}', $2) RETURNING seq",
    )
    .bind(sub)
    .bind(i64::try_from(created_at).unwrap())
    .fetch_one(&server.state.db)
    .await
    .unwrap()
}

async fn events_left(server: &countersign_server::testing::TestServer) -> Vec<i64> {
    sqlx::query_scalar("SELECT seq FROM events ORDER BY seq").fetch_all(&server.state.db).await.unwrap()
}

// Events are kept a week. They are found in `seq` order, and an event
// created before one ahead of it in that order (its transaction read the
// clock first, another committed first) stays until the ones ahead of it
// go; nothing younger than a week is deleted. Used `jti`s go with them, in
// the same pass.
#[tokio::test]
async fn the_sweeper_deletes_what_is_past_its_keeping_and_nothing_newer() {
    let server = server_with(|c| c.sweep_interval = Duration::from_secs(3600)).await;
    let now = server.clock.now();
    let old_a = event(&server, "u1", now - WEEK - DAY).await;
    let old_b = event(&server, "u2", now - WEEK - 1).await;
    let young = event(&server, "u1", now - WEEK + 60).await;
    let old_behind = event(&server, "u2", now - WEEK - 30).await;
    let today = event(&server, "u1", now).await;
    for (jti, exp) in [("spent", now - 1), ("live", now + 60)] {
        sqlx::query("INSERT INTO device_jtis (device_id, jti, exp) VALUES ('dev', $1, $2)")
            .bind(jti)
            .bind(i64::try_from(exp).unwrap())
            .execute(&server.state.db)
            .await
            .unwrap();
    }

    countersign_server::testing::sweep_once(&server.state).await.unwrap();
    assert_eq!(events_left(&server).await, [young, old_behind, today], "{old_a} and {old_b} deleted");
    let jtis: Vec<String> =
        sqlx::query_scalar("SELECT jti FROM device_jtis").fetch_all(&server.state.db).await.unwrap();
    assert_eq!(jtis, ["live"]);

    // The young one past a week too: it and the one behind it go.
    server.clock.advance(120);
    countersign_server::testing::sweep_once(&server.state).await.unwrap();
    assert_eq!(events_left(&server).await, [today]);

    // All of them old: all go (no younger event to stop at).
    server.clock.advance(WEEK);
    countersign_server::testing::sweep_once(&server.state).await.unwrap();
    assert_eq!(events_left(&server).await, Vec::<i64>::new());
    // An empty log: nothing to do, no error; `seq` goes on from where it was.
    countersign_server::testing::sweep_once(&server.state).await.unwrap();
    assert!(event(&server, "u1", server.clock.now()).await > today);
    server.stop().await;
}

// The pruning waits for the write turn, as every writer of the database
// does: the turn alone is held, without a transaction (which SQLite's own
// lock would make anything wait for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_prunes_in_the_write_turn() {
    let server = server_with(|c| c.sweep_interval = Duration::from_secs(3600)).await;
    let now = server.clock.now();
    let old = event(&server, "u1", now - WEEK - DAY).await;
    let held = countersign_server::testing::hold_write_turn(&server.state.db).await;
    let state = server.state.clone();
    let mut sweep = tokio::spawn(async move { countersign_server::testing::sweep_once(&state).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut sweep).await.is_err(),
        "the sweep wrote while the turn was held"
    );
    assert_eq!(events_left(&server).await, [old]);
    drop(held);
    sweep.await.unwrap().unwrap();
    assert_eq!(events_left(&server).await, Vec::<i64>::new());
    server.stop().await;
}
