//! Users and how a CIBA hint finds one.

use sqlx::sqlite::SqliteRow;
use sqlx::Row as _;

use crate::error::Internal;
use crate::state::AppState;

/// A user as the CIBA endpoint needs it.
#[derive(Debug, Clone)]
pub struct User {
    /// Subject identifier.
    pub sub: String,
    /// Login name.
    pub username: String,
    /// E-mail address (lowercase), if any.
    pub email: Option<String>,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// SHA-256 of the CIBA `user_code`, if set.
    pub user_code_hash: Option<String>,
    /// Disabled by the operator.
    pub disabled: bool,
    /// Created, unix seconds.
    pub created_at: u64,
}

/// Columns of [`User`].
pub const USER_COLUMNS: &str = "sub, username, email, name, roles, user_code_hash, disabled, created_at";

impl User {
    /// Reads a row selected with [`USER_COLUMNS`].
    ///
    /// # Errors
    /// A column is missing or malformed.
    pub fn from_row(row: &SqliteRow) -> Result<Self, Internal> {
        let roles: String = row.try_get("roles")?;
        Ok(Self {
            sub: row.try_get("sub")?,
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            roles: serde_json::from_str(&roles)?,
            user_code_hash: row.try_get("user_code_hash")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            created_at: crate::store::from_ts(row.try_get("created_at")?),
        })
    }
}

/// Finds a user by `sub`.
///
/// # Errors
/// The database failed.
pub async fn by_sub(state: &AppState, sub: &str) -> Result<Option<User>, Internal> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE sub = $1"))
        .bind(sub)
        .fetch_optional(&state.db)
        .await?;
    row.as_ref().map(User::from_row).transpose()
}

/// Finds a user by username (exact) or e-mail address (ASCII case-insensitive).
///
/// # Errors
/// The database failed.
pub async fn by_login(state: &AppState, login: &str) -> Result<Option<User>, Internal> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 OR email = $2 LIMIT 1"))
        .bind(login)
        .bind(login.to_ascii_lowercase())
        .fetch_optional(&state.db)
        .await?;
    row.as_ref().map(User::from_row).transpose()
}

/// Finds a user by username only.
///
/// # Errors
/// The database failed.
pub async fn by_username(state: &AppState, username: &str) -> Result<Option<User>, Internal> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
        .bind(username)
        .fetch_optional(&state.db)
        .await?;
    row.as_ref().map(User::from_row).transpose()
}

/// Finds a user by e-mail address only (ASCII case-insensitive; stored
/// lowercase). An empty address finds no one.
///
/// # Errors
/// The database failed.
pub async fn by_email(state: &AppState, email: &str) -> Result<Option<User>, Internal> {
    if email.is_empty() {
        return Ok(None);
    }
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
        .bind(email.to_ascii_lowercase())
        .fetch_optional(&state.db)
        .await?;
    row.as_ref().map(User::from_row).transpose()
}
