//! Where SQLite's and PostgreSQL's SQL differ, one function per construct,
//! each giving the text for the database a pool is on. Everything else is
//! written once in the dialects' common part (`$n` placeholders, `LIMIT`,
//! `CASE`, `COALESCE`, `EXISTS`).
//!
//! The schema keeps JSON as TEXT in both databases (one migration set), so
//! PostgreSQL casts it to `jsonb` where a statement looks inside.

use super::Db;

/// The database a pool is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (a file).
    Sqlite,
    /// PostgreSQL (a server).
    Postgres,
}

impl Dialect {
    /// The dialect of `db`'s database.
    #[must_use]
    pub fn of(db: &Db) -> Self {
        Self::of_scheme(db.connect_options().database_url.scheme())
    }

    /// The dialect of the database `conn` is connected to.
    #[must_use]
    pub fn of_conn(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name() == "SQLite" {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// The dialect of a database URL's scheme: `sqlite`, else PostgreSQL
    /// (the only other database the server opens).
    #[must_use]
    pub fn of_scheme(scheme: &str) -> Self {
        if scheme == "sqlite" {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// True when the JSON array in the TEXT column `column` holds the
    /// string bound as `param` (`$n`).
    #[must_use]
    pub fn json_array_has_text(self, column: &str, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("EXISTS (SELECT 1 FROM json_each({column}) AS e WHERE e.value = {param})"),
            Dialect::Postgres => format!("jsonb_exists({column}::jsonb, {param})"),
        }
    }

    /// True when the JSON array of objects in the TEXT column `column` has
    /// an object whose `key` is the string bound as `param`.
    #[must_use]
    pub fn json_array_has_object_with(self, column: &str, key: &str, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "EXISTS (SELECT 1 FROM json_each({column}) AS e WHERE json_extract(e.value, '$.{key}') = {param})"
            ),
            Dialect::Postgres => {
                format!("EXISTS (SELECT 1 FROM jsonb_array_elements({column}::jsonb) AS e(v) WHERE e.v->>'{key}' = {param})")
            }
        }
    }

    /// The values of `expr` over a group as a JSON array, as TEXT (`[]` for
    /// no rows).
    #[must_use]
    pub fn json_array_of(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_group_array({expr})"),
            Dialect::Postgres => format!("COALESCE(json_agg({expr})::text, '[]')"),
        }
    }
}

/// The smaller of two values (SQLite's two-argument `min`, PostgreSQL's
/// `LEAST`), written the way both read.
#[must_use]
pub fn least(a: &str, b: &str) -> String {
    format!("(CASE WHEN {a} <= {b} THEN {a} ELSE {b} END)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each construct answers as it should on SQLite; on PostgreSQL the
    /// server's suite exercises them through the admin lists and notices
    /// (`cargo xtask test`'s run of it on a throwaway cluster).
    #[tokio::test]
    async fn each_construct_answers_on_sqlite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = super::super::open(&dir.path().join("t.db")).await.expect("open");
        assert_eq!(Dialect::of(&db), Dialect::Sqlite);
        let d = Dialect::Sqlite;
        let has = |sql: String, bind: &'static str| {
            let db = db.clone();
            async move {
                sqlx::query_scalar::<_, i64>(&format!("SELECT CASE WHEN {sql} THEN 1 ELSE 0 END FROM (SELECT '[\"a\",\"admin\"]' AS c, '[{{\"type\":\"x\"}},{{\"type\":\"y\"}}]' AS o) AS t"))
                    .bind(bind)
                    .fetch_one(&db)
                    .await
                    .expect("query")
            }
        };
        assert_eq!(has(d.json_array_has_text("t.c", "$1"), "admin").await, 1);
        assert_eq!(has(d.json_array_has_text("t.c", "$1"), "adm").await, 0);
        assert_eq!(has(d.json_array_has_object_with("t.o", "type", "$1"), "y").await, 1);
        assert_eq!(has(d.json_array_has_object_with("t.o", "type", "$1"), "z").await, 0);
        let empty: String =
            sqlx::query_scalar(&format!("SELECT {} FROM (SELECT 1 AS v WHERE 0) AS t", d.json_array_of("t.v")))
                .fetch_one(&db)
                .await
                .expect("empty");
        assert_eq!(empty, "[]");
        let two: i64 = sqlx::query_scalar(&format!("SELECT {}", least("2", "3"))).fetch_one(&db).await.expect("least");
        assert_eq!(two, 2);
    }
}
