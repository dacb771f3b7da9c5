//! Users and how a CIBA hint finds one.

use crate::error::Internal;
use crate::state::AppState;
use crate::store::portable::{Columns, Param};

/// How [`find`] selects a user `by` (after `WHERE`) and its values; `None`:
/// it finds no one (an empty e-mail address).
pub(crate) fn condition(by: By<'_>) -> Option<(&'static str, Vec<String>)> {
    Some(match by {
        By::Sub(sub) => ("sub = ?1", vec![sub.to_owned()]),
        By::Username(username) => ("username = ?1", vec![username.to_owned()]),
        By::Email("") => return None,
        By::Email(email) => ("email = ?1", vec![email.to_ascii_lowercase()]),
        By::Login(login) => ("username = ?1 OR email = ?2 LIMIT 1", vec![login.to_owned(), login.to_ascii_lowercase()]),
    })
}

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
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        User::from_row(row).map_err(|e| sqlx::Error::Decode(e.to_string().into()))
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
    // By position: the schema's flags are BIGINT 0/1 and its JSON is TEXT
    // (sqlx's `Any` driver has no `bool` or `Json` for them).
    fn from_row(row: &impl Columns) -> Result<Self, Internal> {
        Ok(Self {
            sub: row.text(0)?,
            username: row.text(1)?,
            email: row.opt_text(2)?,
            name: row.text(3)?,
            roles: serde_json::from_str(&row.text(4)?).map_err(|e| Internal::new(format!("roles: {e}")))?,
            user_code_hash: row.opt_text(5)?,
            disabled: row.int(6)? != 0,
            created_at: u64::try_from(row.int(7)?).map_err(|_| Internal::new("negative created_at"))?,
        })
    }
}

/// Finds the user a hint names (on the hot-path reader: `/bc-authorize`,
/// unless it takes the user from the record cache).
///
/// # Errors
/// The database failed.
pub async fn find(state: &AppState, by: By<'_>) -> Result<Option<User>, Internal> {
    let Some((condition, values)) = condition(by) else {
        return Ok(None);
    };
    let Some(reader) = &state.reader else {
        let sql =
            crate::store::portable::dollar_placeholders(&format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}"));
        let params: Vec<Param<'_>> = values.into_iter().map(Param::from).collect();
        let row = crate::store::portable::query(&sql, &params).fetch_optional(&state.db).await?;
        return row.as_ref().map(User::from_row).transpose();
    };
    reader.read(move |conn| read_on(conn, condition, values)).await
}

/// Reads the user `condition` selects with `values` ([`condition`]'s) on a
/// SQLite connection of its own (the hot-path reader's).
///
/// # Errors
/// The database failed.
pub(crate) fn read_on(
    conn: &rusqlite::Connection,
    condition: &str,
    values: Vec<String>,
) -> Result<Option<User>, Internal> {
    let mut query = conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}"))?;
    let mut rows = query.query(rusqlite::params_from_iter(values))?;
    rows.next()?.map(User::from_row).transpose()
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
