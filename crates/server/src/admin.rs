//! Operator operations, shared by the CLI, tests and (later) the admin API.

use countersign_protocol::device::{EnrollmentUri, Issuer};
use countersign_protocol::secret::{generate_url_safe, EnrollmentTicket, UserCode, TICKET_BYTES};
use serde::Serialize;
use sqlx::Row as _;

use crate::db::{self, Db};
use crate::error::Internal;
use crate::users::{User, USER_COLUMNS};
use crate::util;

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// No such user, client or device.
    #[error("{0} not found")]
    NotFound(String),
    /// The database failed.
    #[error("{0}")]
    Internal(#[from] Internal),
}

impl From<sqlx::Error> for AdminError {
    fn from(e: sqlx::Error) -> Self {
        AdminError::Internal(e.into())
    }
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (CIBA `login_hint`).
    pub username: String,
    /// Display name.
    pub name: String,
    /// E-mail address (also accepted as `login_hint`).
    pub email: Option<String>,
    /// Give the `admin` role.
    pub admin: bool,
}

fn check_label(what: &str, s: &str, max: usize) -> Result<(), AdminError> {
    let n = s.chars().count();
    if n == 0 || n > max || s.chars().any(char::is_control) || s.trim() != s {
        return Err(AdminError::Invalid(format!("{what} must be 1 to {max} characters, no control characters")));
    }
    Ok(())
}

/// Adds a user; returns it (with its new `sub`).
///
/// # Errors
/// Invalid input, a duplicate username or e-mail, or the database failed.
pub async fn add_user(db: &Db, user: &NewUser, now: u64) -> Result<User, AdminError> {
    check_label("username", &user.username, 64)?;
    check_label("name", &user.name, 100)?;
    if user.username.starts_with('{') || user.username.contains(' ') {
        return Err(AdminError::Invalid("username must not start with '{' nor contain spaces".into()));
    }
    let email = user.email.as_ref().map(|e| e.to_ascii_lowercase());
    if let Some(e) = &email {
        check_label("email", e, 254)?;
        if !e.contains('@') {
            return Err(AdminError::Invalid("email must contain @".into()));
        }
    }
    let sub = util::random_id("u_", 16)?;
    let roles = if user.admin { vec!["admin", "user"] } else { vec!["user"] };
    let mut tx = db::begin(db).await?;
    let taken = sqlx::query(
        "SELECT sub FROM users WHERE username = $1 OR email = $1 OR ($2 IS NOT NULL AND (email = $2 OR username = $2))",
    )
    .bind(&user.username)
    .bind(&email)
    .fetch_optional(&mut *tx)
    .await?;
    if taken.is_some() {
        return Err(AdminError::Invalid("username or email already in use".into()));
    }
    sqlx::query("INSERT INTO users (sub, username, email, name, roles, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&sub)
        .bind(&user.username)
        .bind(&email)
        .bind(&user.name)
        .bind(serde_json::to_string(&roles).map_err(Internal::from)?)
        .bind(db::ts(now))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    find_user(db, &sub).await
}

/// Finds a user by username or `sub`.
///
/// # Errors
/// Not found, or the database failed.
pub async fn find_user(db: &Db, who: &str) -> Result<User, AdminError> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 OR sub = $1"))
        .bind(who)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {who:?}")))?;
    Ok(User::from_row(&row)?)
}

/// Every user, by username.
///
/// # Errors
/// The database failed.
pub async fn list_users(db: &Db) -> Result<Vec<User>, AdminError> {
    let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username")).fetch_all(db).await?;
    Ok(rows.iter().map(User::from_row).collect::<Result<_, _>>()?)
}

/// Disables a user: hints no longer find them and their devices are refused.
///
/// # Errors
/// Not found, or the database failed.
pub async fn disable_user(db: &Db, who: &str) -> Result<User, AdminError> {
    let user = find_user(db, who).await?;
    let mut tx = db::begin(db).await?;
    sqlx::query("UPDATE users SET disabled = 1 WHERE sub = $1").bind(&user.sub).execute(&mut *tx).await?;
    tx.commit().await?;
    find_user(db, who).await
}

