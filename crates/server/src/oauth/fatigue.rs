//! Who may ask how often, checked before a request is stored: fatigue
//! counts per user and per client (CIBA Core §7.1 leaves limits to the
//! server), the block of unverified clients after `not_me` denials, and the
//! attempts at a user's `user_code` (§7.1.2).

use sqlx::{AnyConnection, Row as _};

use crate::error::OAuthError;
use crate::oauth::clients::Client;
use crate::state::AppState;
use crate::store;
use crate::store::portable::{self, Param};
use crate::store::users::User;

pub(super) struct Count {
    n: i64,
    oldest: Option<i64>,
}

pub(super) fn over_limit(c: &Count, limit: u32, now: u64) -> Option<OAuthError> {
    if limit == 0 || c.n < i64::from(limit) {
        return None;
    }
    let oldest = store::from_ts(c.oldest.unwrap_or(0));
    Some(OAuthError::RateLimited { retry_after: oldest.saturating_add(60).saturating_sub(now).max(1) })
}

/// A request being asked: what every fatigue check reads.
#[derive(Clone, Copy)]
pub(super) struct Asking<'a> {
    /// The configured limits.
    pub limits: &'a crate::config::Limits,
    /// The agent asking.
    pub client: &'a Client,
    /// The user asked.
    pub user: &'a User,
    /// Now, unix seconds.
    pub now: u64,
}

/// Checks a `user_code`, counting the failures: once the user (from any
/// client) or the client (for any user) has had too many wrong codes within
/// the window, the code is not even compared and the answer is the
/// fatigue-control 429 `slow_down` with `Retry-After` (when the oldest
/// counted failure leaves the window). Count, compare and record run in one
/// write transaction, so concurrent guesses cannot overshoot the limit.
pub(super) async fn check_user_code(
    state: &AppState,
    client: &Client,
    user: &User,
    code: &countersign_protocol::secret::UserCode,
) -> Result<(), OAuthError> {
    let limits = &state.config.limits;
    let now = state.now();
    let window = limits.user_code_window_secs;
    let since = store::ts(now.saturating_sub(window));
    let mut tx = store::begin(&state.db).await?;
    for (column, value, limit) in [
        ("sub", user.sub.as_str(), limits.user_code_failures),
        ("client_id", client.client_id.as_str(), limits.client_user_code_failures),
    ] {
        if limit == 0 {
            continue;
        }
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) AS n, MIN(failed_at) AS oldest FROM user_code_failures \
             WHERE {column} = $1 AND failed_at > $2"
        ))
        .bind(value)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        let n: i64 = row.try_get("n")?;
        if n >= i64::from(limit) {
            let oldest = store::from_ts(row.try_get::<Option<i64>, _>("oldest")?.unwrap_or(0));
            tracing::info!(client_id = %client.client_id, by = column, "user_code locked after repeated failures");
            return Err(OAuthError::RateLimited {
                retry_after: oldest.saturating_add(window).saturating_sub(now).max(1),
            });
        }
    }
    match state.user_code_key.check(code.secret(), user.user_code_hash.as_deref()) {
        crate::crypto::user_code::Check::Match => Ok(()),
        crate::crypto::user_code::Check::MatchLegacy => {
            sqlx::query("UPDATE users SET user_code_hash = $1 WHERE sub = $2")
                .bind(state.user_code_key.seal(code.secret()))
                .bind(&user.sub)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }
        crate::crypto::user_code::Check::NoMatch => {
            sqlx::query("INSERT INTO user_code_failures (sub, client_id, failed_at) VALUES ($1, $2, $3)")
                .bind(&user.sub)
                .bind(&client.client_id)
                .bind(store::ts(now))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Err(OAuthError::InvalidUserCode)
        }
    }
}

/// One query of the fatigue checks: `sql` (`?N` placeholders), its
/// parameters, and what its one row says (a count and a time or NULL).
struct Step<'a> {
    sql: &'static str,
    params: Vec<Param<'a>>,
    verdict: Box<dyn Fn(i64, Option<i64>) -> Option<Refused> + Send + 'a>,
}

