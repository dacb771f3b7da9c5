//! Client keys for `private_key_jwt`, signed request objects and
//! `login_hint_token`: registered inline (`jwks`) or fetched from `jwks_uri`.
//! Only P-256 keys (ES256) are usable; other keys in a set are skipped.

use countersign_protocol::jws::PublicJwk;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::error::Internal;
use crate::state::AppState;

/// How long a fetched `jwks_uri` document is reused, seconds.
const CACHE_SECS: u64 = 300;
/// A refetch forced by an unknown `kid` happens at most this often, seconds.
const MIN_REFETCH_SECS: u64 = 10;
/// Largest accepted JWKS document, bytes.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// First delay before a failed `jwks_uri` is fetched again, seconds.
const FIRST_RETRY_SECS: u64 = 10;
/// Longest such delay, seconds.
const MAX_RETRY_SECS: u64 = 300;
/// Keys fetched longer ago than this are not used when a refetch fails (a
/// key the client removed must not stay valid while its `jwks_uri` is
/// down), seconds.
const MAX_STALE_SECS: u64 = 24 * 3600;

/// URLs remembered at most (beyond it, those without fresh keys are forgotten).
const MAX_ENTRIES: usize = 4096;

/// What is known of one `jwks_uri`.
#[derive(Debug, Clone, Default)]
struct Entry {
    /// The keys last fetched, and when.
    keys: Option<(u64, Vec<PublicJwk>)>,
    /// Failed fetches since the last success.
    failures: u32,
    /// No fetch before this time (unix seconds).
    retry_at: u64,
    /// A fetch is under way: concurrent callers do not start another.
    fetching: bool,
}

/// Cache of fetched `jwks_uri` documents, and of failures.
#[derive(Debug, Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The usable keys of a JWK Set document: EC P-256 keys whose `use` (if any)
/// is `sig` and `alg` (if any) is `ES256`. Members other than the JWK
/// basics are ignored.
#[must_use]
pub fn usable_keys(set: &Value) -> Vec<PublicJwk> {
    let Some(keys) = set.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| {
            let obj = k.as_object()?;
            let mut m = Map::new();
            for name in ["kty", "crv", "x", "y", "kid", "alg", "use"] {
                if let Some(v) = obj.get(name) {
                    m.insert(name.to_owned(), v.clone());
                }
            }
            serde_json::from_value::<PublicJwk>(Value::Object(m)).ok()
        })
        .collect()
}

async fn fetch(state: &AppState, uri: &str) -> Result<Vec<PublicJwk>, Internal> {
    let url = crate::outbound::check_url(uri, state.config.danger_allow_http_loopback_jwks_uri)
        .map_err(|e| Internal::new(format!("jwks_uri refused: {e}")))?;
    let resp = state.http_jwks.get(url).send().await.map_err(|e| Internal::new(format!("jwks_uri fetch: {e}")))?;
    if !resp.status().is_success() {
        return Err(Internal::new(format!("jwks_uri answered {}", resp.status())));
    }
    let mut body = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await.map_err(|e| Internal::new(format!("jwks_uri read: {e}")))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES {
            return Err(Internal::new("jwks_uri document too large"));
        }
    }
    let value: Value = serde_json::from_slice(&body)?;
    Ok(usable_keys(&value))
}

/// The delay before a failed `jwks_uri` is fetched again: 10 s, doubled
/// after each further failure, at most 5 min. A URL that fails (a closed
/// port, a name that resolves to no public address) is not fetched on every
/// client assertion sent in its name.
#[must_use]
pub fn failure_backoff_secs(failures: u32) -> u64 {
    FIRST_RETRY_SECS.saturating_mul(1u64 << failures.saturating_sub(1).min(10)).min(MAX_RETRY_SECS)
}

impl JwksCache {
    /// The keys at `uri`, from the cache when fresh. With `kid` given and
    /// not in the cached set, the document is fetched again (rate limited).
    /// After a failed fetch, the URL is not fetched again before its
    /// [`failure_backoff_secs`] have passed, and while one fetch is under
    /// way no other starts; meanwhile the last keys fetched (if any, and not
    /// older than a day) are used, else the failure is answered at once.
    ///
    /// # Errors
    /// The fetch failed (now or within the backoff) and nothing is cached.
    pub async fn get(&self, state: &AppState, uri: &str, kid: Option<&str>) -> Result<Vec<PublicJwk>, Internal> {
        let now = state.now();
        // Decide under the lock whether this call fetches, so that
        // concurrent calls make one fetch between them (single flight).
        let stale = |entry: &Entry| -> Result<Vec<PublicJwk>, Internal> {
            match &entry.keys {
                Some((at, keys)) if now < at.saturating_add(MAX_STALE_SECS) => Ok(keys.clone()),
                _ => Err(Internal::new(format!(
                    "jwks_uri failed {} time(s) or is being fetched; no usable keys cached",
                    entry.failures
                ))),
            }
        };
        {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if entries.len() >= MAX_ENTRIES && !entries.contains_key(uri) {
                // Forget the URLs that have nothing worth keeping.
                entries.retain(|_, e| {
                    e.fetching || e.keys.as_ref().is_some_and(|(at, _)| now < at.saturating_add(CACHE_SECS))
                });
            }
            let entry = entries.entry(uri.to_owned()).or_default();
            if let Some((at, keys)) = &entry.keys {
                let fresh = now < at.saturating_add(CACHE_SECS);
                let has_kid = kid.is_none_or(|k| keys.iter().any(|j| j.kid() == Some(k)));
                if fresh && (has_kid || now < at.saturating_add(MIN_REFETCH_SECS)) {
                    return Ok(keys.clone());
                }
            }
            if entry.fetching || now < entry.retry_at {
                return stale(entry);
            }
            entry.fetching = true;
        }
        let result = fetch(state, uri).await;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.entry(uri.to_owned()).or_default();
        entry.fetching = false;
        match result {
            Ok(keys) => {
                *entry = Entry { keys: Some((now, keys.clone())), failures: 0, retry_at: 0, fetching: false };
                Ok(keys)
            }
            Err(e) => {
                entry.failures = entry.failures.saturating_add(1);
                entry.retry_at = now.saturating_add(failure_backoff_secs(entry.failures));
                tracing::warn!(error = %e, "jwks_uri fetch failed");
                stale(entry).map_err(|_| e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::failure_backoff_secs;

    #[test]
    fn failures_back_off_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=8).map(failure_backoff_secs).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(failure_backoff_secs(u32::MAX), 300);
    }
}
