//! The local store: SQLite through sqlx (runtime queries, embedded
//! migrations), in the data directory. Tables: `accounts`, `inbox`,
//! `history`, `outbox`, `schema_cache` (see `migrations/`).
//!
//! Every state change is one transaction, opened with `BEGIN IMMEDIATE` so a
//! read-then-write never fails half-way on a lock upgrade, and guarded by
//! the status it expects (`... WHERE status = 'pending'`), so two processes
//! sharing the store (a running `watch` and a one-shot `approve`) can never
//! both decide one request.

mod accounts;
pub(crate) mod history;
mod inbox;
mod schemas;

pub use accounts::Account;
pub use history::{Delivery, HistoryEntry, OutboxEntry};
pub use inbox::{InboxItem, LocalStatus};
pub use schemas::{CachedSchema, SchemaChange};

use crate::error::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the database in the data directory.
pub const DB_FILE: &str = "approver.sqlite3";

/// A write transaction.
pub(crate) type Tx = Transaction<'static, Sqlite>;

/// The local store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if missing) the store at `path` and applies the
    /// migrations.
    ///
    /// # Errors
    /// The file cannot be opened or a migration fails.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect_with(options)
            .await
            .map_err(|e| crate::Error::Store(format!("opening {}: {e}", path.display())))?;
        migrator().run(&pool).await?;
        Ok(Self { pool, path: path.to_path_buf() })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The migrations in `migrations/`, embedded. Listed by hand rather than
/// with `sqlx::migrate!`, which needs sqlx's proc-macro crate (a long build
/// for one `include_str!`); sqlx's migrator still records and checksums them.
fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use std::borrow::Cow;
    let migrations = vec![
        Migration::new(
            1,
            Cow::Borrowed("initial"),
            MigrationType::Simple,
            Cow::Borrowed(include_str!("../../migrations/0001_initial.sql")),
            false,
        ),
        Migration::new(
            2,
            Cow::Borrowed("shown schemas"),
            MigrationType::Simple,
            Cow::Borrowed(include_str!("../../migrations/0002_shown_schemas.sql")),
            false,
        ),
    ];
    Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT }
}

/// Unix seconds as the INTEGER the schema uses.
pub(crate) fn ts(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// An INTEGER column back to unix seconds.
pub(crate) fn from_ts(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