impl<'a> Step<'a> {
    fn new(
        sql: &'static str,
        params: Vec<Param<'a>>,
        verdict: impl Fn(i64, Option<i64>) -> Option<Refused> + Send + 'a,
    ) -> Self {
        Step { sql, params, verdict: Box::new(verdict) }
    }
}

/// Runs `steps` on the request writer's connection, stopping at the first
/// refusal.
fn run_steps(conn: &rusqlite::Connection, steps: Vec<Step<'_>>) -> Result<(), Refused> {
    for step in steps {
        let params: Vec<&dyn rusqlite::ToSql> = step.params.iter().map(Param::sqlite).collect();
        let (n, at) = conn
            .prepare_cached(step.sql)
            .and_then(|mut s| s.query_row(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(|e| OAuthError::from(crate::error::Internal::from(e)))?;
        if let Some(refused) = (step.verdict)(n, at) {
            return Err(refused);
        }
    }
    Ok(())
}

/// [`run_steps`] on a pool connection (any database), in the caller's
/// transaction.
async fn run_steps_on(conn: &mut AnyConnection, steps: Vec<Step<'_>>) -> Result<(), Refused> {
    for step in steps {
        let sql = portable::dollar_placeholders(step.sql);
        let row = portable::query(&sql, &step.params)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| OAuthError::from(crate::error::Internal::from(e)))?;
        let (n, at) = (
            row.try_get::<i64, _>(0).map_err(|e| OAuthError::from(crate::error::Internal::from(e)))?,
            row.try_get::<Option<i64>, _>(1).map_err(|e| OAuthError::from(crate::error::Internal::from(e)))?,
        );
        if let Some(refused) = (step.verdict)(n, at) {
            return Err(refused);
        }
    }
    Ok(())
}

/// The block of one client for one user by an administrator.
const ADMIN_BLOCK: &str = "SELECT COUNT(*), NULL FROM client_user_blocks WHERE client_id = ?1 AND sub = ?2";
/// The user's block of unverified clients.
const UNVERIFIED_BLOCK: &str =
    "SELECT COUNT(*), NULL FROM (SELECT 1 FROM unverified_blocks WHERE sub = ?1 AND lifted_at IS NULL LIMIT 1) AS b";

/// Whether `client` is blocked for `user`: by an administrator, or by
/// `not_me` denials (a verified client by its own within the window, an
/// unverified one by the user's block of unverified clients).
fn block_steps(asking: Asking<'_>) -> Vec<Step<'_>> {
    let Asking { limits, client, user, now } = asking;
    let (sub, client_id) = (user.sub.as_str(), client.client_id.as_str());
    let denied = |why: &'static str, log: &'static str| {
        move |n: i64, _| {
            (n > 0).then(|| {
                tracing::info!(client_id, "{log}");
                Refused::Other(OAuthError::AccessDenied(why))
            })
        }
    };
    let mut steps = vec![Step::new(
        ADMIN_BLOCK,
        vec![client_id.into(), sub.into()],
        denied(
            "an administrator has blocked this client for this user",
            "client refused: an administrator blocked it for the user",
        ),
    )];
    if client.verified {
        if limits.not_me_threshold > 0 {
            let threshold = i64::from(limits.not_me_threshold);
            let since = store::ts(now.saturating_sub(limits.not_me_window_secs));
            steps.push(Step::new(
                store::blocks::NOT_ME_OF_CLIENT,
                vec![sub.into(), client_id.into(), since.into()],
                move |n, _| {
                    (n >= threshold).then(|| {
                        tracing::info!(client_id, "client blocked for a user after not_me denials");
                        Refused::Other(OAuthError::AccessDenied(
                            "the user has reported requests of this client as not theirs",
                        ))
                    })
                },
            ));
        }
    } else {
        steps.push(Step::new(
            UNVERIFIED_BLOCK,
            vec![sub.into()],
            denied(
                "the user has reported requests of unverified clients as not theirs; unverified clients are blocked \
                 for this user until the block is lifted",
                "unverified client refused: the user blocked unverified clients",
            ),
        ));
    }
    steps
}

/// Whether `client` is blocked for `user` ([`block_steps`]). Read-only;
/// checked before the `user_code` (a blocked client must not lock the
/// user's code) and again with the checks that store the request. Runs on
/// the request writer's connection.
pub(super) fn check_blocks(conn: &rusqlite::Connection, asking: Asking<'_>) -> Result<(), OAuthError> {
    run_steps(conn, block_steps(asking)).map_err(Refused::into_error)
}

/// [`check_blocks`] on a pool connection (any database).
pub(super) async fn check_blocks_on(conn: &mut AnyConnection, asking: Asking<'_>) -> Result<(), OAuthError> {
    run_steps_on(conn, block_steps(asking)).await.map_err(Refused::into_error)
}

/// `sub = <param> AND status IN (every status)`: all of a user's requests,
/// as ranges of `auth_requests_user` (sub, status, created_ms, request_id),
/// the one index under the user (a range per status; the index's second
/// column is the status so that the pending ones are one range too).
fn by_user(param: &str) -> String {
    let statuses: Vec<String> =
        countersign_protocol::device::RequestStatus::REGISTERED.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("sub = {param} AND status IN ({})", statuses.join(", "))
}

/// A fatigue limit, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Requests to one user per minute.
    UserPerMinute,
    /// Requests of one client per minute.
    ClientPerMinute,
    /// Requests of one unverified client to one user per minute.
    UnverifiedUserClientPerMinute,
    /// Pending requests of one user.
    PendingPerUser,
    /// Pending requests of unverified clients to one user.
    UnverifiedPendingPerUser,
}

impl Limit {
    /// What the limit counts by: the client, the user, or both. Refusals
    /// are recorded once a minute per such key, so that a client over its
    /// own rate naming many users writes one entry, not one per user.
    /// What the key counts by, as the audit entry says (`counted_by`).
    fn counted_by(self) -> &'static str {
        match self {
            Limit::ClientPerMinute => "client",
            Limit::UserPerMinute | Limit::PendingPerUser | Limit::UnverifiedPendingPerUser => "user",
            Limit::UnverifiedUserClientPerMinute => "client_and_user",
        }
    }

    fn key(self, client_id: &str, sub: &str) -> (Option<String>, Option<String>, Limit) {
        let (client, user) = match self {
            Limit::ClientPerMinute => (Some(client_id), None),
            Limit::UserPerMinute | Limit::PendingPerUser | Limit::UnverifiedPendingPerUser => (None, Some(sub)),
            Limit::UnverifiedUserClientPerMinute => (Some(client_id), Some(sub)),
        };
        (client.map(str::to_owned), user.map(str::to_owned), self)
    }

    /// The name of the setting (`Limits`' field).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::UserPerMinute => "user_per_minute",
            Limit::ClientPerMinute => "client_per_minute",
            Limit::UnverifiedUserClientPerMinute => "unverified_user_client_per_minute",
            Limit::PendingPerUser => "max_pending_per_user",
            Limit::UnverifiedPendingPerUser => "max_pending_unverified_per_user",
        }
    }
}

