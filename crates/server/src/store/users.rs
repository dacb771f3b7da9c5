//! Users and how a CIBA hint finds one.

use crate::error::Internal;
use crate::state::AppState;

/// A user as the CIBA endpoint needs it; read from a row selected with
/// [`USER_COLUMNS`] (`sqlx::query_as`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Subject identifier.
    pub sub: String,
    /// Login name.
    pub username: String,
    /// E-mail address (lowercase), if any.
    pub email: Option<String>,
    /// Display name.
    pub name: String,
    /// Roles (a JSON array in the row).
    #[sqlx(json)]
    pub roles: Vec<String>,
    /// SHA-256 of the CIBA `user_code`, if set.
    pub user_code_hash: Option<String>,
    /// Disabled by the operator.
    pub disabled: bool,
    /// Created, unix seconds.
    #[sqlx(try_from = "i64")]
    pub created_at: u64,
}

/// Columns of [`User`].
pub const USER_COLUMNS: &str = "sub, username, email, name, roles, user_code_hash, disabled, created_at";

/// Finds a user by `sub`.
///
/// # Errors
/// The database failed.
pub async fn by_sub(state: &AppState, sub: &str) -> Result<Option<User>, Internal> {
    let user = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE sub = $1"))
        .bind(sub)
        .fetch_optional(&state.db)
        .await?;
    Ok(user)
}

/// Finds a user by username (exact) or e-mail address (ASCII case-insensitive).
///
/// # Errors
/// The database failed.
pub async fn by_login(state: &AppState, login: &str) -> Result<Option<User>, Internal> {
    let user = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 OR email = $2 LIMIT 1"))
        .bind(login)
        .bind(login.to_ascii_lowercase())
        .fetch_optional(&state.db)
        .await?;
    Ok(user)
}

/// Finds a user by username only.
///
/// # Errors
/// The database failed.
pub async fn by_username(state: &AppState, username: &str) -> Result<Option<User>, Internal> {
    let user = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
        .bind(username)
        .fetch_optional(&state.db)
        .await?;
    Ok(user)
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
    let user = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
        .bind(email.to_ascii_lowercase())
        .fetch_optional(&state.db)
        .await?;
    Ok(user)
}
