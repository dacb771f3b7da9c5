//! The schema on PostgreSQL, on a throwaway cluster (`testing::postgres`):
//! the migrations bring an empty database to the same tables, columns,
//! keys and indexes as SQLite's; several instances starting at once apply
//! them once; a schema newer than the server is refused. Run by
//! `cargo xtask test`, which installs PostgreSQL.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use countersign_server::testing::postgres::PostgresCluster;
use countersign_server::testing::{open_postgres, open_sqlite, SQLITE_MIGRATIONS};
use sqlx::Row as _;

/// (table, column, type, not null, part of the primary key), the type as
/// the schema's conventions name it: `bigint` or `text`.
type Column = (String, String, String, bool, bool);

/// A database of its own on a throwaway cluster for the binary to serve
/// (the cluster lives as long as what is returned), and a folder for its
/// key files.
async fn served_database(name: &str) -> (PostgresCluster, String, tempfile::TempDir) {
    let cluster = PostgresCluster::start().await.unwrap();
    let url = cluster.create_database(name).await.unwrap();
    (cluster, url, tempfile::tempdir().unwrap())
}

async fn sqlite_columns(db: &sqlx::AnyPool) -> BTreeSet<Column> {
    let rows = sqlx::query(
        "SELECT m.name AS t, c.name AS c, lower(c.type) AS ty, c.\"notnull\" AS nn, c.pk AS pk \
         FROM sqlite_master m, pragma_table_info(m.name) c \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            let ty: String = r.get("ty");
            // SQLite's INTEGER PRIMARY KEY is its 64-bit rowid: BIGINT.
            let ty = if ty == "integer" { "bigint".to_string() } else { ty };
            let pk: i64 = r.get("pk");
            // A rowid key is NOT NULL though SQLite's table_info says 0.
            let not_null = r.get::<i64, _>("nn") == 1 || pk > 0;
            (r.get("t"), r.get("c"), ty, not_null, pk > 0)
        })
        .collect()
}

async fn postgres_columns(db: &sqlx::AnyPool) -> BTreeSet<Column> {
    let rows = sqlx::query(
        "SELECT c.table_name::text AS t, c.column_name::text AS c, c.data_type::text AS ty, \
                c.is_nullable = 'NO' AS nn, \
                EXISTS (SELECT 1 FROM information_schema.table_constraints k \
                        JOIN information_schema.key_column_usage u \
                          ON u.constraint_name = k.constraint_name AND u.table_name = k.table_name \
                        WHERE k.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name \
                          AND u.column_name = c.column_name) AS pk \
         FROM information_schema.columns c \
         WHERE c.table_schema = 'public' AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    rows.iter().map(|r| (r.get("t"), r.get("c"), r.get("ty"), r.get("nn"), r.get("pk"))).collect()
}

/// Index name → (table, unique), the indexes the migrations made by name
/// (not those of primary keys and UNIQUE constraints, which each database
/// names its own way).
async fn sqlite_indexes(db: &sqlx::AnyPool) -> BTreeSet<(String, String, bool)> {
    let rows = sqlx::query(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name <> '_sqlx_migrations'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            let sql: String = r.get("sql");
            (r.get("name"), r.get("tbl_name"), sql.to_uppercase().starts_with("CREATE UNIQUE INDEX"))
        })
        .collect()
}

