//! The schema's migrations, one set of files for both databases.
//!
//! `migrations/` is written in the SQL that SQLite and PostgreSQL share
//! (BIGINT times and flags, TEXT for JSON and base64url). SQLite runs the
//! files as they are. PostgreSQL runs the same files with the few
//! statements where the dialects differ replaced, listed in
//! [`POSTGRES_DIFFERENCES`]; each replacement must match exactly once, so a
//! file edited under it fails loudly (a test applies them all) instead of
//! leaving the two schemas apart. The SQLite files stay byte for byte what
//! existing databases applied (sqlx checks each applied migration's
//! checksum at every start).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, Migrator};

use crate::error::Internal;

/// The migrations as SQLite runs them.
pub static SQLITE: Migrator = sqlx::migrate!("./migrations");

/// A statement of one migration as PostgreSQL runs it.
pub struct Difference {
    /// The migration's version.
    pub version: i64,
    /// The text in the shared file (exactly once in it).
    pub sqlite: &'static str,
    /// What PostgreSQL runs in its place.
    pub postgres: &'static str,
    /// Why they differ.
    pub why: &'static str,
}

/// Where PostgreSQL's schema differs from the shared files.
pub const POSTGRES_DIFFERENCES: &[Difference] = &[
    Difference {
        version: 1,
        sqlite: "seq             INTEGER PRIMARY KEY AUTOINCREMENT,",
        postgres: "seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,",
        why: "the event log's key, assigned by the database: SQLite's AUTOINCREMENT rowid, \
              PostgreSQL's identity column (INTEGER is 32 bits there)",
    },
    Difference {
        version: 10,
        sqlite: "seq     INTEGER PRIMARY KEY,",
        postgres: "seq     BIGINT PRIMARY KEY,",
        why: "the audit log's key, assigned by the server (the hash chain's order): \
              INTEGER is 32 bits on PostgreSQL",
    },
    Difference {
        version: 15,
        sqlite: "-- triggers: SQLite\n\
CREATE TRIGGER clients_inserted AFTER INSERT ON clients BEGIN UPDATE record_generation SET n = n + 1; END;\n\
CREATE TRIGGER clients_updated AFTER UPDATE ON clients BEGIN UPDATE record_generation SET n = n + 1; END;\n\
CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN UPDATE record_generation SET n = n + 1; END;\n\
CREATE TRIGGER users_inserted AFTER INSERT ON users BEGIN UPDATE record_generation SET n = n + 1; END;\n\
CREATE TRIGGER users_updated AFTER UPDATE ON users BEGIN UPDATE record_generation SET n = n + 1; END;\n\
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN UPDATE record_generation SET n = n + 1; END;\n\
-- end of triggers",
        postgres: "-- (no triggers on PostgreSQL)",
        why: "the record cache's generation is SQLite's (PostgreSQL runs no request writer and caches no \
              records); SQLite's trigger syntax is not PostgreSQL's",
    },
];

/// The migrations as PostgreSQL runs them (see the module's comment).
///
/// # Errors
/// A listed difference does not match its file exactly once.
pub async fn postgres() -> Result<Migrator, Internal> {
    Migrator::new(PostgresSource).await.map_err(|e| Internal::new(format!("the PostgreSQL migrations: {e}")))
}

/// [`SQLITE`]'s files with [`POSTGRES_DIFFERENCES`] applied.
///
/// # Errors
/// A listed difference does not match its file exactly once, or names a
/// version that does not exist.
pub fn postgres_migrations() -> Result<Vec<Migration>, String> {
    with_differences(POSTGRES_DIFFERENCES)
}

fn with_differences(differences: &[Difference]) -> Result<Vec<Migration>, String> {
    for d in differences {
        if !SQLITE.iter().any(|m| m.version == d.version) {
            return Err(format!("a PostgreSQL difference names migration {}, which does not exist", d.version));
        }
    }
    SQLITE
        .iter()
        .map(|m| {
            let mut sql = m.sql.to_string();
            for d in differences.iter().filter(|d| d.version == m.version) {
                let found = sql.matches(d.sqlite).count();
                if found != 1 {
                    return Err(format!(
                        "migration {} ({}): `{}` is there {found} times, not once (PostgreSQL runs `{}` in its place: {})",
                        m.version, m.description, d.sqlite, d.postgres, d.why
                    ));
                }
                sql = sql.replace(d.sqlite, d.postgres);
            }
            Ok(Migration::new(m.version, m.description.clone(), m.migration_type, Cow::Owned(sql), m.no_tx))
        })
        .collect()
}

#[derive(Debug)]
struct PostgresSource;

impl MigrationSource<'static> for PostgresSource {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async { postgres_migrations().map_err(BoxDynError::from) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_runs_the_shared_files_with_each_difference_once() {
        let pg = postgres_migrations().expect("every difference matches once");
        assert_eq!(pg.len(), SQLITE.iter().count());
        for (shared, pg) in SQLITE.iter().zip(&pg) {
            assert_eq!((pg.version, &pg.description), (shared.version, &shared.description));
            let differences: Vec<_> = POSTGRES_DIFFERENCES.iter().filter(|d| d.version == shared.version).collect();
            if differences.is_empty() {
                assert_eq!(pg.sql, shared.sql, "migration {} is shared as it is", shared.version);
                assert_eq!(pg.checksum, shared.checksum);
            }
            for d in differences {
                assert!(pg.sql.contains(d.postgres) && !pg.sql.contains(d.sqlite), "migration {}", shared.version);
            }
            // PostgreSQL's INTEGER is 32 bits: every integer column is BIGINT.
            assert!(!pg.sql.contains("INTEGER"), "migration {}: {}", pg.version, pg.sql);
        }
    }

    #[test]
    fn a_difference_that_does_not_match_once_is_an_error() {
        let differs = |version, sqlite| [Difference { version, sqlite, postgres: "x", why: "test" }];
        let err = with_differences(&differs(1, "no such text")).expect_err("missing");
        assert!(err.contains("migration 1 (initial): `no such text` is there 0 times"), "{err}");
        let err = with_differences(&differs(1, "BIGINT NOT NULL")).expect_err("several");
        assert!(err.contains("is there") && !err.contains(" 1 times"), "{err}");
        let err = with_differences(&differs(9999, "seq")).expect_err("no such migration");
        assert!(err.contains("migration 9999, which does not exist"), "{err}");
    }
}
