//! The record cache: the clients and users `/bc-authorize` reads, kept in
//! memory on SQLite, so that an accepted request makes no read of its own
//! (docs/architecture.md, "The record cache").
//!
//! Each record is kept with the generation it was read at (the
//! `record_generation` row, which a trigger moves on at every change to a
//! client or a user, from this process or another). Nothing read from the
//! cache is trusted on its own: the request writer's job compares the
//! generation inside the transaction that stores the request, and a request
//! whose records changed since is done again from the database
//! (`bc_authorize`). A cached record can therefore make a request wait for
//! a second try, never let through one that the stored records refuse.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::Internal;
use crate::oauth::clients::Client;
use crate::state::AppState;
use crate::store::users::{self, By, User};

/// The triggers that move the generation on (migration 0015).
const TRIGGERS: [&str; 6] =
    ["clients_inserted", "clients_updated", "clients_deleted", "users_inserted", "users_updated", "users_deleted"];

/// The statement that reads the generation.
pub const GENERATION: &str = "SELECT n FROM record_generation WHERE id = 1";

/// Most clients kept; past it the cache of clients starts over (the cache
/// never grows without bound, whatever `client_id`s callers send).
const MAX_CLIENTS: usize = 4_096;
/// Most users kept, likewise.
const MAX_USERS: usize = 65_536;

/// Where [`RecordCache`] takes a record from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// From memory if it is there (the writer's job checks it).
    Cached,
    /// From the database, kept in place of what memory held: the second
    /// try of a request that a cached record may have refused, so that a
    /// record changed into one that allows it (a secret replaced, a client
    /// enabled again) does not keep every request on two tries.
    Refreshed,
}

/// Records with the generation each was read at.
pub struct RecordCache {
    clients: Kept<Client>,
    users: Kept<User>,
}

impl RecordCache {
    /// A cache for the SQLite database `db`, if its triggers are all there:
    /// without one, a change would go unseen (a later migration that
    /// rebuilds a table drops its triggers), and nothing is cached.
    ///
    /// # Errors
    /// The database failed.
    pub async fn for_database(db: &crate::store::Db) -> Result<Option<RecordCache>, Internal> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetch_all(db).await?;
        let missing: Vec<&str> = TRIGGERS.into_iter().filter(|t| !names.iter().any(|n| n == t)).collect();
        if !missing.is_empty() {
            tracing::warn!(?missing, "the record cache is off: triggers of the record generation are missing");
            return Ok(None);
        }
        Ok(Some(RecordCache { clients: Kept::new(MAX_CLIENTS), users: Kept::new(MAX_USERS) }))
    }
}

/// Records of one kind by key, at most `max` of them.
struct Kept<T> {
    map: Mutex<HashMap<String, (i64, T)>>,
    max: usize,
}

impl<T: Clone> Kept<T> {
    fn new(max: usize) -> Self {
        Kept { map: Mutex::default(), max }
    }

    fn get(&self, key: &str) -> Option<(i64, T)> {
        lock(&self.map).get(key).cloned()
    }

    fn keep(&self, key: String, found: &(i64, T)) {
        let mut map = lock(&self.map);
        if map.len() >= self.max && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, found.clone());
    }

    fn forget(&self, key: &str) {
        lock(&self.map).remove(key);
    }

    fn older_than(&self, now: i64) {
        lock(&self.map).retain(|_, (at, _)| *at >= now);
    }
}

/// The generation of the records in `conn`'s view.
///
/// # Errors
/// The database failed.
pub fn generation(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(GENERATION)?.query_row([], |row| row.get(0))
}

/// How a user is named in the cache: what [`users::condition`] selects by
/// (a condition holds no NUL).
fn user_key(condition: &str, values: &[String]) -> String {
    let mut key = condition.to_owned();
    for v in values {
        key.push('\0');
        key.push_str(v);
    }
    key
}

impl RecordCache {
    /// The client with the generation it was read at: from the cache, or
    /// read on the hot-path reader (the generation first, then the row: a
    /// change between the two leaves the record tagged older than it is,
    /// which fails the writer's comparison, never the other way).
    ///
    /// # Errors
    /// The database failed.
    pub async fn client(
        &self,
        state: &AppState,
        client_id: &str,
        take: Take,
    ) -> Result<Option<(i64, Client)>, Internal> {
        if let Some(hit) = self.clients.get(client_id).filter(|_| take == Take::Cached) {
            return Ok(Some(hit));
        }
        let Some(reader) = &state.reader else {
            return Err(Internal::new("the record cache reads through the hot-path reader"));
        };
        let id = client_id.to_owned();
        let read = reader
            .read(move |conn| {
                let at = generation(conn)?;
                let client = Client::read_on(conn, &id)?;
                Ok::<_, Internal>(client.map(|c| (at, c)))
            })
            .await?;
        match &read {
            Some(found) => self.clients.keep(client_id.to_owned(), found),
            None => self.clients.forget(client_id),
        }
        Ok(read)
    }