async fn postgres_indexes(db: &sqlx::AnyPool) -> BTreeSet<(String, String, bool)> {
    let rows = sqlx::query(
        "SELECT i.indexname::text AS name, i.tablename::text AS t, x.indisunique AS u \
         FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname \
         JOIN pg_index x ON x.indexrelid = c.oid \
         WHERE i.schemaname = 'public' AND i.tablename <> '_sqlx_migrations' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)",
    )
    .fetch_all(db)
    .await
    .unwrap();
    rows.iter().map(|r| (r.get("name"), r.get("t"), r.get("u"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries (cargo xtask test installs them)"]
async fn the_migrations_give_postgres_the_same_schema_as_sqlite() {
    let cluster = PostgresCluster::start().await.unwrap();
    let pg = open_postgres(&cluster.create_database("schema").await.unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open_sqlite(&dir.path().join("schema.db")).await.unwrap();

    let (lite, post) = (sqlite_columns(&sqlite).await, postgres_columns(&pg).await);
    assert!(lite.len() > 100, "{} columns", lite.len());
    let only = |a: &BTreeSet<Column>, b: &BTreeSet<Column>| a.difference(b).cloned().collect::<Vec<_>>();
    assert_eq!(
        (only(&lite, &post), only(&post, &lite)),
        (vec![], vec![]),
        "columns only in SQLite, only in PostgreSQL"
    );
    let types: BTreeSet<&str> = post.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(types, BTreeSet::from(["bigint", "text"]), "the schema's two types");

    let (lite, post) = (sqlite_indexes(&sqlite).await, postgres_indexes(&pg).await);
    assert!(lite.iter().any(|i| i.0 == "auth_requests_user"), "{lite:?}");
    assert_eq!(lite, post, "the same named indexes");

    // The event log's key is assigned by the database, in order.
    let seqs: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO events (sub, kind, data, created_at) VALUES ('u', 'k', '{}', 1), ('u', 'k', '{}', 2) RETURNING seq",
    )
    .fetch_all(&pg)
    .await
    .unwrap();
    assert!(seqs.len() == 2 && seqs[0] < seqs[1], "{seqs:?}");
    // Times past 2038 and 32 bits fit in every integer column (BIGINT).
    sqlx::query("INSERT INTO audit_log (seq, at, actor, action, data, hash) VALUES ($1, $2, 'a', 'b', '{}', 'h')")
        .bind(i64::from(u32::MAX) + 1)
        .bind(i64::from(u32::MAX) * 1000)
        .execute(&pg)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries (cargo xtask test installs them)"]
async fn several_instances_starting_at_once_migrate_once() {
    let cluster = PostgresCluster::start().await.unwrap();
    let url = cluster.create_database("together").await.unwrap();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { open_postgres(&url).await })
        })
        .collect();
    let mut pools = Vec::new();
    for start in starts {
        pools.push(start.await.unwrap().expect("every instance starts"));
    }
    let applied: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pools[0])
        .await
        .unwrap();
    let versions: Vec<i64> = SQLITE_MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied, versions.iter().map(|v| (*v, true)).collect::<Vec<_>>(), "each migration once");
    // No instance was left holding the migrations' advisory lock.
    let locks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'")
        .fetch_one(&pools[0])
        .await
        .unwrap();
    assert_eq!(locks, 0);
    // And a later start finds nothing to do.
    open_postgres(&url).await.expect("a restart");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&pools[0]).await.unwrap();
    assert_eq!(usize::try_from(count).unwrap(), versions.len());
}

/// A server older than the schema (a newer instance migrated it during a
/// rolling upgrade) refuses to start rather than write rows the newer
/// schema may not expect; so does one whose migration was edited after it
/// was applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries (cargo xtask test installs them)"]
async fn a_schema_this_server_does_not_know_is_refused() {
    let cluster = PostgresCluster::start().await.unwrap();
    let url = cluster.create_database("newer").await.unwrap();
    let pg = open_postgres(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999, 'from a newer server', TRUE, '\\x00'::bytea, 1)",
    )
    .execute(&pg)
    .await
    .unwrap();
    let err = open_postgres(&url).await.expect_err("newer schema").to_string();
    assert!(err.contains("migrating the PostgreSQL database at postgres@127.0.0.1:"), "{err}");
    assert!(err.contains("99999"), "{err}");

    let url = cluster.create_database("edited").await.unwrap();
    let pg = open_postgres(&url).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea WHERE version = 1").execute(&pg).await.unwrap();
    let err = open_postgres(&url).await.expect_err("edited migration").to_string();
    assert!(err.contains("migration 1 was previously applied but has been modified"), "{err}");
}

