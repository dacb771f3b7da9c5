//! The database: opening, migrations, write transactions.

pub mod blocks;
pub mod dialect;
pub mod migrations;
pub mod portable;
pub mod postgres;
pub mod reader;
pub mod requests;
pub mod users;
pub mod writer;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions as _, Executor as _, Transaction};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::error::Internal;

/// The connection pool: sqlx's `Any` driver, so that one query text runs
/// on either database (SQLite, PostgreSQL: `postgres.rs`). The SQL is the
/// dialects' common part, `$n` placeholders (`dialect.rs` for the rest).
pub type Db = AnyPool;
/// A write transaction: the database transaction plus this process's
/// write turn on the database (see [`begin`]). It
/// dereferences to the connection (`&mut *tx` is an executor); dropped
/// without [`Tx::commit`], it rolls back.
pub struct Tx {
    // Field order matters: the transaction is dropped (rollback queued)
    // before the turn is handed on.
    inner: Transaction<'static, Any>,
    _turn: OwnedMutexGuard<()>,
}

impl Tx {
    /// Commits, then hands the write turn on.
    ///
    /// # Errors
    /// The database failed.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let Tx { inner, _turn } = self;
        inner.commit().await
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

/// A job for one of the database threads (the reader, the writer): runs on
/// its connection, and its answer or error is sent back.
pub trait ConnectionJob<R, E>: FnOnce(&rusqlite::Connection) -> Result<R, E> + Send + 'static {}
impl<F, R, E> ConnectionJob<R, E> for F where F: FnOnce(&rusqlite::Connection) -> Result<R, E> + Send + 'static {}

/// The error of a [`ConnectionJob`]: an internal error (the thread stopped,
/// the group failed) can stand for it.
pub trait JobError: From<Internal> + Send + 'static {}
impl<E> JobError for E where E: From<Internal> + Send + 'static {}

/// Waits for the answer of a job sent to one of the database threads (the
/// reader, the writer), at most the busy timeout, as a transaction waits for
/// the write turn. `who` names the thread in the errors.
pub(crate) async fn job_answer<R, E: From<Internal>>(
    answered: tokio::sync::oneshot::Receiver<Result<R, E>>,
    who: &str,
) -> Result<R, E> {
    match tokio::time::timeout(BUSY_TIMEOUT, answered).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(Internal::new(format!("the {who} dropped a job")).into()),
        Err(_) => Err(Internal::new(format!("timed out waiting for the {who}")).into()),
    }
}

/// Where the server's data lives: a SQLite file (the default) or a
/// PostgreSQL database, as `--db` names it: a URL of scheme `postgres` or
/// `postgresql`, else a file path. A PostgreSQL URL may hold a password, so
/// it is shown (`Debug`, `Display`, errors) as `user@host:port/database`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL database (libpq's URL form).
    Postgres(postgres::Url),
}

impl Location {
    /// `--db`'s value read as a location.
    #[must_use]
    pub fn parse(value: &str) -> Self {
        let lower = value.get(..13).unwrap_or(value).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Location::Postgres(postgres::Url::new(value.to_owned()))
        } else {
            Location::Sqlite(PathBuf::from(value))
        }
    }

    /// Where the server's secret key file is when no file is given: beside
    /// a SQLite file; PostgreSQL has none (every instance must be given the
    /// same one).
    #[must_use]
    pub fn default_secret_key_file(&self) -> Option<PathBuf> {
        match self {
            Location::Sqlite(path) => Some(crate::crypto::secret_key::SecretKey::path_for(path)),
            Location::Postgres(_) => None,
        }
    }

    /// The directory beside the data, for files the server makes (the
    /// self-signed TLS certificates): a SQLite file's directory, else the
    /// current one.
    #[must_use]
    pub fn directory(&self) -> &Path {
        match self {
            Location::Sqlite(path) => path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")),
            Location::Postgres(_) => Path::new("."),
        }
    }

    /// Opens the database and brings its schema up to date.
    ///
    /// # Errors
    /// As [`open`] or [`postgres::open`].
    pub async fn open(&self) -> Result<Db, Internal> {
        match self {
            Location::Sqlite(path) => open(path).await,
            Location::Postgres(url) => postgres::open(url.secret()).await,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => write!(f, "postgres://{url:?}"),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({self})")
    }
}

