//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
//! directory, the server started with `pg_ctl` on a private port and socket
//! directory, stopped (`immediate`) and deleted when dropped.
//!
//! The binaries come from `COUNTERSIGN_PG_BIN` when set, else from `PATH`,
//! else from Debian's `/usr/lib/postgresql/<version>/bin` (the newest);
//! `cargo xtask test` installs Debian's `postgresql-15`. PostgreSQL refuses
//! to run as root, so as root they run as the `postgres` user (`runuser`),
//! in a temporary directory given to that user. A test process killed
//! outright (not unwinding) leaves its cluster running.
//! The cluster trusts every local connection and does not fsync: it holds
//! test data only, and the tests that kill things kill the Countersign
//! server, never PostgreSQL ([`PostgresCluster::start_durable`], for
//! benchmarks, keeps PostgreSQL's durable defaults).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sqlx::Connection as _;

use crate::error::Internal;

/// A running throwaway cluster.
pub struct PostgresCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres_user: bool,
    // Last: deleted after the server is stopped.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for PostgresCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCluster").field("port", &self.port).field("data", &self.data).finish_non_exhaustive()
    }
}

impl PostgresCluster {
    /// Creates and starts a cluster (about a second).
    ///
    /// # Errors
    /// No PostgreSQL binaries, or `initdb` or the server failed (the message
    /// carries their output).
    pub async fn start() -> Result<PostgresCluster, Internal> {
        Self::start_with(false).await
    }

    /// [`PostgresCluster::start`] with PostgreSQL's default durability
    /// (`fsync`, `synchronous_commit`, `full_page_writes` on): for
    /// benchmarks, whose figures must include the cost of durable commits.
    ///
    /// # Errors
    /// As [`PostgresCluster::start`].
    pub async fn start_durable() -> Result<PostgresCluster, Internal> {
        Self::start_with(true).await
    }

    async fn start_with(durable: bool) -> Result<PostgresCluster, Internal> {
        tokio::task::spawn_blocking(move || Self::start_blocking(durable))
            .await
            .map_err(|e| Internal::new(format!("starting PostgreSQL: {e}")))?
    }

    fn start_blocking(durable: bool) -> Result<PostgresCluster, Internal> {
        let bin = binaries()?;
        let as_postgres_user = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("countersign-pg-")
            .tempdir()
            .map_err(|e| Internal::new(format!("a directory for PostgreSQL: {e}")))?;
        if as_postgres_user {
            // The directory (0700) becomes the postgres user's: its data
            // directory, socket and log go in it, out of other users' reach.
            let (uid, gid) = postgres_user()?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| Internal::new(format!("giving {} to postgres: {e}", dir.path().display())))?;
        }
        let data = dir.path().join("data");
        let mut cluster = PostgresCluster { bin, data, port: 0, as_postgres_user, dir };
        let data = cluster.data.display().to_string();
        cluster
            .run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])?;
        // A free port can be taken between the probe and the start: try again.
        let mut last = None;
        for _ in 0..3 {
            cluster.port = free_port()?;
            let durability = if durable {
                "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
            } else {
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            };
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 {durability} -c max_connections=200",
                cluster.port,
                cluster.dir.path().display()
            );
            let log = cluster.dir.path().join("server.log").display().to_string();
            match cluster.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start"]) {
                Ok(()) => return Ok(cluster),
                Err(e) if e.to_string().contains("could not bind") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Internal::new("PostgreSQL did not start")))
    }

    /// The URL of `database` on this cluster, as the `postgres` superuser.
    #[must_use]
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The server's port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database and returns its URL.
    ///
    /// # Errors
    /// The name is not a plain identifier, or PostgreSQL refused.
    pub async fn create_database(&self, name: &str) -> Result<String, Internal> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(Internal::new(format!("not a plain database name: {name}")));
        }
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .map_err(|e| Internal::new(format!("connecting to the test cluster: {e}")))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(|e| Internal::new(format!("creating database {name}: {e}")))?;
        let _ = conn.close().await;
        Ok(self.url(name))
    }

    /// Runs one of the cluster's binaries (as `postgres` when root).
    fn run(&self, program: &str, args: &[&str]) -> Result<(), Internal> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Internal::new(format!("running {}: {e}", path.display())))?;
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        Err(Internal::new(format!(
            "{program} failed ({}): {}{}\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data.display().to_string();
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
}

/// The directory of `initdb` and `pg_ctl`.
fn binaries() -> Result<PathBuf, Internal> {
    if let Some(dir) = std::env::var_os("COUNTERSIGN_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file()));
    if let Some(Some(dir)) = on_path {
        return Ok(dir);
    }
    let debian = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(debian)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .max_by_key(|(version, _)| *version);
    newest.map(|(_, bin)| bin).ok_or_else(|| {
        Internal::new(
            "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql-15 \
             (cargo xtask prereq) or set COUNTERSIGN_PG_BIN",
        )
    })
}

/// The postgres user's uid and gid, from /etc/passwd (Debian's package
/// makes the user).
fn postgres_user() -> Result<(u32, u32), Internal> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| Internal::new(format!("/etc/passwd: {e}")))?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                ["postgres", _, uid, gid, ..] => Some((uid.parse().ok()?, gid.parse().ok()?)),
                _ => None,
            }
        })
        .ok_or_else(|| Internal::new("no postgres user: install Debian's postgresql-15 (cargo xtask prereq)"))
}

/// Whether this process runs as root (`/proc/self` belongs to the
/// process's effective user; elsewhere than Linux, taken as not root).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> Result<u16, Internal> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .map_err(|e| Internal::new(format!("finding a free port: {e}")))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| Internal::new(format!("finding a free port: {e}")))
}
