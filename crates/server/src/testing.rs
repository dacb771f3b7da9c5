//! A complete server on `127.0.0.1:0` over a temporary SQLite file, for
//! integration tests and benchmarks (not for production); the CIBA test
//! agent every crate's tests use ([`Agent`]: register, `/bc-authorize`,
//! `/token`); users and enrollment links made as an operator makes them
//! ([`TestServer::add_user`], [`new_user`], [`TestServer::invitation`]); an
//! operator's custom display schema ([`door_schema`]); and [`wait_for`], the
//! one way tests wait (default [`WAIT`]); [`seed`], a large organisation
//! (users, clients, grants, audit entries) for the admin benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), countersign_server::Internal> {
//! use countersign_server::testing::{spawn_test_server, TestOptions};
//! let server = spawn_test_server(TestOptions::default()).await?;
//! let metadata_url = format!("{}/.well-known/openid-configuration", server.base_url);
//! # let _ = metadata_url;
//! server.stop().await;
//! # Ok(()) }
//! ```

mod agent;
mod door;
#[cfg(unix)]
pub mod postgres;
pub mod seed;
mod users;
mod wait;

pub use agent::{client_jwks, details, http, Agent, Method, CIBA_GRANT, STOCK_TRADE};
pub use door::door_schema;
pub use users::new_user;
pub use wait::{wait_for, wait_for_every, wait_for_within, WAIT};

use countersign_protocol::device::Issuer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// Internals that integration tests (and the desktop's classifier agreement
// test) reach directly; only with the `test-util` feature.
pub use crate::crypto::secret_key::SecretKey;
pub use crate::device::spend_ticket;
pub use crate::oauth::bc_authorize::user_agent;
pub use crate::oauth::clients::UNVERIFIABLE;
pub use crate::oauth::notify::run_once as deliver_notifications_once;
pub use crate::oauth::register::check_text;
pub use crate::oauth::tokens::{at_hash, mint, ResponseKey, Signer, AUTH_REQ_ID_CLAIM};
pub use crate::store::begin as begin_write;
pub use crate::store::migrations::SQLITE as SQLITE_MIGRATIONS;
pub use crate::store::open as open_sqlite;
pub use crate::store::postgres::open as open_postgres;
pub use crate::store::requests::auth_req_id_key;
pub use crate::store::requests::load as load_request;
pub use crate::sweeper::sweep_once;
pub use crate::util::hash_secret;

use crate::clock::OffsetClock;
use crate::config::Config;
use crate::error::Internal;
use crate::schemas::{DisplaySchemas, RegistrySchemas};
use crate::state::{AppState, HotPath};

/// A configuration tweak.
pub type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// How to start a test server.
#[derive(Default)]
pub struct TestOptions {
    /// Adjusts the test configuration (applied after the test defaults).
    pub configure: Option<Configure>,
    /// Display schemas (default: the built-in ones, [`RegistrySchemas::builtin`]).
    pub schemas: Option<Arc<dyn DisplaySchemas>>,
    /// The issuer is `http://localhost:PORT` instead of
    /// `http://127.0.0.1:PORT` (WebAuthn relying parties need a domain).
    pub localhost_issuer: bool,
    /// HTTPS with the development certificate (`tls::self_signed`), the
    /// issuer `https://localhost:PORT`; clients trust [`TestServer::ca`].
    pub tls: bool,
}

impl TestOptions {
    /// Options with a configuration tweak.
    #[must_use]
    pub fn with_config(f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        Self { configure: Some(Box::new(f)), ..Self::default() }
    }
}

/// A running test server.
pub struct TestServer {
    /// The issuer, e.g. `http://127.0.0.1:40123` (every URL starts with it).
    pub base_url: String,
    /// The socket address.
    pub addr: SocketAddr,
    /// The server's state (database, configuration, hub).
    pub state: AppState,
    /// The server's clock: [`OffsetClock::advance`] jumps ahead.
    pub clock: Arc<OffsetClock>,
    /// The SQLite file (unused on PostgreSQL: see [`TestServer::db`]).
    pub db_path: PathBuf,
    /// The database as `--db` names it: the SQLite file, or the test
    /// server's PostgreSQL database with [`ENV_POSTGRES`].
    pub db: crate::store::Location,
    /// The server's secret key file.
    pub secret_key_file: PathBuf,
    instance: u32,
    /// The CA file clients trust, with [`TestOptions::tls`].
    pub ca: Option<PathBuf>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Config,
    schemas: Arc<dyn DisplaySchemas>,
    dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

/// The number of the next further instance ([`TestServer::another_instance`]).
static NEXT_INSTANCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

impl TestServer {
    /// The arguments that point `countersign-server`'s commands at this
    /// server's data: `--db` and `--secret-key-file`.
    #[must_use]
    pub fn cli_args(&self) -> Vec<std::ffi::OsString> {
        let db = match &self.db {
            crate::store::Location::Sqlite(path) => path.clone().into_os_string(),
            crate::store::Location::Postgres(url) => url.secret().into(),
        };
        vec!["--db".into(), db, "--secret-key-file".into(), self.secret_key_file.clone().into_os_string()]
    }

