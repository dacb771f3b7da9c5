//! `schema_cache`: the display schemas each server published, pinned by hash.

use super::{from_ts, ts, Store};
use crate::error::{Error, Result};
use countersign_protocol::device::SchemaHash;
use serde::Serialize;
use std::collections::BTreeMap;

/// One cached display schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSchema {
    /// The type (`$id`; a family ends in `:*`).
    pub detail_type: String,
    /// The hash the server published, checked against the schema when it was
    /// fetched and again whenever the cache is used.
    pub hash: SchemaHash,
    /// The schema document (JSON text); `None` in rows written by earlier
    /// versions, which only knew the hash (such rows are not used).
    pub schema_json: Option<String>,
    /// When it was last fetched (or confirmed unchanged).
    pub fetched_at: u64,
}

/// How one type's schema differs between the cache and a fetched document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaChange {
    /// The type.
    pub detail_type: String,
    /// The cached hash (`None`: the type is new).
    pub previous: Option<SchemaHash>,
    /// The fetched hash (`None`: the server no longer publishes the type).
    pub current: Option<SchemaHash>,
}

impl Store {
    /// The cached display schemas of `issuer`, by type.
    ///
    /// # Errors
    /// The database failed or a stored hash is malformed.
    pub async fn schemas(&self, issuer: &str) -> Result<Vec<CachedSchema>> {
        let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT detail_type, schema_hash, schema_json, fetched_at FROM schema_cache WHERE issuer = $1 \
             ORDER BY detail_type",
        )
        .bind(issuer)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(detail_type, hash, schema_json, fetched_at)| {
                let hash = SchemaHash::new(hash).map_err(|e| Error::Store(format!("schema_cache: {e}")))?;
                Ok(CachedSchema { detail_type, hash, schema_json, fetched_at: from_ts(fetched_at) })
            })
            .collect()
    }

    /// Replaces the cached schemas of `issuer` by `fetched` (type → hash and
    /// JSON text), in one transaction; types no longer published are removed.
    /// Returns every difference with what was cached.
    ///
    /// # Errors
    /// The database failed.
    pub async fn replace_schemas(
        &self,
        issuer: &str,
        fetched: &BTreeMap<String, (SchemaHash, String)>,
        now: u64,
    ) -> Result<Vec<SchemaChange>> {
        let mut tx = self.begin().await?;
        let cached: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT detail_type, schema_hash, schema_json FROM schema_cache WHERE issuer = $1")
                .bind(issuer)
                .fetch_all(&mut *tx)
                .await?;
        let mut changes = Vec::new();
        let mut previous: BTreeMap<String, String> = BTreeMap::new();
        for (detail_type, hash, json) in cached {
            // A hash-only row never rendered anything: as if absent.
            if json.is_some() {
                previous.insert(detail_type, hash);
            }
        }
        for (detail_type, hash) in &previous {
            if !fetched.contains_key(detail_type) {
                let old = SchemaHash::new(hash.clone()).map_err(|e| Error::Store(format!("schema_cache: {e}")))?;
                changes.push(SchemaChange { detail_type: detail_type.clone(), previous: Some(old), current: None });
            }
        }
        sqlx::query("DELETE FROM schema_cache WHERE issuer = $1").bind(issuer).execute(&mut *tx).await?;
        for (detail_type, (hash, json)) in fetched {
            match previous.get(detail_type) {
                Some(old) if old == hash.as_str() => {}
                old => {
                    let old = old
                        .map(|h| SchemaHash::new(h.clone()))
                        .transpose()
                        .map_err(|e| Error::Store(format!("schema_cache: {e}")))?;
                    changes.push(SchemaChange {
                        detail_type: detail_type.clone(),
                        previous: old,
                        current: Some(hash.clone()),
                    });
                }
            }
            sqlx::query(
                "INSERT INTO schema_cache (issuer, detail_type, schema_hash, schema_json, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(issuer)
            .bind(detail_type)
            .bind(hash.as_str())
            .bind(json)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        changes.sort_by(|a, b| a.detail_type.cmp(&b.detail_type));
        Ok(changes)
    }
}
