//! Exports that verify offline: `countersign-server audit export` writes the
//! log as JSON Lines (one entry per line, oldest first) and a last line
//! `{"head": "<JWS>"}`: an [`AuditHead`] over the last entry, signed with
//! the server's active key, which its JWKS publishes. `audit verify-export`
//! checks the chain and that signature with nothing but a JWKS file.

use std::io::Write;

use countersign_protocol::admin::{AuditEntry, AuditHead};
use countersign_protocol::jws::{JwtType, PublicJwk, SignHeader};
use futures_util::TryStreamExt as _;
use serde::Deserialize;

use super::chain::{Broken, Verified, Walk};
use crate::crypto::signing_keys::Keys;
use crate::error::Internal;
use crate::store::Db;

/// Why an export could not be written or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The chain is broken (in the database, or in the file).
    #[error("{0}")]
    Broken(#[from] Broken),
    /// The file is not an export.
    #[error("line {line}: {what}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// The head's signature, key or content does not match.
    #[error("the export's signed head: {0}")]
    Head(String),
    /// Writing failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// The server failed.
    #[error("{0}")]
    Internal(#[from] Internal),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadLine {
    head: String,
}

/// Writes the whole log to `out` and signs its head; refuses a log that
/// does not verify (nothing signed vouches for a broken chain).
///
/// # Errors
/// A broken chain, the database, the signing key or the writer failed.
pub async fn export(db: &Db, issuer: &str, now: u64, out: &mut (impl Write + Send)) -> Result<Verified, ExportError> {
    let mut walk = Walk::default();
    let mut rows =
        sqlx::query("SELECT seq, at, actor, action, target, sub, data, hash FROM audit_log ORDER BY seq").fetch(db);
    while let Some(row) = rows.try_next().await.map_err(Internal::from)? {
        let entry = super::from_row(&row)?;
        walk.next(&entry)?;
        serde_json::to_writer(&mut *out, &entry).map_err(Internal::from)?;
        out.write_all(b"\n")?;
    }
    drop(rows);
    let verified = walk.done();
    let (kid, pair) = Keys::default().active(db).await?;
    let head = AuditHead { iss: issuer.to_owned(), iat: now, seq: verified.head.0, hash: verified.head.1.clone() };
    let jws =
        pair.sign(&SignHeader { typ: Some(JwtType::AuditHead), kid: Some(kid) }, &head).map_err(Internal::from)?;
    serde_json::to_writer(&mut *out, &serde_json::json!({ "head": jws })).map_err(Internal::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(verified)
}

/// The members of an exported audit entry (`AuditEntry`).
const ENTRY_MEMBERS: [&str; 8] = ["seq", "at", "actor", "action", "target", "sub", "data", "hash"];

/// Verifies an export against `jwks` (the server's published keys): every
/// entry chains, and the last line is a head signed by one of those keys
/// naming the last entry. Returns the head as well.
///
/// # Errors
/// The first problem found.
pub fn verify_export(text: &str, jwks: &[PublicJwk]) -> Result<(Verified, AuditHead), ExportError> {
    let lines: Vec<&str> = text.lines().collect();
    let Some((last, entries)) = lines.split_last() else {
        return Err(ExportError::Malformed { line: 1, what: "empty file: no signed head".into() });
    };
    let mut walk = Walk::default();
    for (i, line) in entries.iter().enumerate() {
        let entry: AuditEntry = serde_json::from_str(line)
            .map_err(|e| ExportError::Malformed { line: i + 1, what: format!("not an audit entry: {e}") })?;
        // The wire type ignores members a later server adds; an export is
        // read strictly: a member the chain hash does not cover is refused.
        let members: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
            .map_err(|e| ExportError::Malformed { line: i + 1, what: format!("not an audit entry: {e}") })?;
        if let Some(extra) = members.keys().find(|k| !ENTRY_MEMBERS.contains(&k.as_str())) {
            return Err(ExportError::Malformed {
                line: i + 1,
                what: format!("not an audit entry: unknown member {extra:?}"),
            });
        }
        walk.next(&entry)?;
    }
    let verified = walk.done();
    let head_line: HeadLine = serde_json::from_str(last).map_err(|e| ExportError::Malformed {
        line: lines.len(),
        what: format!("the last line must be {{\"head\": \"<JWS>\"}}: {e}"),
    })?;
    let (header, _) = crate::util::peek_jwt(&head_line.head).ok_or_else(|| ExportError::Head("not a JWS".into()))?;
    let kid =
        header.get("kid").and_then(serde_json::Value::as_str).ok_or_else(|| ExportError::Head("no kid".into()))?;
    let key = jwks
        .iter()
        .find(|k| k.kid() == Some(kid))
        .ok_or_else(|| ExportError::Head(format!("signed by key {kid:?}, which the JWKS does not hold")))?;
    let (_, claims) = countersign_protocol::jws::verify(&head_line.head, key, Some(JwtType::AuditHead.as_str()))
        .map_err(|e| ExportError::Head(e.to_string()))?;
    let head: AuditHead = serde_json::from_value(claims).map_err(|e| ExportError::Head(e.to_string()))?;
    if head.seq != verified.head.0 {
        return Err(ExportError::Head(format!(
            "it names entry {} but the file ends at entry {} (entries added or removed after signing)",
            head.seq, verified.head.0
        )));
    }
    if head.hash != verified.head.1 {
        return Err(ExportError::Head(format!(
            "its hash of entry {} differs from the file's (entries changed after signing)",
            head.seq
        )));
    }
    Ok((verified, head))
}