/// Opens (creating if missing) the SQLite database at `path` and applies the
/// migrations in `migrations/`.
///
/// # Errors
/// The file cannot be opened or a migration fails.
pub async fn open(path: &Path) -> Result<Db, Internal> {
    create_private(path)?;
    sqlx::any::install_default_drivers();
    let opening = |e: sqlx::Error| Internal::new(format!("opening database {}: {e}", path.display()));
    // The Any driver takes its options as a URL: the path percent-encoded
    // (sqlx's own `to_url_lossy` leaves `%` as it is, so a name holding
    // `%20` would open another file). The rest is set on every connection.
    let absolute = std::path::absolute(path).map_err(|e| opening(sqlx::Error::Io(e)))?;
    let file = url::Url::from_file_path(&absolute)
        .map_err(|()| Internal::new(format!("opening database {}: not a file path", path.display())))?;
    let url =
        url::Url::parse(&format!("sqlite://{}?mode=rwc", file.path())).map_err(|e| opening(sqlx::Error::config(e)))?;
    let options = AnyConnectOptions::from_url(&url).map_err(opening)?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(SQLITE_CONNECTION_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(opening)?;
    // WAL is the file's mode, kept once set.
    sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await.map_err(opening)?;
    migrations::SQLITE.run(&pool).await.map_err(|e| Internal::new(format!("migrations: {e}")))?;
    Ok(pool)
}

/// Each SQLite connection's settings: NORMAL synchronisation (durable at
/// each WAL checkpoint, safe from corruption), foreign keys, and the busy
/// timeout another process's writes are waited for. SQLite's own checkpoint
/// stays at 1,000 pages: the checkpointer runs only after the request
/// writer's commits, and a server whose writes all go through the pool
/// (decisions, no new requests) is made durable against a power loss by
/// these checkpoints.
const SQLITE_CONNECTION_PRAGMAS: &str =
    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// The file of a SQLite database (`None`: not SQLite).
#[must_use]
pub fn sqlite_path(db: &Db) -> Option<PathBuf> {
    let url = &db.connect_options().database_url;
    if url.scheme() != "sqlite" {
        return None;
    }
    SqliteConnectOptions::from_url(url).ok().map(|o| o.get_filename().to_path_buf())
}

/// Creates the database file readable by its owner only (it holds the
/// server's signing keys and the clients' notification tokens). SQLite gives
/// its `-wal` and `-shm` files the same permissions.
fn create_private(path: &Path) -> Result<(), Internal> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Internal::new(format!("creating database {}: {e}", path.display()))),
    }
}

/// Takes the PostgreSQL write turn (see [`begin`]): waits at most the busy
/// timeout for it, then holds it until the transaction ends. The key is
/// this server's own (`cs-write` read as a big-endian integer), apart from
/// sqlx's migration lock. Counted, since the `Any` driver has no type for
/// the function's `void`.
pub(crate) const POSTGRES_WRITE_TURN: &str = "SELECT COUNT(*) FROM (SELECT set_config('lock_timeout', '10s', true), \
     pg_advisory_xact_lock(7166121423120462949)) AS turn";

/// How long a writer waits for the database before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// This process's write turn on the database behind `db`: its writers
/// queue for it before they take a pool connection (see [`begin`]).
pub(crate) fn write_turn(db: &Db) -> Arc<AsyncMutex<()>> {
    // Keyed by the pool's URL, which `open` builds from the file's path (one
    // file, one URL), so that each transaction finds its turn without
    // parsing the URL back into a path.
    static TURNS: OnceLock<Mutex<HashMap<String, Weak<AsyncMutex<()>>>>> = OnceLock::new();
    let url = &db.connect_options().database_url;
    let mut turns = TURNS.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(turn) = turns.get(url.as_str()).and_then(Weak::upgrade) {
        return turn;
    }
    turns.retain(|_, t| t.strong_count() > 0);
    let turn = Arc::new(AsyncMutex::new(()));
    turns.insert(url.as_str().to_owned(), Arc::downgrade(&turn));
    turn
}

/// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, which
/// takes the write lock at once, so a transaction that reads then writes can
/// never fail on an upgrade.
///
/// On PostgreSQL it is `BEGIN` followed by a transaction-scoped advisory
/// lock ([`POSTGRES_WRITE_TURN`]) that every instance's write transactions
/// take (each instance's writers first queue for the process's turn, as on
/// SQLite, so that at most one of its pool connections waits for the lock
/// and the others stay free for reads): they run one at a time, as on SQLite, so what holds on one SQLite
/// file holds across instances. A count read before an insert (the
/// `/bc-authorize` limits, the user code's failures) is still the count
/// when the insert commits, the audit log's next `seq` and previous hash
/// are the last committed ones, and events get their `seq` in commit order
/// (an SSE reader past `seq` n never misses a later commit below n). Each
/// statement of the transaction sees everything committed before the lock
/// was granted (READ COMMITTED takes a snapshot per statement). Reads
/// outside a transaction, and single-statement conditional updates, do
/// not wait for it.
///
/// Writers of this process first queue, in order, for its write turn on the
/// database (an async mutex, one per database URL) and only then take a
/// pool connection. On SQLite a
/// waiting writer never sits in SQLite's busy handler, whose sleeps (1 ms
/// growing to 100 ms) left the lock idle and made the p99 latency of
/// `/bc-authorize` under load about 150 ms (`docs/performance.md`). Another
/// process writing the same file, or a single statement run on the pool
/// outside a transaction, is still waited for in a busy handler: SQLite's
/// (`busy_timeout`) on the pool's connections, one with shorter sleeps on
/// the request writer's (`writer::wait_for_lock`).
///
/// # Errors
/// The database failed.
pub async fn begin(db: &Db) -> Result<Tx, Internal> {
    let turn = tokio::time::timeout(BUSY_TIMEOUT, write_turn(db).lock_owned())
        .await
        .map_err(|_| Internal::new("timed out waiting for the database write turn"))?;
    let sqlite = dialect::Dialect::of(db) == dialect::Dialect::Sqlite;
    let statement = if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
    // On a task of its own: a caller dropped while `BEGIN` runs (a client
    // that hangs up cancels its handler) would otherwise hand the connection
    // back to the pool inside the open transaction, holding the write lock
    // until the process ends. The task always finishes; a `Tx` nobody takes
    // is dropped there, which rolls it back and only then hands the turn on.
    let db = db.clone();
    tokio::spawn(async move {
        let mut inner = db.begin_with(statement).await?;
        if !sqlite {
            // PostgreSQL: the database's write turn, shared by every
            // instance, held until the transaction ends (see `begin`).
            sqlx::query(POSTGRES_WRITE_TURN).execute(&mut *inner).await?;
        }
        Ok(Tx { inner, _turn: turn })
    })
    .await
    .map_err(|e| Internal::new(format!("beginning a transaction: {e}")))?
}