    /// A second server instance on the same database, configuration,
    /// secret key and clock, on an address of its own (as behind a load
    /// balancer: its issuer is still this server's; its `base_url` is its
    /// own address, where tests reach it). Each instance has its own
    /// background tasks and its own in-memory state (event hub, caches).
    ///
    /// # Errors
    /// The socket, the database or the state could not be set up.
    pub async fn another_instance(&self) -> Result<TestServer, Internal> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| Internal::new(format!("binding: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Internal::new(format!("local addr: {e}")))?;
        let parts = self.parts(NEXT_INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut other = start(listener, parts).await?;
        other.base_url = format!("{scheme}://{addr}");
        Ok(other)
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// The test defaults: http loopback notification endpoints and `jwks_uri`
/// allowed, fast delivery retries and sweeps, and none of the limits for
/// unverified clients (test agents are unverified, often send several
/// requests a minute and ask for long expiries; those limits have tests of
/// their own).
#[must_use]
pub fn test_config(issuer: Issuer) -> Config {
    let mut c = Config::new(issuer);
    c.limits.unverified_user_client_per_minute = 0;
    c.limits.max_pending_unverified_per_user = 0;
    c.unverified_max_expiry_secs = u64::MAX;
    c.danger_allow_http_loopback_notifications = true;
    c.danger_allow_http_loopback_jwks_uri = true;
    c.delivery.base_backoff = Duration::from_millis(50);
    c.delivery.max_backoff = Duration::from_millis(400);
    c.delivery.timeout = Duration::from_secs(5);
    c.sweep_interval = Duration::from_millis(100);
    // Most tests approve critical requests (payment_initiation) with the
    // device key alone; the WebAuthn tests turn the policy back on.
    c.webauthn_at = None;
    c
}

/// The statements of the hot paths as they run on the pool
/// ([`crate::HotPath::Pool`]): the fatigue checks, the request's insert,
/// the client and user reads; and the sweeper's pruning of the event log;
/// for the tests that prepare them on PostgreSQL.
#[must_use]
pub fn pool_statements() -> Vec<String> {
    let mut all = crate::oauth::fatigue::pool_statements();
    all.push(crate::sweeper::PRUNE_EVENTS.to_owned());
    all.push(crate::store::portable::dollar_placeholders(crate::store::requests::INSERT));
    all.push(format!("SELECT {} FROM clients WHERE client_id = $1", crate::oauth::clients::CLIENT_COLUMNS));
    use crate::store::users::{condition, By, USER_COLUMNS};
    for by in [By::Sub("u"), By::Username("u"), By::Email("u"), By::Login("u")] {
        if let Some((condition, _)) = condition(by) {
            all.push(crate::store::portable::dollar_placeholders(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE {condition}"
            )));
        }
    }
    all
}

/// The variable that runs every test server's hot paths on the pool
/// (`pool`, the path a database other than SQLite takes), instead of
/// SQLite's request writer and reader (unset or `sqlite`): `cargo xtask
/// test` runs the server's suite both ways.
pub const ENV_HOT_PATH: &str = "COUNTERSIGN_TEST_HOT_PATH";

fn hot_path() -> Result<HotPath, Internal> {
    match std::env::var(ENV_HOT_PATH).as_deref() {
        Err(_) | Ok("" | "sqlite") => Ok(HotPath::Sqlite),
        Ok("pool") => Ok(HotPath::Pool),
        Ok(other) => Err(Internal::new(format!("{ENV_HOT_PATH}={other:?}: it takes sqlite or pool"))),
    }
}

/// The variable that puts every test server on PostgreSQL: the URL of a
/// cluster's `postgres` database, where each test server gets a database
/// of its own (its hot paths on the pool, its secret key in its temporary
/// directory).
pub const ENV_POSTGRES: &str = "COUNTERSIGN_TEST_POSTGRES";

/// The database of the test server whose directory is `dir` on the cluster
/// at `cluster`: made at its first start, found again at a restart.
async fn postgres_database(cluster: &str, dir: &std::path::Path) -> Result<String, Internal> {
    use sqlx::Connection as _;
    let kept = dir.join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&kept) {
        return Ok(url);
    }
    // Unique on the cluster: this process, its count, the time.
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = format!("t_{}_{made}_{nanos}", std::process::id());
    let mut url = url::Url::parse(cluster).map_err(|e| Internal::new(format!("{ENV_POSTGRES}: {e}")))?;
    let mut conn = sqlx::PgConnection::connect(url.as_str()).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
    let _ = conn.close().await;
    url.set_path(&name);
    std::fs::write(&kept, url.as_str()).map_err(|e| Internal::new(format!("{}: {e}", kept.display())))?;
    Ok(url.into())
}

/// What a test server is started with.
struct Parts {
    config: Config,
    schemas: Arc<dyn DisplaySchemas>,
    clock: Arc<OffsetClock>,
    dir: Arc<tempfile::TempDir>,
    db_path: PathBuf,
    tls: Option<(Arc<rustls::ServerConfig>, PathBuf)>,
    /// 0, or which further instance on the same database (see
    /// [`TestServer::another_instance`]).
    instance: u32,
}

async fn start(listener: TcpListener, parts: Parts) -> Result<TestServer, Internal> {
    let Parts { mut config, schemas, clock, dir, db_path, tls, instance } = parts;
    let addr = listener.local_addr().map_err(|e| Internal::new(format!("local addr: {e}")))?;
    let (location, hot_path) = match std::env::var(ENV_POSTGRES) {
        Ok(cluster) => {
            config.secret_key_file = Some(dir.path().join("secret-key"));
            let mut url = postgres_database(&cluster, dir.path()).await?;
            if instance > 0 {
                // Its own URL, as another process's pool would be: this
                // process's write turn is per URL, and two instances in
                // one process must meet at PostgreSQL's, as two processes do.
                url.push_str(&format!("?application_name=countersign-instance-{instance}"));
            }
            let url = crate::store::postgres::Url::new(url);
            (crate::store::Location::Postgres(url), HotPath::Pool)
        }
        Err(_) => (crate::store::Location::Sqlite(db_path.clone()), hot_path()?),
    };
    let db = location.open().await?;
    let secret_key_file = config
        .secret_key_file
        .clone()
        .or_else(|| location.default_secret_key_file())
        .ok_or_else(|| Internal::new("a test server on PostgreSQL has its secret key file"))?;
    let state = AppState::with_hot_path(config.clone(), db, clock.clone(), schemas.clone(), hot_path).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = rx.await;
    };
    let handle = match &tls {
        None => tokio::spawn(crate::serve(listener, state.clone(), stopped)),
        Some((server_config, _)) => {
            let listener = crate::tls::TlsListener::new(listener, server_config.clone())
                .map_err(|e| Internal::new(format!("TLS listener: {e}")))?;
            tokio::spawn(crate::serve(listener, state.clone(), stopped))
        }
    };
    let (tls, ca) = match tls {
        Some((c, ca)) => (Some(c), Some(ca)),
        None => (None, None),
    };
    Ok(TestServer {
        base_url: config.issuer.as_str().to_owned(),
        addr,
        state,
        clock,
        db_path,
        db: location,
        secret_key_file,
        instance,
        ca,
        tls,
        config,
        schemas,
        dir,
        stop: Some(tx),
        handle: Some(handle),
    })
}

/// Starts a server on `127.0.0.1:0` with a fresh SQLite file in a temporary
/// directory (removed when the last [`TestServer`] using it is dropped).
///
/// # Errors
/// The socket, the database or the state could not be set up.
pub async fn spawn_test_server(options: TestOptions) -> Result<TestServer, Internal> {
    let listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(|e| Internal::new(format!("bind 127.0.0.1:0: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Internal::new(format!("local addr: {e}")))?;
    let host =
        if options.localhost_issuer || options.tls { format!("localhost:{}", addr.port()) } else { addr.to_string() };
    let scheme = if options.tls { "https" } else { "http" };
    let issuer = Issuer::new(format!("{scheme}://{host}")).map_err(|e| Internal::new(format!("issuer: {e}")))?;
    let mut config = test_config(issuer);
    if let Some(f) = options.configure {
        f(&mut config);
    }
    let schemas = match options.schemas {
        Some(s) => s,
        None => Arc::new(RegistrySchemas::builtin().map_err(|e| Internal::new(format!("display schemas: {e}")))?),
    };
    let dir = Arc::new(tempfile::tempdir().map_err(|e| Internal::new(format!("tempdir: {e}")))?);
    let db_path = dir.path().join("countersign.db");
    let tls = if options.tls {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let dev = crate::tls::self_signed::ensure(&dir.path().join("tls"), now)
            .map_err(|e| Internal::new(format!("development certificate: {e}")))?;
        let certificates = crate::tls::Certificates::open(dev.files).map_err(|e| Internal::new(e.to_string()))?;
        let pem = std::fs::read(&dev.ca).map_err(|e| Internal::new(format!("development CA: {e}")))?;
        agent::trust_test_ca(pem);
        Some((certificates.server_config().map_err(|e| Internal::new(e.to_string()))?, dev.ca))
    } else {
        None
    };
    let parts = Parts { config, schemas, clock: Arc::new(OffsetClock::new()), dir, db_path, tls, instance: 0 };
    start(listener, parts).await
}

impl TestServer {
    /// `{base_url}{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    async fn shutdown(&mut self) {
        self.halt(Duration::from_secs(10)).await;
    }

    /// Stops listening and ends the background tasks; waits up to `grace`
    /// for the requests in flight, then abandons them; closes the database.
    async fn halt(&mut self, grace: Duration) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(mut h) = self.handle.take() {
            if tokio::time::timeout(grace, &mut h).await.is_err() {
                h.abort();
            }
        }
        self.state.hub.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.state.db.close()).await;
    }

    /// Stops the server (streams end, background tasks stop, the database
    /// closes); the temporary directory goes when `self` is dropped.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    /// Stops the server and starts a new one on the same address, database
    /// file, configuration and clock, as after a process restart.
    ///
    /// # Errors
    /// The address could not be bound again, or the database failed.
    pub async fn restart(mut self) -> Result<TestServer, Internal> {
        self.shutdown().await;
        self.start_again().await
    }

    /// Like [`Self::restart`], but as after a crash: requests in flight are
    /// not waited for (one held by a [`crate::config::TestHooks`] hook never
    /// gets its response out; its connection is left hanging, as a killed
    /// process leaves its client waiting for a reset), idle connections are
    /// closed, the listener and the background tasks end, the database
    /// closes with what was committed. Unlike `kill -9` (see
    /// `tests/chaos.rs`), the abandoned request's task stays in memory.
    ///
    /// # Errors
    /// As [`Self::restart`].
    pub async fn restart_after_crash(mut self) -> Result<TestServer, Internal> {
        self.halt(Duration::ZERO).await;
        self.start_again().await
    }

    /// What a server on this one's database, configuration and clock is
    /// started from, as instance `instance`.
    fn parts(&self, instance: u32) -> Parts {
        Parts {
            config: self.config.clone(),
            schemas: self.schemas.clone(),
            clock: self.clock.clone(),
            dir: self.dir.clone(),
            db_path: self.db_path.clone(),
            tls: self.tls.clone().zip(self.ca.clone()),
            instance,
        }
    }

    async fn start_again(self) -> Result<TestServer, Internal> {
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    return start(l, self.parts(self.instance)).await;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        Err(Internal::new(format!("rebinding {}: {:?}", self.addr, last)))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.hub.shutdown();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Takes this process's write turn on `db` (as `store::begin` does before
/// its transaction) without a transaction: a writer that skips the turn
/// goes on while it is held, one that takes it waits.
pub async fn hold_write_turn(db: &sqlx::AnyPool) -> tokio::sync::OwnedMutexGuard<()> {
    crate::store::write_turn(db).lock_owned().await
}

/// Rows of a query selecting two integer columns (a nullable one, then a
/// non-null one); empty on error. For tests that look at the outbox.
pub async fn query_pairs(state: &AppState, sql: &str) -> Vec<(Option<i64>, i64)> {
    use sqlx::Row as _;
    let rows = sqlx::query(sql).fetch_all(&state.db).await.unwrap_or_default();
    rows.iter().filter_map(|r| Some((r.try_get::<Option<i64>, _>(0).ok()?, r.try_get::<i64, _>(1).ok()?))).collect()
}
