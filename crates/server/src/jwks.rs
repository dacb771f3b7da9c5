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

/// Cache of fetched `jwks_uri` documents.
#[derive(Debug, Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, (u64, Vec<PublicJwk>)>>,
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
    let url = crate::util::check_outbound_url(uri, state.config.danger_allow_http_loopback_jwks_uri)
        .map_err(|e| Internal::new(format!("jwks_uri refused: {e}")))?;
    let resp = state.http.get(url).send().await.map_err(|e| Internal::new(format!("jwks_uri fetch: {e}")))?;
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

impl JwksCache {
    /// The keys at `uri`, from the cache when fresh. With `kid` given and
    /// not in the cached set, the document is fetched again (rate limited).
    ///
    /// # Errors
    /// The fetch failed and nothing is cached.
    pub async fn get(&self, state: &AppState, uri: &str, kid: Option<&str>) -> Result<Vec<PublicJwk>, Internal> {
        let now = state.now();
        let cached = self.entries.lock().unwrap_or_else(PoisonError::into_inner).get(uri).cloned();
        if let Some((at, keys)) = &cached {
            let fresh = now < at.saturating_add(CACHE_SECS);
            let has_kid = kid.is_none_or(|k| keys.iter().any(|j| j.kid() == Some(k)));
            if fresh && (has_kid || now < at.saturating_add(MIN_REFETCH_SECS)) {
                return Ok(keys.clone());
            }
        }
        match fetch(state, uri).await {
            Ok(keys) => {
                self.entries.lock().unwrap_or_else(PoisonError::into_inner).insert(uri.to_owned(), (now, keys.clone()));
                Ok(keys)
            }
            Err(e) => match cached {
                Some((_, keys)) => {
                    tracing::warn!(error = %e, "jwks_uri refetch failed; using cached keys");
                    Ok(keys)
                }
                None => Err(e),
            },
        }
    }
}
