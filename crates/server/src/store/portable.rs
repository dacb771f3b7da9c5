//! What the SQLite-only hot paths (the request writer's and the reader's
//! `rusqlite` jobs) share with their twins on the pool, which run on any
//! database: parameters bound the same way to both, `?N` placeholders
//! turned into `$N` for the pool, and one way to read a row's columns.

use std::borrow::Cow;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row as _};

use crate::error::Internal;

/// A value bound to a statement of the hot paths.
#[derive(Debug, Clone)]
pub enum Param<'a> {
    /// TEXT.
    Text(Cow<'a, str>),
    /// TEXT or NULL.
    OptText(Option<Cow<'a, str>>),
    /// BIGINT.
    Int(i64),
}

impl Param<'_> {
    /// The value as the `rusqlite` statement binds it.
    #[must_use]
    pub fn sqlite(&self) -> &dyn rusqlite::ToSql {
        match self {
            Param::Text(s) => s,
            Param::OptText(s) => s,
            Param::Int(i) => i,
        }
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(Cow::Borrowed(s))
    }
}

impl From<String> for Param<'_> {
    fn from(s: String) -> Self {
        Param::Text(Cow::Owned(s))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Param::OptText(s.map(Cow::Borrowed))
    }
}

impl From<i64> for Param<'_> {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

/// `sql` with its `?N` placeholders written `$N` (the pool's form, which
/// PostgreSQL needs; SQLite reads both).
#[must_use]
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A statement on the pool: `sql` (`?N` or `$N`) with `params` bound in order.
pub fn query<'q>(sql: &'q str, params: &'q [Param<'q>]) -> Query<'q, Any, AnyArguments<'q>> {
    params.iter().fold(sqlx::query(sql), |q, p| match p {
        Param::Text(s) => q.bind(s.as_ref()),
        Param::OptText(s) => q.bind(s.as_deref()),
        Param::Int(i) => q.bind(*i),
    })
}

/// The columns of a row by position, the same for both connections'
/// rows, so that one `from_row` reads either.
pub trait Columns {
    /// TEXT or NULL.
    ///
    /// # Errors
    /// No such column, or another type.
    fn opt_text(&self, i: usize) -> Result<Option<String>, Internal>;
    /// BIGINT or NULL.
    ///
    /// # Errors
    /// No such column, or another type.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Internal>;

    /// TEXT.
    ///
    /// # Errors
    /// No such column, NULL, or another type.
    fn text(&self, i: usize) -> Result<String, Internal> {
        self.opt_text(i)?.ok_or_else(|| Internal::new(format!("column {i} is NULL")))
    }

    /// BIGINT.
    ///
    /// # Errors
    /// No such column, NULL, or another type.
    fn int(&self, i: usize) -> Result<i64, Internal> {
        self.opt_int(i)?.ok_or_else(|| Internal::new(format!("column {i} is NULL")))
    }
}

impl Columns for rusqlite::Row<'_> {
    fn opt_text(&self, i: usize) -> Result<Option<String>, Internal> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Internal> {
        Ok(self.get(i)?)
    }
}

impl Columns for AnyRow {
    fn opt_text(&self, i: usize) -> Result<Option<String>, Internal> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Internal> {
        Ok(self.try_get(i)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_placeholders_become_dollar_ones_and_nothing_else_changes() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE b = ?2 AND c = ?1 AND d = ?10"),
            "SELECT a FROM t WHERE b = $2 AND c = $1 AND d = $10"
        );
        assert_eq!(dollar_placeholders("SELECT '?' || x FROM t WHERE y = $1"), "SELECT '?' || x FROM t WHERE y = $1");
    }
}