/// The hot paths' statements as the pool runs them (`HotPath::Pool`: the
/// fatigue counts, the request's insert, the client and user reads), and
/// the sweeper's pruning of the event log, are
/// valid PostgreSQL on the migrated schema: PostgreSQL parses, plans and
/// types each one (`describe`), which fails on a SQLite-only function, a
/// subquery without its alias or a type it cannot compare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries (cargo xtask test installs them)"]
async fn the_hot_paths_statements_are_valid_postgresql() {
    use sqlx::Executor as _;
    let cluster = PostgresCluster::start().await.unwrap();
    let pg = open_postgres(&cluster.create_database("statements").await.unwrap()).await.unwrap();
    let statements = countersign_server::testing::pool_statements();
    assert!(statements.len() >= 12, "{statements:?}");
    for sql in &statements {
        assert!(!sql.contains('?'), "{sql}");
        let described = (&pg).describe(sql).await;
        assert!(described.is_ok(), "{sql}: {described:?}");
    }
    // And SQLite's own SQL fails the same way (the check can fail).
    for sqlite_only in [
        "SELECT value FROM users, json_each(users.roles) WHERE sub = $1",
        "SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1)",
        "SELECT sub FROM users WHERE sub = ?1",
    ] {
        assert!((&pg).describe(sqlite_only).await.is_err(), "{sqlite_only}");
    }
}

/// `countersign-server --db postgres://…`: the operator commands and
/// `serve` run on PostgreSQL; the secret key file must be given (every
/// instance shares it), and two instances serving one database with it
/// publish the same keys and see one audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries (cargo xtask test installs them)"]
async fn the_binary_serves_postgres_with_a_shared_secret_key_file() {
    let (_cluster, url, dir) = served_database("served").await;
    let key = dir.path().join("secret-key");
    let cli = |args: &[&str], with_key: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_countersign-server"));
        command.args(["--db", &url]);
        if with_key {
            command.arg("--secret-key-file").arg(&key);
        }
        let out = command.args(args).stdin(std::process::Stdio::null()).output().unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let (ok, said) = cli(&["user", "add", "ann", "--name", "Ann"], false);
    assert!(ok, "{said}");
    for args in [
        &["user", "set-user-code", "ann"][..],
        &["serve", "--issuer", "http://127.0.0.1:1", "--webauthn-at", "never"][..],
    ] {
        let (ok, said) = cli(args, false);
        assert!(!ok, "{args:?}: {said}");
        assert!(said.contains("a PostgreSQL database needs --secret-key-file"), "{args:?}: {said}");
    }
    assert!(!key.exists());

    let global = || vec!["--db".into(), url.clone().into(), "--secret-key-file".into(), key.clone().into_os_string()];
    let mut a = common::ServerProcess::with_args(global());
    let mut b = common::ServerProcess::with_args(global());
    a.start().await;
    b.start().await;
    assert!(key.is_file(), "made by the first start");
    // A third instance given no key file where one was expected, or a key
    // of its own, does not start (and makes no key).
    let other_key = dir.path().join("another-key");
    let third = |expected: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
            .args(["--db", &url, "--secret-key-file"])
            .arg(&other_key)
            .args(["serve", "--listen", "127.0.0.1:0", "--issuer", &a.base, "--webauthn-at", "never"])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{said}");
        assert!(said.contains(expected), "{said}");
    };
    third("is missing, and this database already has a key");
    assert!(!other_key.exists());
    countersign_server::testing::SecretKey::load_or_create(&other_key).unwrap();
    third("is not this database's");
    let jwks = |base: String| async move {
        let v: serde_json::Value = reqwest::get(format!("{base}/jwks")).await.unwrap().json().await.unwrap();
        v["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<BTreeSet<_>>()
    };
    let (ka, kb) = (jwks(a.base.clone()).await, jwks(b.base.clone()).await);
    assert_eq!(ka.len(), 1, "{ka:?}");
    assert_eq!(ka, kb, "one signing key for both");
    let (ok, said) = cli(&["user", "list"], true);
    assert!(ok && said.contains("ann"), "{said}");
    let (ok, said) = cli(&["audit", "verify"], true);
    assert!(ok, "{said}");
    // Errors name the database without a password.
    let out = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
        .args(["--db", "postgres://ann:hunter2@127.0.0.1:1/x", "user", "list"])
        .output()
        .unwrap();
    let (ok, said) = (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!ok && !said.contains("hunter2") && said.contains("ann@127.0.0.1:1/x"), "{said}");
    a.kill_9();
    b.kill_9();
}