    /// The user `by` names with the generation it was read at, as
    /// [`RecordCache::client`].
    ///
    /// # Errors
    /// The database failed.
    pub async fn user(&self, state: &AppState, by: By<'_>, take: Take) -> Result<Option<(i64, User)>, Internal> {
        let Some((condition, values)) = users::condition(by) else {
            return Ok(None);
        };
        let key = user_key(condition, &values);
        if let Some(hit) = self.users.get(&key).filter(|_| take == Take::Cached) {
            return Ok(Some(hit));
        }
        let Some(reader) = &state.reader else {
            return Err(Internal::new("the record cache reads through the hot-path reader"));
        };
        let read = reader
            .read(move |conn| {
                let at = generation(conn)?;
                Ok::<_, Internal>(users::read_on(conn, condition, values)?.map(|u| (at, u)))
            })
            .await?;
        match &read {
            Some(found) => self.users.keep(key, found),
            None => self.users.forget(&key),
        }
        Ok(read)
    }

    /// Forgets every record read before generation `now` (the writer found
    /// the records changed).
    pub fn older_than(&self, now: i64) {
        self.clients.older_than(now);
        self.users.older_than(now);
    }
}

/// The map, also after a thread panicked holding it (a map of records
/// read whole is never left half-changed).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every change to a client or a user row moves the generation on,
    // whoever makes it (here the pool, not the server's code); other
    // tables do not.
    #[tokio::test]
    async fn every_change_to_a_client_or_a_user_moves_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.db");
        let db = crate::store::open(&path).await.unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut at = generation(&conn).unwrap();
        let mut moved = |what: &str| {
            let now = generation(&conn).unwrap();
            assert_eq!(now, at + 1, "{what}");
            at = now;
        };
        let run = |sql: &'static str| sqlx::query(sql).execute(&db);
        run("INSERT INTO users (sub, username, name, roles, created_at) VALUES ('u_1', 'ann', 'Ann', '[]', 1)")
            .await
            .unwrap();
        moved("a user added");
        run("UPDATE users SET disabled = 1 WHERE sub = 'u_1'").await.unwrap();
        moved("a user changed");
        run("INSERT INTO clients (client_id, auth_method, delivery_mode, client_name, details_types, metadata, created_at) \
             VALUES ('cli_1', 'client_secret_basic', 'poll', 'A', '[]', '{}', 1)")
            .await
            .unwrap();
        moved("a client added");
        run("UPDATE clients SET secret_hash = 'x' WHERE client_id = 'cli_1'").await.unwrap();
        moved("a client changed");
        run("DELETE FROM clients WHERE client_id = 'cli_1'").await.unwrap();
        moved("a client removed");
        run("DELETE FROM users WHERE sub = 'u_1'").await.unwrap();
        moved("a user removed");
        run("UPDATE users SET disabled = 0 WHERE sub = 'nobody'").await.unwrap();
        assert_eq!(generation(&conn).unwrap(), at, "no row changed");
    }

    // Without all its triggers the cache is off.
    #[tokio::test]
    async fn no_cache_without_the_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::open(&dir.path().join("records.db")).await.unwrap();
        assert!(RecordCache::for_database(&db).await.unwrap().is_some());
        sqlx::query("DROP TRIGGER users_updated").execute(&db).await.unwrap();
        assert!(RecordCache::for_database(&db).await.unwrap().is_none());
    }

    #[test]
    fn the_cache_forgets_records_read_before_a_generation() {
        let cache = RecordCache { clients: Kept::new(MAX_CLIENTS), users: Kept::new(MAX_USERS) };
        let user = |sub: &str| User {
            sub: sub.into(),
            username: sub.into(),
            email: None,
            name: sub.into(),
            roles: Vec::new(),
            user_code_hash: None,
            disabled: false,
            created_at: 0,
        };
        cache.users.keep("old".into(), &(3, user("old")));
        cache.users.keep("new".into(), &(4, user("new")));
        cache.older_than(4);
        let kept: Vec<String> = lock(&cache.users.map).keys().cloned().collect();
        assert_eq!(kept, ["new"]);
        // At most `max`: past it the map starts over.
        let few = Kept::new(2);
        for (n, key) in ["a", "b", "c"].into_iter().enumerate() {
            few.keep(key.into(), &(0, n));
        }
        assert_eq!((few.get("a"), few.get("c")), (None, Some((0, 2))));
        assert_eq!(lock(&few.map).len(), 1);
    }

    #[test]
    fn users_are_cached_by_what_names_them() {
        let key = |by| users::condition(by).map(|(condition, values)| user_key(condition, &values));
        assert_eq!(key(By::Sub("u_1")), Some("sub = ?1\0u_1".into()));
        let login = key(By::Login("Ann@Example.com")).unwrap();
        assert_eq!(login, "username = ?1 OR email = ?2 LIMIT 1\0Ann@Example.com\0ann@example.com");
        assert_ne!(key(By::Username("ann")), key(By::Sub("ann")), "a login name is not a subject");
        assert_eq!(key(By::Email("")), None);
    }
}
