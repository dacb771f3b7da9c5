//! The server's ES256 signing keys: persisted, published in the JWKS, rotated.
//!
//! The active key is the one row of `signing_keys` with `retired_at` NULL.
//! After a rotation the old key stays published (and accepted for
//! `id_token_hint`) for [`crate::config::Config::key_retention_secs`], the
//! longest lifetime of a token it signed. Private keys live in the database:
//! protect its file like a key file.

use countersign_protocol::jws::{self, b64url_decode, b64url_encode, DeviceKeyPair, JwtType, PublicJwk, SignHeader};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::error::Internal;
use crate::store::{self, Db};

/// Cache of parsed key pairs, by `kid`.
#[derive(Default)]
pub struct Keys {
    cache: RwLock<HashMap<String, Arc<DeviceKeyPair>>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

fn parse_pair(pkcs8_b64: &str) -> Result<DeviceKeyPair, Internal> {
    let der = b64url_decode(pkcs8_b64).map_err(|_| Internal::new("stored signing key is not base64url"))?;
    Ok(DeviceKeyPair::from_pkcs8(&der)?)
}

/// Generates and stores a new active key, retiring the current one.
/// Returns the new `kid`.
///
/// # Errors
/// The database or the RNG failed.
pub async fn rotate(db: &Db, by: Option<&crate::audit::Actor<'_>>, now: u64) -> Result<String, Internal> {
    let pair = DeviceKeyPair::generate()?;
    let kid = pair.public_jwk().thumbprint_sha256();
    let pkcs8 = b64url_encode(pair.pkcs8().secret_bytes());
    let mut tx = store::begin(db).await?;
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(store::ts(now))
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO signing_keys (kid, pkcs8, created_at) VALUES ($1, $2, $3)")
        .bind(&kid)
        .bind(&pkcs8)
        .bind(store::ts(now))
        .execute(&mut *tx)
        .await?;
    if let Some(by) = by {
        let record = crate::audit::Record::new(by.clone(), countersign_protocol::admin::AuditAction::SigningKeyRotated);
        crate::audit::append(&mut tx, now, &record.target(&kid)).await?;
    }
    tx.commit().await?;
    Ok(kid)
}

/// Makes sure an active key exists (the first start creates one).
///
/// # Errors
/// The database or the RNG failed.
pub async fn ensure_active(db: &Db, now: u64) -> Result<(), Internal> {
    let row = sqlx::query("SELECT kid FROM signing_keys WHERE retired_at IS NULL").fetch_optional(db).await?;
    if row.is_none() {
        // The first key of a new database: not a rotation, not recorded.
        rotate(db, None, now).await?;
    }
    Ok(())
}

impl Keys {
    fn cached(&self, kid: &str, pkcs8: &str) -> Result<Arc<DeviceKeyPair>, Internal> {
        if let Some(k) = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(kid) {
            return Ok(k.clone());
        }
        let pair = Arc::new(parse_pair(pkcs8)?);
        self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(kid.to_owned(), pair.clone());
        Ok(pair)
    }

    /// The active key and its `kid` (read from the database each time, so a
    /// rotation by the operator CLI takes effect at once).
    ///
    /// # Errors
    /// No active key, or the database failed.
    pub async fn active(&self, db: &Db) -> Result<(String, Arc<DeviceKeyPair>), Internal> {
        let mut conn = db.acquire().await?;
        self.active_on(&mut conn).await
    }

    /// [`Keys::active`] read on `conn` (inside a transaction that holds the
    /// write turn: no second connection is taken from the pool meanwhile).
    ///
    /// # Errors
    /// No active key, or the database failed.
    pub async fn active_on(&self, conn: &mut sqlx::AnyConnection) -> Result<(String, Arc<DeviceKeyPair>), Internal> {
        let row = sqlx::query(
            "SELECT kid, pkcs8 FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Internal::new("no active signing key"))?;
        let kid: String = row.try_get("kid")?;
        let pkcs8: String = row.try_get("pkcs8")?;
        let pair = self.cached(&kid, &pkcs8)?;
        Ok((kid, pair))
    }

    /// The published keys: the active one and those retired less than
    /// `retention` seconds ago, each with `kid`, `alg` and `use`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn published(&self, db: &Db, now: u64, retention: u64) -> Result<Vec<PublicJwk>, Internal> {
        let rows = sqlx::query(
            "SELECT kid, pkcs8 FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 \
             ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, retired_at DESC, created_at DESC",
        )
        .bind(store::ts(now.saturating_sub(retention)))
        .fetch_all(db)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let kid: String = row.try_get("kid")?;
            let pkcs8: String = row.try_get("pkcs8")?;
            let pair = self.cached(&kid, &pkcs8)?;
            let jwk = pair
                .public_jwk()
                .clone()
                .with_kid(kid)
                .with_alg(jws::JwsAlg::Es256)
                .and_then(|k| k.with_use(jws::KeyUse::Sig))
                .map_err(|e| Internal::new(format!("jwk: {e}")))?;
            out.push(jwk);
        }
        Ok(out)
    }

    /// Signs `claims` with the active key: header `alg ES256`, `typ`, `kid`.
    ///
    /// # Errors
    /// The database or the signer failed.
    pub async fn sign(&self, db: &Db, typ: JwtType, claims: &impl Serialize) -> Result<String, Internal> {
        let (kid, pair) = self.active(db).await?;
        Ok(pair.sign(&SignHeader { typ: Some(typ), kid: Some(kid) }, claims)?)
    }

    /// Verifies a JWT this server signed with a published key and returns its
    /// claims. `expected_typ` as in [`jws::verify`].
    ///
    /// # Errors
    /// `None` if no published key verifies it.
    pub async fn verify(
        &self,
        db: &Db,
        jwt: &str,
        expected_typ: Option<&str>,
        now: u64,
        retention: u64,
    ) -> Result<Option<Value>, Internal> {
        let Some((header, _)) = crate::util::peek_jwt(jwt) else {
            return Ok(None);
        };
        let Some(kid) = header.get("kid").and_then(Value::as_str) else {
            return Ok(None);
        };
        let keys = self.published(db, now, retention).await?;
        let Some(key) = keys.iter().find(|k| k.kid() == Some(kid)) else {
            return Ok(None);
        };
        Ok(jws::verify(jwt, key, expected_typ).ok().map(|(_, claims)| claims))
    }
}
