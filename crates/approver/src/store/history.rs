//! `history` and `outbox`.

use super::{from_ts, ts, LocalStatus, Store};
use crate::error::{Error, Result};
use countersign_protocol::device::{Decision, DenyReason, StatementHash};
use serde::Serialize;
use sqlx::Row as _;

/// What became of a decision.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// In the outbox, not yet accepted by the server.
    Queued,
    /// Accepted by the server (its answer is kept).
    Delivered,
    /// The request expired before the server got the decision.
    Expired,
    /// The server had recorded a different decision.
    Conflict,
    /// The request was cancelled before the decision arrived.
    Withdrawn,
    /// The server refused the decision (its answer is kept).
    Rejected,
}

impl Delivery {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Queued => "queued",
            Delivery::Delivered => "delivered",
            Delivery::Expired => "expired",
            Delivery::Conflict => "conflict",
            Delivery::Withdrawn => "withdrawn",
            Delivery::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Delivery::Queued,
            "delivered" => Delivery::Delivered,
            "expired" => Delivery::Expired,
            "conflict" => Delivery::Conflict,
            "withdrawn" => Delivery::Withdrawn,
            "rejected" => Delivery::Rejected,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision made on this approver.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// Row id.
    pub id: i64,
    /// The account.
    pub account_id: String,
    /// The request.
    pub request_id: String,
    /// The decision.
    pub decision: Decision,
    /// Why, for a denial.
    pub deny_reason: Option<DenyReason>,
    /// The approval statement exactly as hashed (its JCS text).
    pub statement_jcs: String,
    /// Its hash.
    pub statement_hash: StatementHash,
    /// The signed decision (the receipt).
    pub decision_jws: String,
    /// When the user decided.
    pub decided_at: u64,
    /// What became of it.
    pub delivery: Delivery,
    /// HTTP status of the server's final answer.
    pub server_status: Option<u16>,
    /// The server's final answer (JSON text).
    pub server_answer: Option<String>,
    /// When the final answer came.
    pub delivered_at: Option<u64>,
}

/// A decision waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The account.
    pub account_id: String,
    /// The request.
    pub request_id: String,
    /// The history row of the decision.
    pub history_id: i64,
    /// The `DecisionSubmission` JSON to send.
    pub submission_json: String,
    /// The request's `expires_at`.
    pub expires_at: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before this time.
    pub next_attempt_at: u64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// A decision to record: see [`Store::record_decision`].
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    /// The account.
    pub account_id: &'a str,
    /// The request.
    pub request_id: &'a str,
    /// The decision.
    pub decision: Decision,
    /// Why, for a denial.
    pub deny_reason: Option<&'a DenyReason>,
    /// Statement JCS text.
    pub statement_jcs: &'a str,
    /// Statement hash.
    pub statement_hash: &'a StatementHash,
    /// The signed JWS.
    pub decision_jws: &'a str,
    /// The submission body.
    pub submission_json: &'a str,
    /// The request's expiry.
    pub expires_at: u64,
    /// Now.
    pub now: u64,
}

/// How a delivery ended: see [`Store::finish_delivery`].
#[derive(Debug, Clone)]
pub struct DeliveryEnd<'a> {
    /// What became of the decision.
    pub delivery: Delivery,
    /// The request's new local status.
    pub status: LocalStatus,
    /// Why (for the inbox).
    pub reason: Option<&'a str>,
    /// HTTP status of the answer, if any.
    pub server_status: Option<u16>,
    /// The answer body, if any.
    pub server_answer: Option<&'a str>,
    /// Records these display schemas as the ones shown for the request (JSON
    /// object), so that approving needs it to be shown again if they change.
    pub shown_schemas: Option<&'a str>,
    /// Now.
    pub now: u64,
}

const HISTORY_COLUMNS: &str = "id, account_id, request_id, decision, deny_reason, statement_jcs, statement_hash, \
                               decision_jws, decided_at, delivery, server_status, server_answer, delivered_at";
const OUTBOX_COLUMNS: &str =
    "account_id, request_id, history_id, submission_json, expires_at, attempts, next_attempt_at, last_error";

fn history_row(row: &sqlx::sqlite::SqliteRow) -> Result<HistoryEntry> {
    let bad = |what: &str| Error::Store(format!("history row: bad {what}"));
    let decision: String = row.try_get("decision")?;
    let reason: Option<String> = row.try_get("deny_reason")?;
    let delivery: String = row.try_get("delivery")?;
    let hash: String = row.try_get("statement_hash")?;
    let status: Option<i64> = row.try_get("server_status")?;
    let delivered: Option<i64> = row.try_get("delivered_at")?;
    Ok(HistoryEntry {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        request_id: row.try_get("request_id")?,
        decision: Decision::parse(&decision).ok_or_else(|| bad("decision"))?,
        deny_reason: reason.map(DenyReason::from),
        statement_jcs: row.try_get("statement_jcs")?,
        statement_hash: StatementHash::new(hash).map_err(|_| bad("statement_hash"))?,
        decision_jws: row.try_get("decision_jws")?,
        decided_at: from_ts(row.try_get("decided_at")?),
        delivery: Delivery::parse(&delivery).ok_or_else(|| bad("delivery"))?,
        server_status: status.and_then(|s| u16::try_from(s).ok()),
        server_answer: row.try_get("server_answer")?,
        delivered_at: delivered.map(from_ts),
    })
}

fn outbox_row(row: &sqlx::sqlite::SqliteRow) -> Result<OutboxEntry> {
    let attempts: i64 = row.try_get("attempts")?;
    Ok(OutboxEntry {
        account_id: row.try_get("account_id")?,
        request_id: row.try_get("request_id")?,
        history_id: row.try_get("history_id")?,
        submission_json: row.try_get("submission_json")?,
        expires_at: from_ts(row.try_get("expires_at")?),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: from_ts(row.try_get("next_attempt_at")?),
        last_error: row.try_get("last_error")?,
    })
}