/// Why fatigue control refused a request: a limit (recorded in the audit
/// log, [`RefusalLog`]), or anything else (a block, the database).
#[derive(Debug)]
pub enum Refused {
    /// Over `limit` (of `value`).
    Limit(Limit, u32, OAuthError),
    /// Blocked, or an internal error.
    Other(OAuthError),
}

impl Refused {
    fn into_error(self) -> OAuthError {
        match self {
            Refused::Limit(_, _, e) | Refused::Other(e) => e,
        }
    }
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Refused::Other(e)
    }
}

/// Seconds during which further refusals of a client for a user under one
/// limit are counted, not recorded one by one.
const REFUSAL_WINDOW_SECS: u64 = 60;
/// Most (client, user, limit) kept; past it the entries out of their
/// window are dropped, and if none is, all of them.
const REFUSALS_KEPT: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Seen {
    recorded_at: u64,
    since: u64,
}

type RefusalKey = (Option<String>, Option<String>, Limit);

/// Which limit refusals were recorded in the audit log lately, so that a
/// hammered limit writes one entry a minute per key ([`Limit::key`]), not
/// one a request (the refusals are the cheap answers; an entry each would
/// make them as costly as accepted requests). In memory: after a restart
/// the first refusal is recorded again. Updated before the group commits;
/// an entry that could not be appended is given back ([`RefusalLog::undo`]),
/// but one lost with its whole group (a failed `COMMIT`, or another job of
/// the group that failed after writing; the request is answered 500) is
/// counted as recorded: that key's next entry comes a minute later.
#[derive(Debug, Default)]
pub struct RefusalLog(std::sync::Mutex<std::collections::HashMap<RefusalKey, Seen>>);

