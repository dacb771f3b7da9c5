//! The stored WebAuthn credentials (`webauthn_credentials`).

use countersign_protocol::device::WebauthnCredential;
use sqlx::{AnyConnection, Row as _};
use webauthn_rs::prelude::Passkey;

use crate::error::Internal;
use crate::store::{self, Db};

/// A credential as the step-up needs it.
pub struct Stored {
    /// The webauthn-rs credential.
    pub passkey: Passkey,
    /// The highest signature counter seen.
    pub counter: u32,
    /// Refused since (a counter regression).
    pub flagged_at: Option<u64>,
}

/// The user's credentials, oldest first.
///
/// # Errors
/// The database failed.
pub async fn list(db: &Db, sub: &str) -> Result<Vec<WebauthnCredential>, Internal> {
    let rows = sqlx::query(
        "SELECT credential_id, name, created_at, last_used_at, flagged_at FROM webauthn_credentials \
         WHERE sub = $1 ORDER BY created_at, credential_id",
    )
    .bind(sub)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WebauthnCredential {
                credential_id: r.try_get("credential_id")?,
                name: r.try_get("name")?,
                created_at: store::from_ts(r.try_get("created_at")?),
                last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(store::from_ts),
                flagged_at: r.try_get::<Option<i64>, _>("flagged_at")?.map(store::from_ts),
            })
        })
        .collect()
}

/// The ids of all the user's credentials (to exclude at registration).
///
/// # Errors
/// The database failed.
pub async fn passkeys(db: &Db, sub: &str) -> Result<Vec<Passkey>, Internal> {
    let rows = sqlx::query("SELECT passkey FROM webauthn_credentials WHERE sub = $1").bind(sub).fetch_all(db).await?;
    rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("passkey")?)?)).collect()
}

/// The user's credential `credential_id`.
///
/// # Errors
/// The database failed or the row is unreadable.
pub async fn find(conn: &mut AnyConnection, sub: &str, credential_id: &str) -> Result<Option<Stored>, Internal> {
    let row = sqlx::query(
        "SELECT passkey, counter, flagged_at FROM webauthn_credentials WHERE sub = $1 AND credential_id = $2",
    )
    .bind(sub)
    .bind(credential_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Stored {
        passkey: serde_json::from_str(&row.try_get::<String, _>("passkey")?)?,
        counter: u32::try_from(row.try_get::<i64, _>("counter")?).map_err(|_| Internal::new("stored counter"))?,
        flagged_at: row.try_get::<Option<i64>, _>("flagged_at")?.map(store::from_ts),
    }))
}

/// Removes the user's credential; `false` when there is none.
///
/// # Errors
/// The database failed.
pub async fn remove(
    db: &Db,
    sub: &str,
    credential_id: &str,
    by: &crate::audit::Actor<'_>,
    now: u64,
) -> Result<bool, Internal> {
    let mut tx = crate::store::begin(db).await?;
    let done = sqlx::query("DELETE FROM webauthn_credentials WHERE sub = $1 AND credential_id = $2")
        .bind(sub)
        .bind(credential_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::audit::append(
        &mut tx,
        now,
        &crate::audit::Record::new(by.clone(), countersign_protocol::admin::AuditAction::SecurityKeyRemoved)
            .target(credential_id)
            .user(sub),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Flags a credential whose counter went backwards, in the caller's
/// transaction (of its own, not the decision's: it stays flagged though the
/// approval is refused).
///
/// # Errors
/// The database failed.
pub async fn flag(conn: &mut AnyConnection, credential_id: &str, reason: &str, now: u64) -> Result<(), Internal> {
    sqlx::query(
        "UPDATE webauthn_credentials SET flagged_at = $1, flag_reason = $2 \
         WHERE credential_id = $3 AND flagged_at IS NULL",
    )
    .bind(store::ts(now))
    .bind(reason)
    .bind(credential_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
