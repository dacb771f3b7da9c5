//! A client's token policy set by the operator (`client lifetimes`): its
//! access token lifetime, its refresh token lifetimes, and whether it may
//! hold refresh tokens at all (docs/server.md, "Refresh tokens").

use countersign_protocol::admin::AuditAction;

use super::{Actor, AdminError, Db};
use crate::audit::Record;
use crate::store;

/// One lifetime to set: `None` leaves it, `Some(None)` returns to the
/// server's (`default`), `Some(Some(secs))` sets it (capped by the server's
/// maximum when used).
pub type LifetimeChange = Option<Option<u64>>;

/// What `client lifetimes` changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenPolicyChange {
    /// `access_token_lifetime`.
    pub access_token: LifetimeChange,
    /// `refresh_token_lifetime` (the family's absolute lifetime).
    pub refresh: LifetimeChange,
    /// `refresh_token_idle_lifetime`.
    pub refresh_idle: LifetimeChange,
    /// Whether the client may hold refresh tokens.
    pub refresh_tokens: Option<bool>,
}

/// A lifetime flag's value: seconds (at least 1) or `default`.
///
/// # Errors
/// [`AdminError::Invalid`] for anything else.
pub fn parse_lifetime(flag: &str, value: &str) -> Result<Option<u64>, AdminError> {
    if value == "default" {
        return Ok(None);
    }
    match value.parse::<u64>() {
        Ok(v) if v >= 1 => Ok(Some(v)),
        _ => Err(AdminError::Invalid(format!("{flag}: seconds (at least 1) or default, not {value:?}"))),
    }
}

/// Sets `client_id`'s token policy in one transaction, audited as
/// `client.policy`. Changing whether it may hold refresh tokens to "no"
/// revokes its live refresh tokens.
///
/// # Errors
/// [`AdminError::NotFound`] for an unknown client; the database.
pub async fn set_client_token_policy(
    db: &Db,
    client_id: &str,
    change: &TokenPolicyChange,
    by: &Actor<'_>,
    now: u64,
) -> Result<(), AdminError> {
    let mut tx = store::begin(db).await?;
    let known =
        sqlx::query("SELECT 1 FROM clients WHERE client_id = $1").bind(client_id).fetch_optional(&mut *tx).await?;
    if known.is_none() {
        return Err(AdminError::NotFound(format!("client {client_id:?}")));
    }
    let mut data = serde_json::Map::new();
    for (column, value) in [
        ("access_token_lifetime", change.access_token),
        ("refresh_token_lifetime", change.refresh),
        ("refresh_token_idle_lifetime", change.refresh_idle),
    ] {
        let Some(value) = value else { continue };
        // The column names are the fixed ones above.
        sqlx::query(&format!("UPDATE clients SET {column} = $1 WHERE client_id = $2"))
            .bind(value.map(store::ts))
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        data.insert(column.into(), value.map_or_else(|| serde_json::json!("default"), |v| serde_json::json!(v)));
    }
    if let Some(allowed) = change.refresh_tokens {
        sqlx::query("UPDATE clients SET refresh_tokens = $1 WHERE client_id = $2")
            .bind(store::flag(allowed))
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        data.insert("refresh_tokens".into(), serde_json::json!(allowed));
        if !allowed {
            let n = crate::oauth::refresh::revoke_where(&mut tx, "client_id = $2", client_id, None, now).await?;
            data.insert("refresh_tokens_revoked".into(), serde_json::json!(n));
        }
    }
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::ClientPolicy).target(client_id).data(serde_json::Value::Object(data)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(client_id, "client token policy changed");
    Ok(())
}