/// A refusal [`RefusalLog::take`] says to record.
struct Taken {
    key: RefusalKey,
    previous: Option<Seen>,
    before: u64,
}

impl RefusalLog {
    /// Whether to record this refusal (with the refusals not recorded
    /// since the last entry of the same key).
    fn take(&self, key: RefusalKey, now: u64) -> Option<Taken> {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = seen.get_mut(&key) {
            if now < s.recorded_at.saturating_add(REFUSAL_WINDOW_SECS) {
                s.since = s.since.saturating_add(1);
                return None;
            }
            let previous = *s;
            *s = Seen { recorded_at: now, since: 0 };
            return Some(Taken { key, previous: Some(previous), before: previous.since });
        }
        if seen.len() >= REFUSALS_KEPT {
            seen.retain(|_, s| now < s.recorded_at.saturating_add(REFUSAL_WINDOW_SECS));
            // Past the bound with every key live (a flood of distinct
            // keys): forget them all; their counts since are lost.
            if seen.len() >= REFUSALS_KEPT {
                seen.clear();
            }
        }
        seen.insert(key.clone(), Seen { recorded_at: now, since: 0 });
        Some(Taken { key, previous: None, before: 0 })
    }

    /// Gives back what [`RefusalLog::take`] changed: the entry was not
    /// appended, the next refusal records it (counting this one).
    fn undo(&self, taken: Taken) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match taken.previous {
            Some(mut previous) => {
                previous.since = previous.since.saturating_add(1);
                seen.insert(taken.key, previous);
            }
            // Counted as a refusal not recorded: the next one records it.
            None => {
                seen.insert(taken.key, Seen { recorded_at: 0, since: 1 });
            }
        }
    }
}

/// A refusal's error, and the audit entry to append for it: none when one
/// was recorded under the same key ([`Limit::key`]) within the last minute.
/// `Err`: not a limit's refusal (a block, the database), nothing to record.
fn refusal_entry(
    log: &RefusalLog,
    asking: Asking<'_>,
    refused: Refused,
) -> Result<(OAuthError, Option<(Taken, serde_json::Value)>), OAuthError> {
    let (limit, value, error) = match refused {
        Refused::Limit(limit, value, error) => (limit, value, error),
        Refused::Other(error) => return Err(error),
    };
    let (client_id, sub) = (asking.client.client_id.as_str(), asking.user.sub.as_str());
    let Some(taken) = log.take(limit.key(client_id, sub), asking.now) else {
        return Ok((error, None));
    };
    let retry_after = match &error {
        OAuthError::RateLimited { retry_after } | OAuthError::TooManyPending { retry_after, .. } => *retry_after,
        _ => 0,
    };
    let data = serde_json::json!({
        "limit": limit.as_str(),
        "value": value,
        "retry_after": retry_after,
        "refused_before": taken.before,
        "counted_by": limit.counted_by(),
    });
    Ok((error, Some((taken, data))))
}

