//! The audit log (table `audit_log`, `docs/server.md` "Audit log"): every
//! request, decision, token issuance and revocation, enrollment, admin
//! action, verification change and fatigue block, appended in the same
//! transaction as what it records, each entry hash-chained to the one
//! before ([`AuditEntry::chain_hash`]).
//!
//! Appends run only where this process holds the database's write turn (a
//! [`crate::store::Tx`] or a request writer job), so the previous entry read
//! is the last one; `seq` is the table's key, so an append that raced one
//! anyway fails instead of forking the chain.

mod chain;
mod export;

pub use chain::{verify, Broken, Verified};
pub use export::{export, verify_export, ExportError};

use countersign_protocol::admin::{AuditAction, AuditEntry, Page, PreparedHash};
use serde_json::Value;
use sqlx::{AnyConnection, Row as _};

use crate::error::Internal;
use crate::store;

/// Who did it, as entries name them.
#[derive(Debug, Clone)]
pub enum Actor<'a> {
    /// An agent (`client:<client_id>`).
    Client(&'a str),
    /// An approver device (`device:<device_id>`): a user deciding, or an
    /// administrator acting.
    Device(&'a str),
    /// The `countersign-server` command line.
    Operator,
    /// The server on its own (fatigue control, expiry).
    Server,
    /// A label given as is (an operator's `--by`, such as `operator:ann`).
    Labelled(&'a str),
}

impl Actor<'_> {
    /// The device that acted, if a device did.
    #[must_use]
    pub fn device(&self) -> Option<&str> {
        match self {
            Actor::Device(id) => Some(id),
            _ => None,
        }
    }

    /// The label entries carry.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Actor::Client(id) => format!("client:{id}"),
            Actor::Device(id) => format!("device:{id}"),
            Actor::Operator => "operator".to_owned(),
            Actor::Server => "server".to_owned(),
            Actor::Labelled(label) => (*label).to_owned(),
        }
    }
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// Who.
    pub actor: Actor<'a>,
    /// What.
    pub action: AuditAction,
    /// On what.
    pub target: Option<&'a str>,
    /// The user concerned.
    pub sub: Option<&'a str>,
    /// Details: a JSON object.
    pub data: Value,
}

impl<'a> Record<'a> {
    /// A record with no target, user or details.
    #[must_use]
    pub fn new(actor: Actor<'a>, action: AuditAction) -> Self {
        Self { actor, action, target: None, sub: None, data: Value::Object(serde_json::Map::new()) }
    }

    /// On `target`.
    #[must_use]
    pub fn target(mut self, target: &'a str) -> Self {
        self.target = Some(target);
        self
    }

    /// Concerning the user `sub`.
    #[must_use]
    pub fn user(mut self, sub: &'a str) -> Self {
        self.sub = Some(sub);
        self
    }

    /// With these details.
    #[must_use]
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// The record made ready to append at `now`: its columns and its
    /// canonical form, computed before the write turn (where the append
    /// only reads the last entry, hashes and inserts).
    ///
    /// # Errors
    /// `data` cannot be canonicalized (a non-finite number).
    pub fn prepare(&self, now: u64) -> Result<Prepared, Internal> {
        let entry = AuditEntry {
            seq: 0,
            at: now,
            actor: self.actor.label(),
            action: self.action.clone(),
            target: self.target.map(str::to_owned),
            sub: self.sub.map(str::to_owned),
            data: self.data.clone(),
            hash: String::new(),
        };
        let hash = PreparedHash::new(&entry).map_err(|e| Internal::new(format!("audit entry: {e}")))?;
        let data = serde_json::to_string(&entry.data)?;
        Ok(Prepared { entry, data, hash })
    }
}

/// A [`Record`] ready to append ([`Record::prepare`]).
#[derive(Debug)]
pub struct Prepared {
    /// The entry, `seq` and `hash` not yet known.
    entry: AuditEntry,
    /// `data` as stored.
    data: String,
    /// The canonical form without `prev` and `seq`.
    hash: PreparedHash,
}

impl Prepared {
    /// `seq` and `hash` of the entry after the last one (`None`: the log
    /// is empty).
    fn after(&self, last: Option<(u64, &str)>) -> Result<(u64, String), Internal> {
        let (seq, prev) = last.map_or((1, ""), |(seq, hash)| (seq.saturating_add(1), hash));
        let hash = self.hash.chain_hash(seq, prev).map_err(|e| Internal::new(format!("audit entry: {e}")))?;
        Ok((seq, hash))
    }
}

const INSERT: &str =
    "INSERT INTO audit_log (seq, at, actor, action, target, sub, data, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const LAST: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";

/// Appends `record` inside the caller's write transaction; returns its `seq`.
///
/// # Errors
/// The database failed (an append that raced another fails on `seq`).
pub async fn append(conn: &mut AnyConnection, now: u64, record: &Record<'_>) -> Result<u64, Internal> {
    append_prepared(conn, &record.prepare(now)?).await
}

