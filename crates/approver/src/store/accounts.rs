//! `accounts`: one row per enrollment.

use super::{from_ts, ts, Store, Tx};
use crate::error::{Error, Result};
use crate::keys::KeyStoreKind;
use countersign_protocol::device::{DeviceId, EnrolledUser, EventId, Issuer, Role};
use countersign_protocol::jws::PublicJwk;
use serde::Serialize;
use sqlx::Row as _;

/// An enrolled device of one user at one server.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Local id (random, base64url); also the key id in the key store.
    pub id: String,
    /// The server.
    pub issuer: Issuer,
    /// `countersign_device_endpoint` from the server's metadata.
    pub device_endpoint: String,
    /// The server's id of this device.
    pub device_id: DeviceId,
    /// The user, as the server named it at enrollment.
    pub user: EnrolledUser,
    /// Seconds between polls when push is down.
    pub poll_interval: u64,
    /// Where the private key is.
    pub key_store: KeyStoreKind,
    /// The device's public key (for offline receipt checks).
    pub public_jwk: PublicJwk,
    /// Last SSE event id seen (`Last-Event-ID` on reconnect).
    pub last_event_id: Option<EventId>,
    /// When it was enrolled.
    pub created_at: u64,
}

const COLUMNS: &str = "id, issuer, device_endpoint, device_id, user_sub, user_name, roles, poll_interval, \
                       key_store, public_jwk, last_event_id, created_at";

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Account> {
    let bad = |what: &str, e: &dyn std::fmt::Display| Error::Store(format!("account row, {what}: {e}"));
    let roles: String = row.try_get("roles")?;
    let roles: Vec<Role> = serde_json::from_str(&roles).map_err(|e| bad("roles", &e))?;
    let jwk: String = row.try_get("public_jwk")?;
    let key_store: String = row.try_get("key_store")?;
    let last: Option<String> = row.try_get("last_event_id")?;
    Ok(Account {
        id: row.try_get("id")?,
        issuer: Issuer::new(row.try_get::<String, _>("issuer")?).map_err(|e| bad("issuer", &e))?,
        device_endpoint: row.try_get("device_endpoint")?,
        device_id: DeviceId::new(row.try_get::<String, _>("device_id")?).map_err(|e| bad("device_id", &e))?,
        user: EnrolledUser { sub: row.try_get("user_sub")?, name: row.try_get("user_name")?, roles },
        poll_interval: from_ts(row.try_get("poll_interval")?),
        key_store: KeyStoreKind::parse(&key_store).ok_or_else(|| bad("key_store", &key_store))?,
        public_jwk: serde_json::from_str(&jwk).map_err(|e| bad("public_jwk", &e))?,
        last_event_id: last.map(EventId::new).transpose().map_err(|e| bad("last_event_id", &e))?,
        created_at: from_ts(row.try_get("created_at")?),
    })
}

impl Store {
    /// Inserts a new account in one transaction.
    ///
    /// # Errors
    /// The database failed (e.g. the same device enrolled twice).
    pub async fn insert_account(&self, a: &Account) -> Result<()> {
        let mut tx = self.begin().await?;
        insert(&mut tx, a).await?;
        tx.commit().await?;
        Ok(())
    }

    /// All accounts, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts ORDER BY created_at, id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// One account.
    ///
    /// # Errors
    /// [`Error::UnknownAccount`].
    pub async fn account(&self, id: &str) -> Result<Account> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| Error::UnknownAccount(id.to_owned()))?;
        from_row(&row)
    }

    /// Deletes an account with its inbox, history and outbox (one
    /// transaction).
    ///
    /// # Errors
    /// [`Error::UnknownAccount`].
    pub async fn delete_account(&self, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        for table in ["outbox", "history", "inbox"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1")).bind(id).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM accounts WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(Error::UnknownAccount(id.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the user of an account as the server now names it (name and
    /// roles, read at every sync); `true` when it changed.
    ///
    /// # Errors
    /// The database failed.
    pub async fn set_user(&self, account_id: &str, user: &EnrolledUser) -> Result<bool> {
        let roles = serde_json::to_string(&user.roles).map_err(|e| Error::Store(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE accounts SET user_name = $1, roles = $2 WHERE id = $3 AND user_sub = $4 \
             AND (user_name <> $1 OR roles <> $2)",
        )
        .bind(&user.name)
        .bind(roles)
        .bind(account_id)
        .bind(&user.sub)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Remembers the last SSE event id of an account.
    ///
    /// # Errors
    /// The database failed.
    pub async fn set_last_event_id(&self, account_id: &str, id: &EventId) -> Result<()> {
        sqlx::query("UPDATE accounts SET last_event_id = $1 WHERE id = $2")
            .bind(id.as_str())
            .bind(account_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

async fn insert(tx: &mut Tx, a: &Account) -> Result<()> {
    let roles = serde_json::to_string(&a.user.roles).map_err(|e| Error::Store(e.to_string()))?;
    let jwk = serde_json::to_string(&a.public_jwk).map_err(|e| Error::Store(e.to_string()))?;
    sqlx::query(&format!(
        "INSERT INTO accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&a.id)
    .bind(a.issuer.as_str())
    .bind(&a.device_endpoint)
    .bind(a.device_id.as_str())
    .bind(&a.user.sub)
    .bind(&a.user.name)
    .bind(roles)
    .bind(ts(a.poll_interval))
    .bind(a.key_store.as_str())
    .bind(jwk)
    .bind(a.last_event_id.as_ref().map(EventId::as_str))
    .bind(ts(a.created_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
