//! Users and how a CIBA hint finds one.

use crate::error::Internal;
use crate::state::AppState;

/// A user as the CIBA endpoint needs it; read from a row selected with
/// [`USER_COLUMNS`] (`sqlx::query_as`).
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
    /// Roles (a JSON array in the row).
    pub roles: Vec<String>,
    /// SHA-256 of the CIBA `user_code`, if set.
    pub user_code_hash: Option<String>,
    /// Disabled by the operator.
    pub disabled: bool,
    /// Created, unix seconds.
    pub created_at: u64,
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for User {
    // By hand: the schema's flags are BIGINT 0/1 and its JSON is TEXT,
    // which sqlx's `Any` driver does not turn into `bool` or `Json`.
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        let decode = |column: &str, e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::ColumnDecode {
            index: column.to_owned(),
            source: e,
        };
        let roles: String = row.try_get("roles")?;
        Ok(Self {
            sub: row.try_get("sub")?,
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            roles: serde_json::from_str(&roles).map_err(|e| decode("roles", e.into()))?,
            user_code_hash: row.try_get("user_code_hash")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            created_at: u64::try_from(row.try_get::<i64, _>("created_at")?)
                .map_err(|e| decode("created_at", e.into()))?,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    // Read through sqlx's `Any` driver: the 0/1 flag is a bool, the roles'
    // JSON text a list; roles that are not a JSON list are an error naming
    // the column, never an empty list.
    #[tokio::test]
    async fn a_user_row_is_read_through_the_any_driver() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::store::open(&dir.path().join("u.db")).await.expect("open");
        let insert = "INSERT INTO users (sub, username, email, name, roles, disabled, created_at) \
                      VALUES ($1, $2, NULL, 'Ann', $3, $4, 1700000000)";
        for (sub, roles, disabled) in [("u_1", r#"["admin"]"#, 1_i64), ("u_2", "not json", 0)] {
            sqlx::query(insert).bind(sub).bind(sub).bind(roles).bind(disabled).execute(&db).await.expect("insert");
        }
        let select = format!("SELECT {USER_COLUMNS} FROM users WHERE sub = $1");
        let ann: User = sqlx::query_as(&select).bind("u_1").fetch_one(&db).await.expect("u_1");
        assert_eq!((ann.roles, ann.disabled, ann.created_at), (vec!["admin".to_owned()], true, 1_700_000_000));
        let err = sqlx::query_as::<_, User>(&select).bind("u_2").fetch_one(&db).await.expect_err("bad roles");
        assert!(err.to_string().contains("roles"), "{err}");
    }
}
