//! A large organisation for the admin benchmarks: users, clients, grants
//! and audit entries written straight into a [`TestServer`]'s SQLite file,
//! much faster than making them through the API. The audit entries continue
//! the chain the server started and are hashed as the server hashes them,
//! so [`crate::audit::verify`] passes over them.
//!
//! Used by `crates/server/benches/admin.rs` (the admin API) and
//! `benches/desktop.rs` (the desktop app's admin lists).
//!
//! A failure panics with the reason: this is a benchmark's setup.

use super::{details, TestServer};
use countersign_protocol::admin::{AuditAction, AuditEntry};
use sqlx::Connection as _;

/// Users made by [`admin_data`] (`u_bench_0000` …; see [`user_sub`]).
pub const USERS: u64 = 1000;
/// Clients made by [`admin_data`] (`cli_bench_00` …; see [`client_id`]).
pub const CLIENTS: u64 = 50;

/// The `sub` of seeded user `n` (`0..USERS`).
#[must_use]
pub fn user_sub(n: u64) -> String {
    format!("u_bench_{n:04}")
}

/// The `client_id` of seeded client `n` (`0..CLIENTS`).
#[must_use]
pub fn client_id(n: u64) -> String {
    format!("cli_bench_{n:02}")
}

/// What [`admin_data`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// Audit entries added.
    pub audit: u64,
    /// Grants (issued tokens) added; one in ten revoked.
    pub grants: u64,
    /// Entries in the whole audit log, which verifies (the server's own
    /// entries and the seeded ones).
    pub log_entries: u64,
}

/// Writes [`USERS`] users, [`CLIENTS`] clients, `grants` grants (tokens
/// issued one second apart up to now, 10 minutes long, one in ten revoked,
/// spread over the users and clients) and `audit` audit entries (request
/// created, decided, token issued, revoked, in turn, chained after the
/// server's last entry) into the server's database, in one transaction, with
/// foreign keys off (the grants name requests that were never stored); then
/// verifies the audit log.
///
/// The server keeps running; it should not write audit entries meanwhile
/// (the seeded chain would fork).
///
/// # Panics
/// If the database refuses a statement, or the log does not verify.
pub async fn admin_data(server: &TestServer, audit: u64, grants: u64) -> Seeded {
    let mut conn = sqlx::AnyConnection::connect(&format!("sqlite://{}", server.db_path.display())).await.expect("db");
    sqlx::raw_sql("PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 10000;").execute(&mut conn).await.expect("pragma");
    let mut tx = conn.begin().await.expect("begin");
    let now = server.state.now();
    let now_i = i64::try_from(now).unwrap_or(0);
    for u in 0..USERS {
        sqlx::query("INSERT INTO users (sub, username, name, roles, created_at) VALUES ($1, $2, $3, '[\"user\"]', $4)")
            .bind(user_sub(u))
            .bind(format!("bench{u}"))
            .bind(format!("Bench User {u}"))
            .bind(now_i - 1000 + i64::try_from(u).unwrap_or(0))
            .execute(&mut *tx)
            .await
            .expect("user");
    }
    for c in 0..CLIENTS {
        sqlx::query(
            "INSERT INTO clients (client_id, auth_method, delivery_mode, client_name, details_types, metadata, \
             created_at) VALUES ($1, 'client_secret_basic', 'poll', $2, '[]', '{}', $3)",
        )
        .bind(client_id(c))
        .bind(format!("Bench agent {c}"))
        .bind(now_i - 100 + i64::try_from(c).unwrap_or(0))
        .execute(&mut *tx)
        .await
        .expect("client");
    }
    let claims = serde_json::json!({ "scope": "openid payments", "authorization_details": details() }).to_string();
    for g in 0..grants {
        let issued = now_i - i64::try_from(grants - g).unwrap_or(0);
        sqlx::query(
            "INSERT INTO tokens (jti, request_id, client_id, sub, claims, issued_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(format!("jti_bench_{g:06}"))
        .bind(format!("req_bench_{g:06}"))
        .bind(client_id(g % CLIENTS))
        .bind(user_sub(g % USERS))
        .bind(&claims)
        .bind(issued)
        .bind(issued + 600)
        .bind((g % 10 == 0).then_some(issued + 60))
        .execute(&mut *tx)
        .await
        .expect("token");
    }
    // Continue the chain the server started.
    let last: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await
        .expect("last audit entry");
    let (mut seq, mut prev) = last.map_or((0, String::new()), |(s, h)| (u64::try_from(s).unwrap_or(0), h));
    let actions =
        [AuditAction::RequestCreated, AuditAction::RequestDecided, AuditAction::TokenIssued, AuditAction::TokenRevoked];
    for i in 0..audit {
        seq += 1;
        let mut e = AuditEntry {
            seq,
            at: now,
            actor: format!("client:{}", client_id(i % CLIENTS)),
            action: actions[usize::try_from(i % 4).unwrap_or(0)].clone(),
            target: Some(format!("req_bench_{i:06}")),
            sub: Some(user_sub(i % USERS)),
            data: serde_json::json!({ "risk": "high", "types": ["payment_initiation"] }),
            hash: String::new(),
        };
        e.hash = e.chain_hash(&prev).expect("hash");
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, target, sub, data, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(i64::try_from(e.seq).unwrap_or(0))
        .bind(i64::try_from(e.at).unwrap_or(0))
        .bind(&e.actor)
        .bind(e.action.as_str())
        .bind(&e.target)
        .bind(&e.sub)
        .bind(e.data.to_string())
        .bind(&e.hash)
        .execute(&mut *tx)
        .await
        .expect("audit entry");
        prev = e.hash;
    }
    tx.commit().await.expect("commit");
    conn.close().await.expect("close");
    let verified = match crate::audit::verify(&server.state.db).await.expect("db") {
        Ok(v) => v,
        Err(bad) => panic!("the seeded audit log does not verify: {bad}"),
    };
    Seeded { audit, grants, log_entries: verified.count }
}