impl Store {
    /// Records a decision in one transaction: the request moves from
    /// `pending` to `sending`, the history gets the signed decision, the
    /// outbox gets the submission. If the request is no longer pending,
    /// nothing is written.
    ///
    /// # Errors
    /// [`Error::NotPending`], [`Error::UnknownRequest`], the database.
    pub async fn record_decision(&self, d: &NewDecision<'_>) -> Result<HistoryEntry> {
        let mut tx = self.begin().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM inbox WHERE account_id = $1 AND request_id = $2")
                .bind(d.account_id)
                .bind(d.request_id)
                .fetch_optional(&mut *tx)
                .await?;
        let status = status.ok_or_else(|| Error::UnknownRequest(d.request_id.to_owned()))?;
        if status != LocalStatus::Pending.as_str() {
            return Err(Error::NotPending { request_id: d.request_id.to_owned(), status });
        }
        sqlx::query(
            "UPDATE inbox SET status = 'sending', status_reason = NULL, updated_at = $1 \
             WHERE account_id = $2 AND request_id = $3 AND status = 'pending'",
        )
        .bind(ts(d.now))
        .bind(d.account_id)
        .bind(d.request_id)
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO history (account_id, request_id, decision, deny_reason, statement_jcs, statement_hash, \
             decision_jws, decided_at, delivery) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued') RETURNING id",
        )
        .bind(d.account_id)
        .bind(d.request_id)
        .bind(d.decision.as_str())
        .bind(d.deny_reason.map(DenyReason::as_str))
        .bind(d.statement_jcs)
        .bind(d.statement_hash.as_str())
        .bind(d.decision_jws)
        .bind(ts(d.now))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(&format!("INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, 0, $6, NULL)"))
            .bind(d.account_id)
            .bind(d.request_id)
            .bind(id)
            .bind(d.submission_json)
            .bind(ts(d.expires_at))
            .bind(ts(d.now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.history_entry(id).await
    }

    /// One history row.
    ///
    /// # Errors
    /// The database failed or no such row.
    pub async fn history_entry(&self, id: i64) -> Result<HistoryEntry> {
        let row = sqlx::query(&format!("SELECT {HISTORY_COLUMNS} FROM history WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| Error::Store(format!("no history row {id}")))?;
        history_row(&row)
    }

    /// The history, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn history(&self) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query(&format!("SELECT {HISTORY_COLUMNS} FROM history ORDER BY decided_at DESC, id DESC"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(history_row).collect()
    }

    /// The latest decision recorded for a request.
    ///
    /// # Errors
    /// The database failed.
    pub async fn latest_decision(&self, account_id: &str, request_id: &str) -> Result<Option<HistoryEntry>> {
        let row = sqlx::query(&format!(
            "SELECT {HISTORY_COLUMNS} FROM history WHERE account_id = $1 AND request_id = $2 ORDER BY id DESC LIMIT 1"
        ))
        .bind(account_id)
        .bind(request_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(history_row).transpose()
    }

    /// The whole outbox, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY history_id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// One outbox entry.
    ///
    /// # Errors
    /// The database failed.
    pub async fn outbox_entry(&self, account_id: &str, request_id: &str) -> Result<Option<OutboxEntry>> {
        let row =
            sqlx::query(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE account_id = $1 AND request_id = $2"))
                .bind(account_id)
                .bind(request_id)
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(outbox_row).transpose()
    }

    /// Replaces the JWS of a queued decision by a re-signed one with the same
    /// content (one transaction over outbox and history).
    ///
    /// # Errors
    /// The database failed.
    pub async fn replace_signature(&self, entry: &OutboxEntry, submission_json: &str, jws: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE outbox SET submission_json = $1 WHERE account_id = $2 AND request_id = $3")
            .bind(submission_json)
            .bind(&entry.account_id)
            .bind(&entry.request_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE history SET decision_jws = $1 WHERE id = $2 AND delivery = 'queued'")
            .bind(jws)
            .bind(entry.history_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes a failed attempt and when to try again.
    ///
    /// # Errors
    /// The database failed.
    pub async fn outbox_retry(&self, entry: &OutboxEntry, next_attempt_at: u64, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 \
             WHERE account_id = $3 AND request_id = $4",
        )
        .bind(ts(next_attempt_at))
        .bind(error)
        .bind(&entry.account_id)
        .bind(&entry.request_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Ends a delivery in one transaction: the outbox entry goes, the history
    /// row gets the outcome and the server's answer, the request its new
    /// status. Returns `false` if another process ended it first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn finish_delivery(&self, entry: &OutboxEntry, end: &DeliveryEnd<'_>) -> Result<bool> {
        let mut tx = self.begin().await?;
        let gone = sqlx::query("DELETE FROM outbox WHERE account_id = $1 AND request_id = $2 AND history_id = $3")
            .bind(&entry.account_id)
            .bind(&entry.request_id)
            .bind(entry.history_id)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE history SET delivery = $1, server_status = $2, server_answer = $3, delivered_at = $4 WHERE id = $5",
        )
        .bind(end.delivery.as_str())
        .bind(end.server_status.map(i64::from))
        .bind(end.server_answer)
        .bind(ts(end.now))
        .bind(entry.history_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE inbox SET status = $1, status_reason = $2, updated_at = $3, \
             shown_schemas = COALESCE($4, shown_schemas) WHERE account_id = $5 AND request_id = $6",
        )
        .bind(end.status.as_str())
        .bind(end.reason)
        .bind(ts(end.now))
        .bind(end.shown_schemas)
        .bind(&entry.account_id)
        .bind(&entry.request_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