/// [`append`] of a record prepared before the transaction.
///
/// # Errors
/// The database failed (an append that raced another fails on `seq`).
pub async fn append_prepared(conn: &mut AnyConnection, p: &Prepared) -> Result<u64, Internal> {
    let last = sqlx::query(LAST).fetch_optional(&mut *conn).await?;
    let last = match &last {
        Some(row) => Some((store::from_ts(row.try_get("seq")?), row.try_get::<&str, _>("hash")?)),
        None => None,
    };
    let (seq, hash) = p.after(last)?;
    let e = &p.entry;
    sqlx::query(INSERT)
        .bind(store::ts(seq))
        .bind(store::ts(e.at))
        .bind(&e.actor)
        .bind(e.action.as_str())
        .bind(&e.target)
        .bind(&e.sub)
        .bind(&p.data)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

/// [`append`] on the request writer's connection, of a record prepared
/// before the job (so that its canonicalization is not in the writer's
/// turn).
///
/// # Errors
/// The database failed.
pub fn append_sync(conn: &rusqlite::Connection, p: &Prepared) -> Result<u64, Internal> {
    link_sync(conn, p)?.insert_sync(conn)
}

/// A prepared record's place in the chain, read in the writer's transaction:
/// the `seq` and `hash` it takes after the last entry. Nothing else may be
/// appended before its insert.
pub(crate) struct Linked<'a> {
    prepared: &'a Prepared,
    seq: u64,
    hash: String,
}

/// The first half of [`append_sync`]: reads the last entry and hashes the
/// record after it, without writing, so that a job can do all that may fail
/// for other reasons than its inserts before its first write.
///
/// # Errors
/// The database failed, or the record could not be hashed.
pub(crate) fn link_sync<'a>(conn: &rusqlite::Connection, p: &'a Prepared) -> Result<Linked<'a>, Internal> {
    let last: Option<(i64, String)> = {
        let mut stmt = conn.prepare_cached(LAST)?;
        let mut rows = stmt.query([])?;
        match rows.next()? {
            Some(row) => Some((row.get(0)?, row.get(1)?)),
            None => None,
        }
    };
    let (seq, hash) = p.after(last.as_ref().map(|(seq, hash)| (store::from_ts(*seq), hash.as_str())))?;
    Ok(Linked { prepared: p, seq, hash })
}

impl Linked<'_> {
    /// The second half of [`append_sync`]: the insert; returns its `seq`.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) fn insert_sync(self, conn: &rusqlite::Connection) -> Result<u64, Internal> {
        let (p, e) = (self.prepared, &self.prepared.entry);
        // The pool's statement as it is: SQLite numbers `$1` … `$8` in the
        // order they first appear, which is theirs.
        conn.prepare_cached(INSERT)?.execute(rusqlite::params![
            store::ts(self.seq),
            store::ts(e.at),
            e.actor,
            e.action.as_str(),
            e.target,
            e.sub,
            p.data,
            self.hash,
        ])?;
        Ok(self.seq)
    }
}

/// What a page of the log is filtered by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this action.
    pub action: Option<String>,
    /// Only entries concerning this user.
    pub sub: Option<String>,
    /// Only entries on this target.
    pub target: Option<String>,
    /// Only entries by this actor (`device:<id>`, `client:<id>`, ...).
    pub actor: Option<String>,
    /// Entries before this `seq` (the cursor).
    pub before: Option<u64>,
}

/// Reads an entry from a row of `audit_log`.
pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry, Internal> {
    let data: String = row.try_get("data")?;
    let action: String = row.try_get("action")?;
    Ok(AuditEntry {
        seq: store::from_ts(row.try_get("seq")?),
        at: store::from_ts(row.try_get("at")?),
        actor: row.try_get("actor")?,
        action: AuditAction::from(action),
        target: row.try_get("target")?,
        sub: row.try_get("sub")?,
        data: serde_json::from_str(&data)?,
        hash: row.try_get("hash")?,
    })
}

/// Entries a filtered page looks at, at most: a filter has no index to
/// use (each would cost every stored request more written pages), so a
/// page walks back from its start and stops here, answering what it found
/// (perhaps nothing) and a cursor where it stopped.
pub const WALK: u64 = 20_000;

/// One page of the log, newest first, of at most `limit` entries; a
/// filtered page looks at `walk` entries at most ([`WALK`] in the API), so
/// it may hold fewer than `limit` and still have a `next_cursor` (the
/// `seq` to continue below). No cursor: nothing older matches.
///
/// # Errors
/// The database failed.
pub async fn page(
    conn: &mut AnyConnection,
    filter: &Filter,
    limit: u32,
    walk: u64,
) -> Result<Page<AuditEntry>, Internal> {
    let mut conditions = Vec::new();
    let mut values: Vec<i64> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for (column, value) in
        [("action", &filter.action), ("sub", &filter.sub), ("target", &filter.target), ("actor", &filter.actor)]
    {
        if let Some(v) = value {
            texts.push(v.clone());
            conditions.push(format!("{column} = ${}", texts.len()));
        }
    }
    let filtered = !conditions.is_empty();
    // Where the page starts (below `before`, or above the newest entry).
    let start = match filter.before {
        Some(before) => before,
        None => {
            let newest: Option<i64> =
                sqlx::query_scalar("SELECT MAX(seq) FROM audit_log").fetch_one(&mut *conn).await?;
            newest.map_or(1, |n| crate::store::from_ts(n).saturating_add(1))
        }
    };
    // A filtered page stops `walk` entries below its start.
    let floor = if filtered { start.saturating_sub(walk.max(1)) } else { 0 };
    values.push(crate::store::ts(start));
    conditions.push(format!("seq < ${}", texts.len() + values.len()));
    values.push(crate::store::ts(floor));
    conditions.push(format!("seq >= ${}", texts.len() + values.len()));
    let sql = format!(
        "SELECT seq, at, actor, action, target, sub, data, hash FROM audit_log WHERE {} ORDER BY seq DESC LIMIT {}",
        conditions.join(" AND "),
        u64::from(limit) + 1
    );
    let mut query = sqlx::query(&sql);
    for t in &texts {
        query = query.bind(t);
    }
    for v in &values {
        query = query.bind(v);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.seq.to_string())
    } else if floor > 1 {
        // The walk stopped before the oldest entry: go on below it.
        Some(floor.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}