/// 0/1 for a boolean column.
#[must_use]
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Unix seconds as the BIGINT the schema uses.
#[must_use]
pub fn ts(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A BIGINT column back to unix seconds.
#[must_use]
pub fn from_ts(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn temp_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(&dir.path().join("t.db")).await.expect("open");
        (dir, db)
    }

    /// Every pooled connection has the file's settings (the `Any` driver
    /// takes only a URL: they are set when each connection opens), and a
    /// path that a URL must escape (space, `?`, `#`, `%`) still names the
    /// same file, for the pool and for the writer, reader and secret key
    /// that open it by [`sqlite_path`].
    #[tokio::test]
    async fn connections_have_the_settings_and_odd_paths_their_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a b?c#d%20e.db");
        let db = open(&path).await.expect("open");
        assert!(path.is_file(), "the file itself, not an unescaped name");
        assert_eq!(sqlite_path(&db).as_deref(), Some(path.as_path()));
        let file: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&db)
            .await
            .expect("file");
        assert_eq!(Path::new(&file), path, "the pool's connections are on that very file");
        let mut conns = Vec::new();
        for _ in 0..3 {
            let mut c = db.acquire().await.expect("acquire");
            let get = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
            assert_eq!(get("PRAGMA synchronous").fetch_one(&mut *c).await.expect("synchronous"), 1, "NORMAL");
            assert_eq!(get("PRAGMA foreign_keys").fetch_one(&mut *c).await.expect("foreign_keys"), 1);
            assert_eq!(get("PRAGMA busy_timeout").fetch_one(&mut *c).await.expect("busy_timeout"), 10_000);
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *c).await.expect("mode");
            assert_eq!(mode, "wal");
            conns.push(c);
        }
        assert_eq!(
            i64::try_from(BUSY_TIMEOUT.as_millis()).ok(),
            Some(10_000),
            "SQLITE_CONNECTION_PRAGMAS says the busy timeout in milliseconds"
        );
    }

    /// Waiting writers queue for the turn, not inside SQLite's busy handler
    /// holding pool connections: reads go on, and every writer gets through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_writers_hold_no_connection() {
        let (_dir, db) = temp_db().await;
        let first = begin(&db).await.expect("begin");
        let writers: Vec<_> = (0..12)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut tx = begin(&db).await?;
                    sqlx::query("DELETE FROM device_jtis").execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok::<(), Internal>(())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(writers.iter().all(|w| !w.is_finished()), "writers wait for the first one");
        let reads = (0..7).map(|_| sqlx::query("SELECT COUNT(*) FROM users").fetch_one(&db));
        let read = tokio::time::timeout(Duration::from_secs(2), futures_util::future::try_join_all(reads)).await;
        assert!(matches!(read, Ok(Ok(_))), "reads are not starved by waiting writers");
        first.commit().await.expect("commit");
        for w in writers {
            tokio::time::timeout(Duration::from_secs(5), w).await.expect("in time").expect("join").expect("writer");
        }
    }

    /// Polls the inner future at most `left` times, then gives up on it
    /// (drops it): a caller cancelled at that exact await point.
    struct PollAtMost<F> {
        inner: std::pin::Pin<Box<F>>,
        left: usize,
    }

    impl<F: std::future::Future> std::future::Future for PollAtMost<F> {
        type Output = Option<F::Output>;
        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
            if self.left == 0 {
                return std::task::Poll::Ready(None);
            }
            self.left -= 1;
            self.inner.as_mut().poll(cx).map(Some)
        }
    }

    /// A `begin` abandoned at any of its await points (the caller's future
    /// dropped, as when a client hangs up) leaves no transaction open behind
    /// it, and the next writer gets through at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_begin_leaves_no_write_lock() {
        let (_dir, db) = temp_db().await;
        for round in 0..10 {
            for polls in 1..12 {
                let abandoned = PollAtMost { inner: Box::pin(begin(&db)), left: polls };
                if let Some(tx) = abandoned.await {
                    drop(tx.expect("begin"));
                }
                let next = tokio::time::timeout(Duration::from_secs(3), async {
                    let mut tx = begin(&db).await?;
                    sqlx::query("DELETE FROM device_jtis").execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok::<(), Internal>(())
                })
                .await;
                assert!(matches!(next, Ok(Ok(()))), "round {round}, begin dropped after {polls} polls: {next:?}");
            }
        }
    }

    /// The request lookups on every hot path seek an index, and never walk
    /// the table: the device list's pages (`auth_requests_user`), the
    /// sweeper's due requests (`auth_requests_pending_expiry`, already in
    /// expiry order) and the token endpoint's lookup by `auth_req_id`.
    #[tokio::test]
    async fn the_request_lookups_seek_their_indexes() {
        use sqlx::Row as _;
        let (_dir, db) = temp_db().await;
        let cases = [
            (format!("{} {}", requests::SELECT, crate::device::request_endpoints::PAGE), "auth_requests_user"),
            (format!("{} {}", requests::SELECT, crate::sweeper::DUE), "auth_requests_pending_expiry"),
            (format!("{} WHERE r.auth_req_id_hash = $1", requests::SELECT), "sqlite_autoindex_auth_requests_2"),
        ];
        for (sql, index) in cases {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let mut query = sqlx::query(&explain);
            for _ in 0..sql.matches('$').count() {
                query = query.bind("x");
            }
            let plan = query.fetch_all(&db).await.expect("plan");
            let detail: Vec<String> = plan.iter().filter_map(|r| r.try_get::<String, _>("detail").ok()).collect();
            assert!(
                detail.iter().any(|d| d.starts_with("SEARCH r USING INDEX") && d.contains(&format!("INDEX {index} "))),
                "{sql}: {detail:?}"
            );
            assert!(!detail.iter().any(|d| d.starts_with("SCAN") || d.contains("TEMP B-TREE")), "{sql}: {detail:?}");
        }
    }

    /// The sweeper's pruning of the event log deletes by `seq` (a range of
    /// the rowid), and finds where to stop in `seq` order, without sorting
    /// or an index on `created_at`: its first young event ends the walk.
    #[tokio::test]
    async fn the_event_prune_walks_the_log_in_seq_order() {
        use sqlx::Row as _;
        let (_dir, db) = temp_db().await;
        let plan = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", crate::sweeper::PRUNE_EVENTS))
            .bind(0_i64)
            .fetch_all(&db)
            .await
            .expect("plan");
        let detail: Vec<String> = plan.iter().filter_map(|r| r.try_get::<String, _>("detail").ok()).collect();
        assert_eq!(detail[0], "SEARCH events USING INTEGER PRIMARY KEY (rowid<?)", "{detail:?}");
        assert!(!detail.iter().any(|d| d.contains("TEMP B-TREE") || d.contains("INDEX")), "{detail:?}");
    }

    /// The fatigue check of `/bc-authorize` (`ciba.rs`) seeks its partial
    /// index instead of walking all of the user's requests.
    #[tokio::test]
    async fn the_not_me_count_uses_its_index() {
        use sqlx::Row as _;
        let (_dir, db) = temp_db().await;
        let plan = sqlx::query(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) AS n FROM auth_requests WHERE sub = $1 AND client_id = $2 \
             AND deny_reason = 'not_me' AND decided_at > $3",
        )
        .bind("u_1")
        .bind("cli_1")
        .bind(0_i64)
        .fetch_all(&db)
        .await
        .expect("plan");
        let detail: Vec<String> = plan.iter().filter_map(|r| r.try_get::<String, _>("detail").ok()).collect();
        assert!(detail.iter().any(|d| d.contains("auth_requests_not_me")), "{detail:?}");
    }
}