fn refusal_record<'a>(asking: Asking<'a>, data: serde_json::Value) -> crate::audit::Record<'a> {
    crate::audit::Record::new(crate::audit::Actor::Server, countersign_protocol::admin::AuditAction::FatigueRefused)
        .target(asking.client.client_id.as_str())
        .user(asking.user.sub.as_str())
        .data(data)
}

/// Records a limit's refusal in the audit log (in the writer's group, so
/// it commits with the others) unless one was recorded under the same key
/// within the last minute; then answers the refusal's error.
pub(super) fn record_refusal(
    conn: &rusqlite::Connection,
    log: &RefusalLog,
    asking: Asking<'_>,
    refused: Refused,
) -> Result<OAuthError, OAuthError> {
    let (error, entry) = refusal_entry(log, asking, refused)?;
    if let Some((taken, data)) = entry {
        // Prepared here, in the writer's turn: `refused_before` is known only
        // now, and a refusal is recorded once a minute per key at most.
        let record = refusal_record(asking, data);
        if let Err(e) = record.prepare(asking.now).and_then(|p| crate::audit::append_sync(conn, &p)) {
            log.undo(taken);
            return Err(OAuthError::from(e));
        }
    }
    Ok(error)
}

/// [`record_refusal`] in the caller's transaction on a pool connection.
pub(super) async fn record_refusal_on(
    conn: &mut AnyConnection,
    log: &RefusalLog,
    asking: Asking<'_>,
    refused: Refused,
) -> Result<OAuthError, OAuthError> {
    let (error, entry) = refusal_entry(log, asking, refused)?;
    if let Some((taken, data)) = entry {
        if let Err(e) = crate::audit::append(conn, asking.now, &refusal_record(asking, data)).await {
            log.undo(taken);
            return Err(OAuthError::from(e));
        }
    }
    Ok(error)
}

/// The three per-minute counts, built once: the user's, the client's, the
/// user's from an unverified client. `?1` is the first millisecond of the
/// last minute, `?2` the user or the client, `?3` the client. The user's
/// seek `auth_requests_user` once per status, the client's
/// `auth_requests_client_created`; none reads more than the last minute's
/// requests of its user or client.
static RATE_COUNTS: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
    let count =
        |condition: String| format!("SELECT COUNT(*), MIN(created_ms) / 1000 FROM auth_requests WHERE {condition}");
    [
        count(format!("{} AND created_ms >= ?1", by_user("?2"))),
        count("client_id = ?2 AND created_ms >= ?1".to_owned()),
        count(format!("{} AND created_ms >= ?1 AND client_id = ?3", by_user("?2"))),
    ]
});

/// The per-minute counts of a request: each statement, its parameters after
/// `?1`, and its limit.
fn rate_counts<'a>(
    limits: &crate::config::Limits,
    client_verified: bool,
    sub: &'a str,
    client_id: &'a str,
) -> Vec<(&'static str, Vec<&'a str>, u32, Limit)> {
    let [user, client, unverified] = &*RATE_COUNTS;
    let mut rates = vec![
        (user.as_str(), vec![sub], limits.user_per_minute, Limit::UserPerMinute),
        (client.as_str(), vec![client_id], limits.client_per_minute, Limit::ClientPerMinute),
    ];
    if !client_verified {
        rates.push((
            unverified.as_str(),
            vec![sub, client_id],
            limits.unverified_user_client_per_minute,
            Limit::UnverifiedUserClientPerMinute,
        ));
    }
    rates
}

/// The user's pending requests (of unverified clients only when `?3` is 1):
/// one range of `auth_requests_user`.
const PENDING_COUNT: &str = "SELECT COUNT(*), MIN(expires_at) FROM auth_requests \
     WHERE sub = ?1 AND status = 'pending' AND expires_at > ?2 AND (client_verified = 0 OR ?3 = 0)";