/// Sets the CIBA `user_code` of a user (stored as SHA-256).
///
/// # Errors
/// Not found, an empty code, or the database failed.
pub async fn set_user_code(db: &Db, who: &str, code: &UserCode) -> Result<(), AdminError> {
    if code.secret().trim().is_empty() {
        return Err(AdminError::Invalid("user_code must not be empty".into()));
    }
    let user = find_user(db, who).await?;
    let mut tx = db::begin(db).await?;
    sqlx::query("UPDATE users SET user_code_hash = $1 WHERE sub = $2")
        .bind(util::hash_secret(code.secret()))
        .bind(&user.sub)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a one-time enrollment ticket for a user (valid `ttl_secs`) and
/// returns the invitation. Only the ticket's hash is stored.
///
/// # Errors
/// Not found, a disabled user, or the database failed.
pub async fn enrollment_link(
    db: &Db,
    issuer: &Issuer,
    who: &str,
    ttl_secs: u64,
    now: u64,
) -> Result<EnrollmentUri, AdminError> {
    let user = find_user(db, who).await?;
    if user.disabled {
        return Err(AdminError::Invalid(format!("user {who:?} is disabled")));
    }
    let ticket = EnrollmentTicket::new(generate_url_safe(TICKET_BYTES).map_err(Internal::from)?);
    let mut tx = db::begin(db).await?;
    sqlx::query("INSERT INTO enrollment_tickets (ticket_hash, sub, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(util::hash_secret(ticket.secret()))
        .bind(&user.sub)
        .bind(db::ts(now))
        .bind(db::ts(now.saturating_add(ttl_secs)))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    EnrollmentUri::new(issuer.clone(), ticket).map_err(|e| AdminError::Internal(Internal::new(e.to_string())))
}

/// A client, as `client list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSummary {
    /// `client_id`.
    pub client_id: String,
    /// `client_name`.
    pub client_name: String,
    /// Delivery mode.
    pub delivery_mode: String,
    /// Authentication method.
    pub auth_method: String,
    /// Disabled.
    pub disabled: bool,
    /// Registered, unix seconds.
    pub created_at: u64,
}

/// Every client, oldest first.
///
/// # Errors
/// The database failed.
pub async fn list_clients(db: &Db) -> Result<Vec<ClientSummary>, AdminError> {
    let rows = sqlx::query(
        "SELECT client_id, client_name, delivery_mode, auth_method, disabled, created_at FROM clients \
         ORDER BY created_at, client_id",
    )
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(ClientSummary {
            client_id: r.try_get("client_id")?,
            client_name: r.try_get("client_name")?,
            delivery_mode: r.try_get("delivery_mode")?,
            auth_method: r.try_get("auth_method")?,
            disabled: r.try_get::<i64, _>("disabled")? != 0,
            created_at: db::from_ts(r.try_get("created_at")?),
        });
    }
    Ok(out)
}

/// Disables a client: its calls then get `unauthorized_client`.
///
/// # Errors
/// Not found, or the database failed.
pub async fn disable_client(db: &Db, client_id: &str) -> Result<(), AdminError> {
    let mut tx = db::begin(db).await?;
    let done =
        sqlx::query("UPDATE clients SET disabled = 1 WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Err(AdminError::NotFound(format!("client {client_id:?}")));
    }
    tx.commit().await?;
    Ok(())
}

/// A device, as `device list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    /// `device_id`.
    pub device_id: String,
    /// Its user's `sub`.
    pub sub: String,
    /// `device_name`.
    pub device_name: String,
    /// `platform`.
    pub platform: String,
    /// Enrolled, unix seconds.
    pub created_at: u64,
    /// Revoked, unix seconds.
    pub revoked_at: Option<u64>,
}

/// The devices of a user.
///
/// # Errors
/// Not found, or the database failed.
pub async fn list_devices(db: &Db, who: &str) -> Result<Vec<DeviceSummary>, AdminError> {
    let user = find_user(db, who).await?;
    let rows = sqlx::query(
        "SELECT device_id, sub, device_name, platform, created_at, revoked_at FROM devices WHERE sub = $1 \
         ORDER BY created_at, device_id",
    )
    .bind(&user.sub)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(DeviceSummary {
            device_id: r.try_get("device_id")?,
            sub: r.try_get("sub")?,
            device_name: r.try_get("device_name")?,
            platform: r.try_get("platform")?,
            created_at: db::from_ts(r.try_get("created_at")?),
            revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(db::from_ts),
        });
    }
    Ok(out)
}

/// Revokes a device; returns its user's `sub`. A running server refuses it
/// at once; its open event streams close at the next wake-up (immediately
/// when revoked through [`crate::state::AppState`], otherwise within one
/// heartbeat interval).
///
/// # Errors
/// Not found, or the database failed.
pub async fn revoke_device(db: &Db, device_id: &str, now: u64) -> Result<String, AdminError> {
    let mut tx = db::begin(db).await?;
    let row = sqlx::query("SELECT sub FROM devices WHERE device_id = $1")
        .bind(device_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("device {device_id:?}")))?;
    let sub: String = row.try_get("sub")?;
    sqlx::query("UPDATE devices SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL")
        .bind(db::ts(now))
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(sub)
}

impl crate::state::AppState {
    /// Revokes a device and closes its open event streams at once.
    ///
    /// # Errors
    /// As [`revoke_device`].
    pub async fn revoke_device(&self, device_id: &str) -> Result<(), AdminError> {
        let sub = revoke_device(&self.db, device_id, self.now()).await?;
        self.hub.notify(&sub);
        Ok(())
    }
}