/// Two instances of the binary on one database, as behind a load balancer:
/// the agent asks through A, A is killed with SIGKILL, the device approves
/// through B and the agent's token request at B gets the tokens; asked
/// again (at B, then at A started again) it gets the very same answer, and
/// one grant exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries (cargo xtask test installs them)"]
async fn a_flow_begun_on_an_instance_killed_with_sigkill_completes_on_the_other() {
    use countersign_protocol::device::{Decision, Issuer};
    let (_cluster, url, dir) = served_database("failover").await;
    let global = || vec!["--db".into(), url.clone().into(), "--secret-key-file".into(), dir.path().join("key").into()];
    let mut a = common::ServerProcess::with_args(global());
    let mut b = common::ServerProcess::with_args(global()).behind(&a.base);
    // The user and an enrollment ticket, through the library.
    let location = countersign_server::ops::Location::parse(&url);
    let ticket = {
        let pool = location.open().await.unwrap();
        let now = common::ClockNow::clock_now(&a);
        let by = countersign_server::ops::Actor::Operator;
        countersign_server::ops::add_user(&pool, &countersign_server::testing::new_user("kai", "Kai"), &by, now)
            .await
            .unwrap();
        let issuer = Issuer::new(a.base.clone()).unwrap();
        let link = countersign_server::ops::enrollment_link(&pool, &issuer, "kai", 600, now).await.unwrap();
        pool.close().await;
        link.ticket().clone()
    };
    a.start().await;
    b.start().await;
    let dev = common::TestDevice::enroll_at(&a.base, ticket).await;
    let agent = common::Agent::register_at(&a.base, serde_json::json!({})).await;
    let mut agent_b = agent.clone();
    agent_b.base = b.base.clone();
    let resp = agent.send("/bc-authorize", &agent.request_params("kai"), 0).await.unwrap();
    assert_eq!(resp.status(), 200);
    let ack: serde_json::Value = resp.json().await.unwrap();
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();

    a.kill_9();
    let pending = dev.pending_via(&b, Some(&b.base)).await;
    assert_eq!(pending.len(), 1, "the request made through A, listed by B");
    assert_eq!(dev.decide_via(&b, Some(&b.base), &pending[0], Decision::Approve).await.status(), 200);
    let token = |agent: common::Agent| {
        let auth_req_id = auth_req_id.clone();
        async move {
            let form = [("grant_type", "urn:openid:params:grant-type:ciba".to_owned()), ("auth_req_id", auth_req_id)];
            let resp = agent.send("/token", &form, 0).await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.bytes().await.unwrap()
        }
    };
    let first = token(agent_b.clone()).await;
    assert_eq!(token(agent_b).await, first, "asked again at B: the same answer");
    a.start().await;
    assert_eq!(token(agent).await, first, "and at A, started again");
    let pool = location.open().await.unwrap();
    let grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&pool).await.unwrap();
    assert_eq!(grants, 1, "one grant");
    pool.close().await;
    a.kill_9();
    b.kill_9();
}
