//! Each account's display schemas: fetched from the server's
//! `authorization_details_schemas_endpoint` (named by its metadata), checked
//! (`Registry::from_schemas_document` verifies every hash and compiles every
//! schema), cached in the store's `schema_cache` pinned by hash, and fetched
//! again when stale, when a request names a type the cache lacks, and after a
//! `display_schema_mismatch`. A changed schema is logged ("display schema for
//! <type> changed") and reported as [`ApproverEvent::SchemaChanged`].
//!
//! Rendering never touches the network: it uses what is cached
//! ([`Inner::registry`]), so a request is always shown, and signed, with
//! exactly the schemas the cache holds at that moment.

use crate::approver::{Approver, Inner};
use crate::enroll::{same_origin, server_metadata};
use crate::error::{Error, Result};
use crate::events::ApproverEvent;
use crate::store::{Account, CachedSchema, SchemaChange};
use countersign_details::text::visible_escape;
use countersign_details::{Registry, DOCUMENT_VERSION};
use countersign_protocol::device::SchemaHash;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The metadata member naming the display-schemas document.
pub const METADATA_SCHEMAS_ENDPOINT: &str = "authorization_details_schemas_endpoint";

/// A request naming a type the cache lacks triggers a fetch, at most this
/// often per server (a server may publish no schema for a type at all).
const MISSING_TYPE_RECHECK_SECS: u64 = 10;

/// The registry of cached schemas (hashes verified again).
fn build(cached: &[CachedSchema]) -> Result<Registry> {
    let mut schemas = Vec::new();
    for c in cached {
        let Some(text) = &c.schema_json else { continue };
        let schema = countersign_protocol::jcs::parse_strict(text)
            .map_err(|e| Error::Store(format!("cached schema {}: {e}", c.detail_type)))?;
        schemas.push(json!({"type": c.detail_type, "hash": c.hash.as_str(), "schema": schema}));
    }
    let document = json!({"version": DOCUMENT_VERSION, "schemas": schemas});
    Registry::from_schemas_document(&document).map_err(|e| Error::Store(format!("cached display schemas: {}", raw(&e))))
}

/// A registry error's text as it is. The registry writes the untrusted text
/// it quotes in `countersign_text`'s escape grammar (the server sends these
/// texts on the wire); the approver's errors hold text unescaped and each
/// shell reveals it once, so the escape is undone here (exactly: the
/// grammar round-trips).
fn raw(e: &countersign_details::RegistryError) -> String {
    let text = e.to_string();
    countersign_text::unescape(&text).unwrap_or(text)
}

/// Type → (hash, schema JSON text) of a verified schemas document.
fn entries(document: &Value) -> Result<BTreeMap<String, (SchemaHash, String)>> {
    let bad = |m: String| Error::Protocol(format!("display schemas document: {m}"));
    let mut out = BTreeMap::new();
    for item in document.get("schemas").and_then(Value::as_array).into_iter().flatten() {
        let (Some(t), Some(h), Some(schema)) =
            (item.get("type").and_then(Value::as_str), item.get("hash").and_then(Value::as_str), item.get("schema"))
        else {
            return Err(bad("an entry lacks \"type\", \"hash\" or \"schema\"".into()));
        };
        let hash = SchemaHash::new(h.to_owned()).map_err(|e| bad(e.to_string()))?;
        let text = serde_json::to_string(schema).map_err(|e| bad(e.to_string()))?;
        out.insert(t.to_owned(), (hash, text));
    }
    Ok(out)
}

impl Inner {
    /// The registry for requests from `issuer`: the cached schemas, checked
    /// against their pinned hashes (kept in memory until the cache changes).
    /// A cache that does not verify is not used: the requests then render
    /// without schemas (every field shown, each type marked "no schema"),
    /// and the next fetch replaces it.
    pub(crate) async fn registry(&self, issuer: &str) -> Result<Registry> {
        let cached = self.store.schemas(issuer).await?;
        let fingerprint: String = cached
            .iter()
            .filter(|c| c.schema_json.is_some())
            .map(|c| format!("{}={};", c.detail_type, c.hash.as_str()))
            .collect();
        if let Some(r) = self
            .registries
            .lock()
            .ok()
            .and_then(|m| m.get(issuer).filter(|(f, _)| *f == fingerprint).map(|(_, r)| r.clone()))
        {
            return Ok(r);
        }
        match build(&cached) {
            Ok(registry) => {
                if let Ok(mut m) = self.registries.lock() {
                    m.insert(issuer.to_owned(), (fingerprint, registry.clone()));
                }
                Ok(registry)
            }
            Err(e) => {
                tracing::warn!("{e}; rendering without them until they are fetched again");
                Ok(Registry::empty())
            }
        }
    }

