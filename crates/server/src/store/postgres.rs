//! PostgreSQL: a connection pool on a server, its schema brought up to date.
//!
//! Several server instances may start at once against one database: the
//! migrations run under a PostgreSQL advisory lock (sqlx's migrator takes
//! `pg_advisory_lock` before it reads `_sqlx_migrations`), so one instance
//! applies them while the others wait, then find them applied. They run on
//! a connection of their own, closed afterwards, so a failed run cannot
//! hand a connection still holding the lock to the pool. A database whose
//! schema is newer than this server (a migration it does not know) is
//! refused, never written to.
//!
//! `--db postgres://…` opens it (`store::Location`); test servers do with
//! `COUNTERSIGN_TEST_POSTGRES`.

use std::str::FromStr as _;

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::Connection as _;

use crate::error::Internal;

/// Most connections one instance keeps to the database.
pub const MAX_CONNECTIONS: u32 = 16;

/// Connects to the PostgreSQL database at `url`
/// (`postgres://user:password@host:port/database`, libpq's URL form) and
/// applies the migrations it lacks.
///
/// Errors name the server and the database, never the password.
///
/// # Errors
/// The URL is not one, the server cannot be reached or refuses, or a
/// migration fails or is unknown to this server.
pub async fn open(url: &str) -> Result<super::Db, Internal> {
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        Internal::new(format!(
            "the PostgreSQL URL is not valid ({e}); it reads postgres://user:password@host:port/database"
        ))
    })?;
    let target = describe(&options);
    let migrator = super::migrations::postgres().await?;
    // Refused at once, or unanswered within the busy timeout, is an error
    // now: a pool would retry for its whole acquire timeout before saying
    // the server refused.
    let probe = tokio::time::timeout(super::BUSY_TIMEOUT, PgConnection::connect_with(&options))
        .await
        .map_err(|_| Internal::new(format!("connecting to PostgreSQL at {target}: no answer within 10 s")))?
        .map_err(|e| Internal::new(format!("connecting to PostgreSQL at {target}: {e}")))?;
    let _ = probe.close().await;
    // One connection of its own, closed either way: a run that failed may
    // still hold the advisory lock.
    let migrating = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(super::BUSY_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|e| Internal::new(format!("connecting to PostgreSQL at {target}: {e}")))?;
    let migrated = migrator.run(&migrating).await;
    migrating.close().await;
    migrated.map_err(|e| Internal::new(format!("migrating the PostgreSQL database at {target}: {e}")))?;
    // The server's pool: sqlx's `Any` driver, as on SQLite (`store::Db`).
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(super::BUSY_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| Internal::new(format!("connecting to PostgreSQL at {target}: {e}")))
}

/// A PostgreSQL URL, which may hold a password: `Debug` shows where it
/// goes (`user@host:port/database`), never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Url(String);

impl Url {
    /// Wraps `--db`'s value.
    #[must_use]
    pub fn new(url: String) -> Self {
        Self(url)
    }

    /// The URL itself, password included: for connecting only.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match PgConnectOptions::from_str(&self.0) {
            Ok(options) => f.write_str(&describe(&options)),
            Err(_) => f.write_str("<not a PostgreSQL URL>"),
        }
    }
}

/// `user@host:port/database`: where a connection goes, without secrets.
fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing a URL's password is in reaches an error: neither a URL that
    /// does not parse nor a server that cannot be reached.
    #[tokio::test]
    async fn errors_name_the_server_never_the_password() {
        let location = crate::store::Location::parse("postgres://ann:hunter2-secret@db.example:5433/cs");
        assert_eq!(format!("{location}"), "postgres://ann@db.example:5433/cs");
        assert_eq!(format!("{location:?}"), "Location(postgres://ann@db.example:5433/cs)");
        let bad = crate::store::Location::parse("postgresql://ann:hunter2-secret@db.example:port/cs");
        assert!(!format!("{bad:?}").contains("hunter2"), "{bad:?}");
        for file in ["postgres.db", "./postgres://x", "countersign.db"] {
            assert_eq!(crate::store::Location::parse(file), crate::store::Location::Sqlite(file.into()), "{file}");
        }
        assert!(matches!(crate::store::Location::parse("PostgreSQL://h/d"), crate::store::Location::Postgres(_)));
        for url in [
            "postgres://ann:hunter2-secret@127.0.0.1:1/countersign",
            "postgres://ann:hunter2-secret@127.0.0.1:notaport/countersign",
        ] {
            let err = open(url).await.expect_err(url).to_string();
            assert!(!err.contains("hunter2"), "{url}: {err}");
            assert!(err.contains("PostgreSQL"), "{url}: {err}");
        }
        let err = open("postgres://ann:hunter2-secret@127.0.0.1:1/countersign").await.expect_err("refused").to_string();
        assert!(err.starts_with("connecting to PostgreSQL at ann@127.0.0.1:1/countersign: "), "{err}");
    }
}
