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

/// How a CIBA hint names a user.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// Subject identifier.
    Sub(&'a str),
    /// Login name (exact).
    Username(&'a str),
    /// E-mail address (ASCII case-insensitive; stored lowercase). An empty
    /// address finds no one.
    Email(&'a str),
    /// Login name (exact) or e-mail address (ASCII case-insensitive).
    Login(&'a str),
}

/// Finds the user a hint names.
///
/// # Errors
/// The database failed.
pub async fn find(state: &AppState, by: By<'_>) -> Result<Option<User>, Internal> {
    let (condition, values) = match by {
        By::Sub(sub) => ("sub = $1", vec![sub.to_owned()]),
        By::Username(username) => ("username = $1", vec![username.to_owned()]),
        By::Email("") => return Ok(None),
        By::Email(email) => ("email = $1", vec![email.to_ascii_lowercase()]),
        By::Login(login) => ("username = $1 OR email = $2 LIMIT 1", vec![login.to_owned(), login.to_ascii_lowercase()]),
    };
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}");
    let mut query = sqlx::query_as(&sql);
    for value in values {
        query = query.bind(value);
    }
    Ok(query.fetch_optional(&state.db).await?)
}
