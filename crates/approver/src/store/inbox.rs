//! `inbox`: requests as received and their local status.

use super::{from_ts, ts, Store};
use crate::error::{Error, Result};
use countersign_protocol::device::ApproverRequest;
use serde::Serialize;
use sqlx::Row as _;
use std::fmt;

/// Where a request stands on this approver.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalStatus {
    /// Awaiting the user's decision.
    Pending,
    /// Decided here; the decision is in the outbox.
    Sending,
    /// Approval delivered and accepted.
    Approved,
    /// Denial delivered and accepted.
    Denied,
    /// Expired before a decision reached the server.
    Expired,
    /// Cancelled by the agent or an admin.
    Cancelled,
    /// Decided on another device of the user.
    DecidedElsewhere,
    /// Withdrawn for another reason.
    Withdrawn,
    /// The server had already recorded a different decision.
    Conflict,
    /// The server refused the decision for good.
    Rejected,
}

impl LocalStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LocalStatus::Pending => "pending",
            LocalStatus::Sending => "sending",
            LocalStatus::Approved => "approved",
            LocalStatus::Denied => "denied",
            LocalStatus::Expired => "expired",
            LocalStatus::Cancelled => "cancelled",
            LocalStatus::DecidedElsewhere => "decided_elsewhere",
            LocalStatus::Withdrawn => "withdrawn",
            LocalStatus::Conflict => "conflict",
            LocalStatus::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => LocalStatus::Pending,
            "sending" => LocalStatus::Sending,
            "approved" => LocalStatus::Approved,
            "denied" => LocalStatus::Denied,
            "expired" => LocalStatus::Expired,
            "cancelled" => LocalStatus::Cancelled,
            "decided_elsewhere" => LocalStatus::DecidedElsewhere,
            "withdrawn" => LocalStatus::Withdrawn,
            "conflict" => LocalStatus::Conflict,
            "rejected" => LocalStatus::Rejected,
            _ => return None,
        })
    }
}

impl fmt::Display for LocalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored request.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxItem {
    /// The account it came for.
    pub account_id: String,
    /// The request, parsed from [`InboxItem::request_json`].
    pub request: ApproverRequest,
    /// The request object exactly as the server sent it.
    #[serde(skip)]
    pub request_json: String,
    /// Local status.
    pub status: LocalStatus,
    /// Why, when the status says little (server error, withdraw reason).
    pub status_reason: Option<String>,
    /// When it was first received.
    pub received_at: u64,
    /// Last status change.
    pub updated_at: u64,
}

/// The recorded `shown_schemas` of the pending requests among `$1`, a JSON
/// array of `[account_id, request_id]` pairs. `CROSS JOIN` keeps the pairs
/// the outer loop (SQLite's planner otherwise picks the status index and
/// reads every pending row), each row sought by its primary key.
const SHOWN_OF_KEYS: &str = "SELECT i.account_id, i.request_id, i.shown_schemas FROM json_each($1) AS k \
     CROSS JOIN inbox AS i ON i.account_id = json_extract(k.value, '$[0]') \
     AND i.request_id = json_extract(k.value, '$[1]') WHERE i.status = 'pending'";

const COLUMNS: &str = "account_id, request_id, request_json, status, status_reason, received_at, updated_at";