    /// Fetches the schemas `account`'s server publishes and replaces the
    /// cache with them. A server whose metadata names no schemas endpoint
    /// publishes none.
    pub(crate) async fn refresh_schemas(&self, account: &Account) -> Result<Vec<SchemaChange>> {
        let issuer = &account.issuer;
        let meta = server_metadata(&self.http, issuer).await?;
        let document = match &meta.authorization_details_schemas_endpoint {
            None => json!({"version": DOCUMENT_VERSION, "schemas": []}),
            Some(endpoint) => {
                same_origin(issuer, endpoint, METADATA_SCHEMAS_ENDPOINT)?;
                self.http.get_public(endpoint).await?
            }
        };
        Registry::from_schemas_document(&document)
            .map_err(|e| Error::Protocol(format!("the display schemas of {issuer}: {}", raw(&e))))?;
        let fetched = entries(&document)?;
        let now = self.now();
        let changes = self.store.replace_schemas(issuer.as_str(), &fetched, now).await?;
        if let Ok(mut m) = self.registries.lock() {
            m.remove(issuer.as_str());
        }
        if let Ok(mut m) = self.schema_checked.lock() {
            m.insert(issuer.as_str().to_owned(), now);
        }
        for c in &changes {
            let t = visible_escape(&c.detail_type);
            match (&c.previous, &c.current) {
                (Some(previous), current) => {
                    match current {
                        Some(_) => tracing::info!("display schema for {t} changed at {issuer}"),
                        None => tracing::info!("display schema for {t} is no longer published by {issuer}"),
                    }
                    self.emit(ApproverEvent::SchemaChanged {
                        issuer: issuer.as_str().to_owned(),
                        detail_type: c.detail_type.clone(),
                        previous: previous.clone(),
                        current: current.clone(),
                    });
                }
                (None, _) => tracing::debug!("display schema for {t} fetched from {issuer}"),
            }
        }
        Ok(changes)
    }

    /// Fetches the schemas of `account`'s server if the cache is older than
    /// `schema_max_age`, or lacks one of `types` (at most every 10 s). A
    /// failure is logged: requests still arrive, rendered with the cache.
    pub(crate) async fn ensure_schemas(&self, account: &Account, types: &[String]) {
        let issuer = account.issuer.as_str();
        let now = self.now();
        let cached = match self.store.schemas(issuer).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("display schema cache: {e}");
                return;
            }
        };
        let remembered = self.schema_checked.lock().ok().and_then(|m| m.get(issuer).copied());
        let checked = cached.iter().map(|c| c.fetched_at).max().max(remembered);
        let age = checked.map(|t| now.saturating_sub(t));
        let stale = age.is_none_or(|a| a >= self.config.schema_max_age.as_secs());
        let missing = !stale
            && age.is_some_and(|a| a >= MISSING_TYPE_RECHECK_SECS)
            && match self.registry(issuer).await {
                Ok(r) => types.iter().any(|t| r.schema(t).is_none()),
                Err(_) => true,
            };
        if stale || missing {
            if let Err(e) = self.refresh_schemas(account).await {
                tracing::warn!("fetching the display schemas of {issuer}: {e}");
            }
        }
    }
}

impl Approver {
    /// Fetches the display schemas of `account_id`'s server now and caches
    /// them; returns what changed (also sent as
    /// [`ApproverEvent::SchemaChanged`] for changed or withdrawn types).
    ///
    /// # Errors
    /// [`Error::UnknownAccount`], [`Error::Metadata`], [`Error::Network`],
    /// [`Error::Protocol`] (a document that does not verify: the cache is
    /// kept), the store.
    pub async fn refresh_schemas(&self, account_id: &str) -> Result<Vec<SchemaChange>> {
        let account = self.inner.store.account(account_id).await?;
        self.inner.refresh_schemas(&account).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_reach_the_approver_unescaped_so_shells_escape_once() {
        let t = "urn:x:a\u{202E}b\\c";
        let document = json!({"version": DOCUMENT_VERSION, "schemas": [{"type": t, "hash": "not-the-hash", "schema": {"$id": t}}]});
        let e = Registry::from_schemas_document(&document).unwrap_err();
        assert!(e.to_string().contains("a\\u{202E}b\\\\c"), "the registry writes the escape grammar: {e}");
        assert!(raw(&e).contains(t), "the approver holds the text as sent: {}", raw(&e));
    }
}