/// Fatigue control, with the statements that store the request: blocks
/// from `not_me` denials, the per-minute rates and the pending caps (all
/// clients, and unverified clients together, so that unknown clients cannot
/// fill the user's place for the agents an operator vouched for).
fn fatigue_steps(asking: Asking<'_>) -> Vec<Step<'_>> {
    let mut steps = block_steps(asking);
    let Asking { limits, client, user, now } = asking;
    let (sub, client_id) = (user.sub.as_str(), client.client_id.as_str());
    // A request made at second `now - 59` or later is in the last minute.
    let since_ms = store::ts(now.saturating_sub(59).saturating_mul(1000));
    for (sql, values, limit, which) in rate_counts(limits, client.verified, sub, client_id) {
        // 0 is no limit: nothing to count (a count of a busy client's last
        // minute reads every request it made in it).
        if limit == 0 {
            continue;
        }
        let mut params = vec![Param::from(since_ms)];
        params.extend(values.into_iter().map(Param::from));
        steps.push(Step::new(sql, params, move |n, oldest| {
            over_limit(&Count { n, oldest }, limit, now).map(|e| Refused::Limit(which, limit, e))
        }));
    }
    let mut caps = vec![(limits.max_pending_per_user, false, Limit::PendingPerUser)];
    if !client.verified {
        caps.push((limits.max_pending_unverified_per_user, true, Limit::UnverifiedPendingPerUser));
    }
    for (limit, unverified_only, which) in caps {
        if limit == 0 {
            continue;
        }
        let params = vec![sub.into(), store::ts(now).into(), store::flag(unverified_only).into()];
        steps.push(Step::new(PENDING_COUNT, params, move |n, first| {
            (n >= i64::from(limit)).then(|| {
                let first = store::from_ts(first.unwrap_or(0));
                let e = OAuthError::TooManyPending {
                    limit,
                    unverified: unverified_only,
                    retry_after: first.saturating_sub(now).max(1),
                };
                Refused::Limit(which, limit, e)
            })
        }));
    }
    steps
}

/// Every statement the fatigue checks run, as the pool runs them (for the
/// tests that prepare them on PostgreSQL).
#[cfg(feature = "test-util")]
pub(crate) fn pool_statements() -> Vec<String> {
    let mut all = vec![ADMIN_BLOCK, store::blocks::NOT_ME_OF_CLIENT, UNVERIFIED_BLOCK, PENDING_COUNT];
    all.extend(RATE_COUNTS.iter().map(String::as_str));
    all.into_iter().map(portable::dollar_placeholders).collect()
}

/// Fatigue control ([`fatigue_steps`]) in the request writer's group that
/// stores the request.
pub(super) fn check_fatigue(conn: &rusqlite::Connection, asking: Asking<'_>) -> Result<(), Refused> {
    run_steps(conn, fatigue_steps(asking))
}

/// [`check_fatigue`] in the caller's transaction on a pool connection.
pub(super) async fn check_fatigue_on(conn: &mut AnyConnection, asking: Asking<'_>) -> Result<(), Refused> {
    run_steps_on(conn, fatigue_steps(asking)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    // A client over its own rate is one key whatever users it names; a
    // user's limits are one key whatever clients ask; an entry that could
    // not be appended is given back and the next refusal records it.
    #[test]
    fn refusals_are_recorded_once_a_minute_per_key_and_given_back_on_failure() {
        let log = RefusalLog::default();
        let take = |limit: Limit, client: &str, sub: &str, now: u64| log.take(limit.key(client, sub), now);
        assert_eq!(take(Limit::ClientPerMinute, "c", "u1", 100).map(|t| t.before), Some(0));
        assert!(take(Limit::ClientPerMinute, "c", "u2", 101).is_none(), "another user, the same client key");
        assert_eq!(take(Limit::UserPerMinute, "c", "u1", 101).map(|t| t.before), Some(0));
        assert!(take(Limit::UserPerMinute, "d", "u1", 102).is_none(), "another client, the same user key");
        assert!(take(Limit::UnverifiedUserClientPerMinute, "d", "u1", 102).is_some());
        assert!(take(Limit::UnverifiedUserClientPerMinute, "d", "u2", 102).is_some(), "per client and user");
        // A minute later: recorded again, with the refusals in between.
        assert_eq!(take(Limit::ClientPerMinute, "c", "u3", 160).map(|t| t.before), Some(1));
        // Not appended: given back, so the next one is recorded (and counts it).
        let taken = take(Limit::ClientPerMinute, "c", "u3", 221).unwrap();
        log.undo(taken);
        assert_eq!(take(Limit::ClientPerMinute, "c", "u3", 222).map(|t| t.before), Some(1));
        let first = take(Limit::PendingPerUser, "c", "u9", 300).unwrap();
        log.undo(first);
        assert_eq!(take(Limit::PendingPerUser, "c", "u9", 301).map(|t| t.before), Some(1), "a first one given back");
    }

    fn plan(conn: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("explain");
        let rows = statement.query_map(params, |r| r.get::<_, String>("detail")).expect("plan");
        rows.collect::<Result<_, _>>().expect("rows")
    }

    /// Every count of `/bc-authorize`'s fatigue control seeks an index of
    /// the migrated database (none walks the request table) and reads only
    /// its user's or client's requests: the checks cost the same however
    /// many requests the table holds.
    #[tokio::test]
    async fn every_fatigue_count_seeks_its_index() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("plans.db");
        drop(store::open(&path).await.expect("open"));
        let conn = rusqlite::Connection::open(&path).expect("connection");
        let limits = crate::config::Limits::default();
        // The user-and-client count may seek either index: both are bounded
        // by the last minute of one user or one client.
        let mut statements: Vec<(&str, &[&str], Vec<rusqlite::types::Value>)> = rate_counts(&limits, false, "u", "c")
            .into_iter()
            .zip([
                &["auth_requests_user"][..],
                &["auth_requests_client_created"],
                &["auth_requests_user", "auth_requests_client_created"],
            ])
            .map(|((sql, values, _, _), indexes)| {
                let mut params = vec![rusqlite::types::Value::Integer(0)];
                params.extend(values.into_iter().map(|v| rusqlite::types::Value::Text(v.to_owned())));
                (sql, indexes, params)
            })
            .collect();
        statements.push((
            PENDING_COUNT,
            &["auth_requests_user"],
            vec!["u".to_owned().into(), 0_i64.into(), 1_i64.into()],
        ));
        assert_eq!(statements.len(), 4);
        for (sql, indexes, params) in statements {
            let plan = plan(&conn, sql, rusqlite::params_from_iter(params));
            let seeks =
                |d: &String| d.starts_with("SEARCH") && indexes.iter().any(|i| d.contains(&format!("INDEX {i} ")));
            assert!(plan.iter().any(seeks), "{sql}: {plan:?}");
            assert!(!plan.iter().any(|d| d.starts_with("SCAN")), "{sql}: {plan:?}");
        }
        // The three indexes under the user that it replaces are gone.
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'auth_requests'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("indexes");
        for gone in ["auth_requests_sub_status", "auth_requests_sub_created", "auth_requests_pending"] {
            assert!(!indexes.iter().any(|i| i == gone), "{gone} still there: {indexes:?}");
        }
    }

    /// The user's counts name every status a request can have: a user's
    /// decided and cancelled requests of the last minute count as well.
    #[test]
    fn the_user_counts_name_every_status() {
        let condition = by_user("?2");
        for status in countersign_protocol::device::RequestStatus::REGISTERED {
            assert!(condition.contains(&format!("'{}'", status.as_str())), "{condition}");
        }
    }
}