pub(crate) fn parse_request(json: &str) -> Result<ApproverRequest> {
    let value = countersign_protocol::jcs::parse_strict(json).map_err(|e| Error::Store(format!("request: {e}")))?;
    serde_json::from_value(value).map_err(|e| Error::Store(format!("request: {e}")))
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<InboxItem> {
    let json: String = row.try_get("request_json")?;
    let status: String = row.try_get("status")?;
    Ok(InboxItem {
        account_id: row.try_get("account_id")?,
        request: parse_request(&json)?,
        request_json: json,
        status: LocalStatus::parse(&status).ok_or_else(|| Error::Store(format!("unknown status {status:?}")))?,
        status_reason: row.try_get("status_reason")?,
        received_at: from_ts(row.try_get("received_at")?),
        updated_at: from_ts(row.try_get("updated_at")?),
    })
}

impl Store {
    /// Stores requests not seen before (one transaction); a request already
    /// stored is never replaced, so what was shown stays what is signed.
    /// Returns the newly stored ones.
    ///
    /// # Errors
    /// The database failed.
    pub async fn insert_requests(
        &self,
        account_id: &str,
        requests: Vec<(ApproverRequest, String)>,
        now: u64,
    ) -> Result<Vec<InboxItem>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let mut new = Vec::new();
        for (request, json) in requests {
            let done = sqlx::query(
                "INSERT INTO inbox (account_id, request_id, request_json, status, expires_at, received_at, updated_at) \
                 VALUES ($1, $2, $3, 'pending', $4, $5, $5) ON CONFLICT (account_id, request_id) DO NOTHING",
            )
            .bind(account_id)
            .bind(request.id.as_str())
            .bind(&json)
            .bind(ts(request.expires_at))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                new.push(InboxItem {
                    account_id: account_id.to_owned(),
                    request,
                    request_json: json,
                    status: LocalStatus::Pending,
                    status_reason: None,
                    received_at: now,
                    updated_at: now,
                });
            }
        }
        tx.commit().await?;
        Ok(new)
    }

    /// One stored request.
    ///
    /// # Errors
    /// The database failed.
    pub async fn inbox_item(&self, account_id: &str, request_id: &str) -> Result<Option<InboxItem>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM inbox WHERE account_id = $1 AND request_id = $2"))
            .bind(account_id)
            .bind(request_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The stored requests with this id, in any account.
    ///
    /// # Errors
    /// The database failed.
    pub async fn find_requests(&self, request_id: &str) -> Result<Vec<InboxItem>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM inbox WHERE request_id = $1 ORDER BY rowid"))
            .bind(request_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Stored requests with one of `statuses` (all when empty), oldest first
    /// (by `created_at`, then by arrival).
    ///
    /// # Errors
    /// The database failed.
    pub async fn inbox(&self, statuses: &[LocalStatus]) -> Result<Vec<InboxItem>> {
        // Filtered here, not after parsing: the history of decided requests
        // grows without bound and the inbox reads only the pending ones.
        let filter = if statuses.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = (1..=statuses.len()).map(|i| format!("${i}")).collect();
            format!("WHERE status IN ({})", list.join(", "))
        };
        let sql = format!("SELECT {COLUMNS} FROM inbox {filter} ORDER BY rowid");
        let mut query = sqlx::query(&sql);
        for status in statuses {
            query = query.bind(status.as_str());
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut items: Vec<InboxItem> = rows.iter().map(from_row).collect::<Result<_>>()?;
        // Oldest first by the server's creation time; arrival order on ties.
        items.sort_by_key(|i| i.request.created_at);
        Ok(items)
    }

    /// The newest `limit` pending requests, newest first: the order of
    /// [`Store::inbox`] reversed (by `created_at`, then by arrival), read
    /// without parsing the others (a first screen of a long inbox).
    ///
    /// # Errors
    /// The database failed.
    pub async fn newest_pending(&self, limit: usize) -> Result<Vec<InboxItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM inbox WHERE status = 'pending' \
             ORDER BY json_extract(request_json, '$.created_at') DESC, rowid DESC LIMIT $1"
        ))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// How many requests are pending (the tray's count), without reading them.
    ///
    /// # Errors
    /// The database failed.
    pub async fn pending_count(&self) -> Result<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE status = 'pending'").fetch_one(self.pool()).await?;
        Ok(from_ts(n))
    }

    /// Number of stored requests per account (for tests and benchmarks).
    ///
    /// # Errors
    /// The database failed.
    pub async fn inbox_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox").fetch_one(self.pool()).await?;
        Ok(from_ts(n))
    }

    /// The earliest `expires_at` of a pending request.
    ///
    /// # Errors
    /// The database failed.
    pub async fn next_pending_expiry(&self) -> Result<Option<u64>> {
        let t: Option<i64> = sqlx::query_scalar("SELECT MIN(expires_at) FROM inbox WHERE status = 'pending'")
            .fetch_one(self.pool())
            .await?;
        Ok(t.map(from_ts))
    }

    /// Moves a request from one of `from` to `to` (one transaction).
    /// Returns whether it moved.
    ///
    /// # Errors
    /// The database failed.
    pub async fn set_status(
        &self,
        account_id: &str,
        request_id: &str,
        from: &[LocalStatus],
        to: LocalStatus,
        reason: Option<&str>,
        now: u64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT status FROM inbox WHERE account_id = $1 AND request_id = $2")
                .bind(account_id)
                .bind(request_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current.and_then(|s| LocalStatus::parse(&s)) else {
            return Ok(false);
        };
        if !from.contains(&current) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE inbox SET status = $1, status_reason = $2, updated_at = $3 \
             WHERE account_id = $4 AND request_id = $5",
        )
        .bind(to.as_str())
        .bind(reason)
        .bind(ts(now))
        .bind(account_id)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The `display_schemas` (JSON object) of the rendering last shown for a
    /// request, if it was shown through [`crate::Approver::view`] or
    /// [`crate::Approver::inbox_views`].
    ///
    /// # Errors
    /// The database failed.
    pub async fn shown_schemas(&self, account_id: &str, request_id: &str) -> Result<Option<String>> {
        let shown: Option<Option<String>> =
            sqlx::query_scalar("SELECT shown_schemas FROM inbox WHERE account_id = $1 AND request_id = $2")
                .bind(account_id)
                .bind(request_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(shown.flatten())
    }

    /// Records the `display_schemas` of the renderings shown for pending
    /// requests (account id, request id, schemas): what is not already
    /// recorded is written in one transaction, not one each (a first listing
    /// of a long inbox); the others, and requests no longer pending, are left
    /// as they are.
    ///
    /// # Errors
    /// The database failed; then none is recorded.
    pub async fn set_shown_schemas(&self, shown: &[(&str, &str, String)]) -> Result<()> {
        if shown.is_empty() {
            return Ok(());
        }
        // Only the listed rows, by primary key (a first screen lists a dozen
        // of perhaps thousands), in one statement.
        let keys: Vec<[&str; 2]> = shown.iter().map(|(account, request, _)| [*account, *request]).collect();
        let keys = serde_json::to_string(&keys).map_err(|e| Error::Store(format!("shown schemas: {e}")))?;
        let recorded: Vec<(String, String, Option<String>)> =
            sqlx::query_as(SHOWN_OF_KEYS).bind(keys).fetch_all(self.pool()).await?;
        let recorded: std::collections::HashMap<(&str, &str), Option<&str>> =
            recorded.iter().map(|(a, r, s)| ((a.as_str(), r.as_str()), s.as_deref())).collect();
        let changed: Vec<_> = shown
            .iter()
            .filter(|(account, request, json)| {
                // Only pending requests are recorded (the UPDATE's condition too).
                recorded.get(&(*account, *request)).is_some_and(|now| *now != Some(json.as_str()))
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (account, request, json) in changed {
            sqlx::query(
                "UPDATE inbox SET shown_schemas = $1 WHERE account_id = $2 AND request_id = $3 AND status = 'pending'",
            )
            .bind(json)
            .bind(account)
            .bind(request)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks pending requests whose `expires_at` has passed as expired (one
    /// transaction). Returns `(account_id, request_id)` of each.
    ///
    /// # Errors
    /// The database failed.
    pub async fn expire_pending(&self, now: u64) -> Result<Vec<(String, String)>> {
        // Read first: most calls find nothing to expire and then take no
        // write turn (every inbox read calls this; a sync may be writing).
        let due: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM inbox WHERE status = 'pending' AND expires_at <= $1 LIMIT 1")
                .bind(ts(now))
                .fetch_optional(self.pool())
                .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT account_id, request_id FROM inbox WHERE status = 'pending' AND expires_at <= $1")
                .bind(ts(now))
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE inbox SET status = 'expired', updated_at = $1 WHERE status = 'pending' AND expires_at <= $1",
        )
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Account;
    use countersign_protocol::device::{DeviceId, EnrolledUser, Issuer, Role};
    use countersign_protocol::jws::DeviceKeyPair;

    /// The example request with another id, `created_at` and `expires_at`,
    /// and its JSON text as stored.
    fn request(id: &str, created_at: u64, expires_at: u64) -> (ApproverRequest, String) {
        let text = include_str!("../../../protocol/testdata/device/examples/approver-request.json");
        let mut value = countersign_protocol::jcs::parse_strict(text).unwrap();
        value["id"] = id.into();
        value["created_at"] = created_at.into();
        value["expires_at"] = expires_at.into();
        let json = serde_json::to_string(&value).unwrap();
        (parse_request(&json).unwrap(), json)
    }

    async fn store_with_account(dir: &std::path::Path) -> Store {
        let store = Store::open(&dir.join("approver.db")).await.unwrap();
        let key = DeviceKeyPair::generate().unwrap();
        store
            .insert_account(&Account {
                id: "acct".into(),
                issuer: Issuer::new("https://auth.example.com").unwrap(),
                device_endpoint: "https://auth.example.com/device/v1".into(),
                device_id: DeviceId::new("dev_1").unwrap(),
                user: EnrolledUser { sub: "u_1001".into(), name: "Zoë".into(), roles: vec![Role::User] },
                poll_interval: 30,
                key_store: crate::keys::KeyStoreKind::Memory,
                public_jwk: key.public_jwk().clone(),
                last_event_id: None,
                created_at: 0,
            })
            .await
            .unwrap();
        store
    }

    fn ids(items: &[InboxItem]) -> Vec<&str> {
        items.iter().map(|i| i.request.id.as_str()).collect()
    }

    #[tokio::test]
    async fn the_newest_pending_are_the_inbox_reversed_read_by_status_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_account(dir.path()).await;
        // Arrival order differs from creation order; b and c were created in
        // the same second (arrival decides between them).
        let requests = vec![
            request("req_b", 200, 10_000),
            request("req_a", 100, 10_000),
            request("req_c", 200, 10_000),
            request("req_d", 300, 10_000),
            request("req_e", 400, 10_000),
        ];
        store.insert_requests("acct", requests, 50).await.unwrap();
        assert!(store
            .set_status("acct", "req_e", &[LocalStatus::Pending], LocalStatus::Approved, None, 60)
            .await
            .unwrap());

        let pending = store.inbox(&[LocalStatus::Pending]).await.unwrap();
        assert_eq!(ids(&pending), ["req_a", "req_b", "req_c", "req_d"]);
        assert_eq!(ids(&store.inbox(&[LocalStatus::Approved]).await.unwrap()), ["req_e"]);
        let either = store.inbox(&[LocalStatus::Approved, LocalStatus::Pending]).await.unwrap();
        assert_eq!(ids(&either), ["req_a", "req_b", "req_c", "req_d", "req_e"]);
        assert_eq!(store.inbox(&[]).await.unwrap().len(), 5);
        assert_eq!(store.inbox(&[LocalStatus::Expired]).await.unwrap(), Vec::new());

        let reversed: Vec<&str> = ids(&pending).into_iter().rev().collect();
        for limit in 0..=5 {
            let newest = store.newest_pending(limit).await.unwrap();
            assert_eq!(ids(&newest), reversed[..limit.min(4)], "limit {limit}");
        }
        // Whole items, as the full read gives them.
        assert_eq!(store.newest_pending(1).await.unwrap()[0], pending[3]);
        assert_eq!(store.pending_count().await.unwrap(), 4);

        // Shown schemas of a list, recorded for the pending ones only.
        let shown = |r: &'static str, s: &str| ("acct", r, s.to_owned());
        store.set_shown_schemas(&[shown("req_a", "{\"x\":\"1\"}"), shown("req_e", "{}")]).await.unwrap();
        assert_eq!(store.shown_schemas("acct", "req_a").await.unwrap().as_deref(), Some("{\"x\":\"1\"}"));
        assert_eq!(store.shown_schemas("acct", "req_e").await.unwrap(), None, "a decided request is not re-recorded");
        store
            .set_shown_schemas(&[shown("req_a", "{\"x\":\"2\"}"), shown("req_b", "{}"), shown("req_nope", "{}")])
            .await
            .unwrap();
        assert_eq!(store.shown_schemas("acct", "req_a").await.unwrap().as_deref(), Some("{\"x\":\"2\"}"));
        assert_eq!(store.shown_schemas("acct", "req_b").await.unwrap().as_deref(), Some("{}"));
        assert_eq!(store.shown_schemas("acct", "req_c").await.unwrap(), None);

        // The listed rows are sought by primary key, not scanned.
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {SHOWN_OF_KEYS}"))
            .bind("[]")
            .fetch_all(store.pool())
            .await
            .unwrap();
        let inbox_step = plan.iter().map(|p| p.3.as_str()).find(|d| d.contains(" i ")).unwrap();
        assert_eq!(
            inbox_step, "SEARCH i USING INDEX sqlite_autoindex_inbox_1 (account_id=? AND request_id=?)",
            "{plan:?}"
        );
    }

    #[tokio::test]
    async fn expiring_marks_only_the_overdue_and_finds_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_account(dir.path()).await;
        store.insert_requests("acct", vec![request("req_old", 1, 100), request("req_new", 2, 1_000)], 1).await.unwrap();
        assert_eq!(store.expire_pending(99).await.unwrap(), Vec::new());
        assert_eq!(store.expire_pending(100).await.unwrap(), vec![("acct".to_owned(), "req_old".to_owned())]);
        assert_eq!(store.expire_pending(100).await.unwrap(), Vec::new());
        assert_eq!(ids(&store.inbox(&[LocalStatus::Expired]).await.unwrap()), ["req_old"]);
        assert_eq!(store.pending_count().await.unwrap(), 1);
        assert_eq!(ids(&store.newest_pending(10).await.unwrap()), ["req_new"]);
    }
}
