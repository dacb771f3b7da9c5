//! Notices to administrators (`docs/protocol.md` §6 `admin_notice`): an
//! event for every user with the `admin` role, appended in the transaction
//! of what it tells, so a notice is sent exactly when that is recorded.

use countersign_protocol::device::{AdminNotice, EventKind};
use sqlx::AnyConnection;

use crate::error::Internal;
use crate::state::AppState;
use crate::store::dialect::Dialect;

/// The administrators among the users: the partial index `users_admins`
/// (migration 0011) holds only them, and the JSON test then checks the
/// role exactly.
fn admins_sql(dialect: Dialect) -> String {
    format!(
        "SELECT sub FROM users WHERE roles LIKE '%\"admin\"%' AND disabled = 0 AND {}",
        dialect.json_array_has_text("users.roles", "$1")
    )
}

/// The subs of the enabled administrators, read from the index of
/// administrators (not every user).
async fn admins(conn: &mut AnyConnection) -> Result<Vec<String>, Internal> {
    let sql = admins_sql(Dialect::of_conn(conn));
    Ok(sqlx::query_scalar(&sql).bind(super::ADMIN_ROLE).fetch_all(conn).await?)
}

/// Appends `notice` for every administrator; `exclude_device` (the device
/// that did it) is not sent it. Returns the administrators, to wake after
/// the commit.
///
/// # Errors
/// The database failed.
pub async fn append(
    conn: &mut AnyConnection,
    notice: &AdminNotice,
    exclude_device: Option<&str>,
    now: u64,
) -> Result<Vec<String>, Internal> {
    let subs = admins(conn).await?;
    let data = serde_json::to_string(notice)?;
    for sub in &subs {
        crate::device::events::append(conn, sub, &EventKind::AdminNotice, None, &data, exclude_device, now).await?;
    }
    Ok(subs)
}

/// Wakes the administrators' streams (after a commit that appended a
/// notice in a function that does not return them).
pub async fn wake_admins(state: &AppState) {
    let subs = match state.db.acquire().await {
        Ok(mut conn) => admins(&mut conn).await,
        Err(e) => Err(Internal::from(e)),
    };
    match subs {
        Ok(subs) => subs.iter().for_each(|sub| state.hub.notify(sub)),
        // The streams still see the notice at their next wake or reconnect.
        Err(e) => tracing::warn!("waking the administrators' streams: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row as _;

    // The administrators are read from their partial index, not by reading
    // every user (the query runs under the write turn of a decision).
    #[tokio::test]
    async fn the_administrators_are_read_from_their_index() {
        let dir = tempfile::tempdir().expect("dir");
        let db = crate::store::open(&dir.path().join("admins.db")).await.expect("open");
        let rows =
            sqlx::query(&format!("EXPLAIN QUERY PLAN {}", super::admins_sql(crate::store::dialect::Dialect::Sqlite)))
                .bind(super::super::ADMIN_ROLE)
                .fetch_all(&db)
                .await
                .expect("plan");
        let plan: Vec<String> = rows.iter().map(|r| r.try_get::<String, _>("detail").expect("detail")).collect();
        // A scan of the partial index reads the administrators only.
        assert!(plan.iter().any(|d| d == "SCAN users USING INDEX users_admins"), "{plan:?}");
        assert!(!plan.iter().any(|d| d == "SCAN users"), "{plan:?}");
    }
}
