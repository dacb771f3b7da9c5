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

impl User {
    /// Reads a row selected with [`USER_COLUMNS`], in that order.
    fn from_row(row: &rusqlite::Row<'_>) -> Result<Self, Internal> {
        let roles: String = row.get(4)?;
        Ok(Self {
            sub: row.get(0)?,
            username: row.get(1)?,
            email: row.get(2)?,
            name: row.get(3)?,
            roles: serde_json::from_str(&roles)?,
            user_code_hash: row.get(5)?,
            disabled: row.get(6)?,
            created_at: u64::try_from(row.get::<_, i64>(7)?).map_err(|_| Internal::new("negative created_at"))?,
        })
    }
}

/// Finds the user a hint names (on the hot-path reader: every
/// `/bc-authorize` does).
///
/// # Errors
/// The database failed.
pub async fn find(state: &AppState, by: By<'_>) -> Result<Option<User>, Internal> {
    let (condition, values) = match by {
        By::Sub(sub) => ("sub = ?1", vec![sub.to_owned()]),
        By::Username(username) => ("username = ?1", vec![username.to_owned()]),
        By::Email("") => return Ok(None),
        By::Email(email) => ("email = ?1", vec![email.to_ascii_lowercase()]),
        By::Login(login) => ("username = ?1 OR email = ?2 LIMIT 1", vec![login.to_owned(), login.to_ascii_lowercase()]),
    };
    state
        .reader
        .read(move |conn| {
            let mut query = conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}"))?;
            let mut rows = query.query(rusqlite::params_from_iter(values))?;
            rows.next()?.map(User::from_row).transpose()
        })
        .await
}
