//! Operator operations on WebAuthn: a user's security keys and passkeys, a
//! client's step-up and user verification policies.

use countersign_protocol::device::WebauthnCredential;

use countersign_protocol::admin::AuditAction;

use super::{find_user, AdminError};
use crate::audit::{Actor, Record};
use crate::oauth::clients::StepUpAt;
use crate::store::{self, Db};

/// A user's WebAuthn credentials, oldest first.
///
/// # Errors
/// [`AdminError::NotFound`] for an unknown user; the database.
pub async fn list_security_keys(db: &Db, who: &str) -> Result<Vec<WebauthnCredential>, AdminError> {
    let user = find_user(db, who).await?;
    Ok(crate::webauthn::credentials::list(db, &user.sub).await?)
}

/// Removes one of a user's WebAuthn credentials.
///
/// # Errors
/// [`AdminError::NotFound`] for an unknown user or credential; the database.
pub async fn remove_security_key(
    db: &Db,
    who: &str,
    credential_id: &str,
    by: &Actor<'_>,
    now: u64,
) -> Result<(), AdminError> {
    let user = find_user(db, who).await?;
    if !crate::webauthn::credentials::remove(db, &user.sub, credential_id, by, now).await? {
        return Err(AdminError::NotFound(format!("credential {credential_id:?} of {who}")));
    }
    tracing::info!(sub = %user.sub, credential_id, "WebAuthn credential removed by an operator");
    Ok(())
}

/// Sets from which risk a client's approvals need WebAuthn: `never`, a
/// risk (`low`, `medium`, `high`, `critical`), or `default` (the server's
/// setting).
///
/// # Errors
/// [`AdminError::Invalid`] for another value, [`AdminError::NotFound`] for
/// an unknown client; the database.
pub async fn set_client_step_up(
    db: &Db,
    client_id: &str,
    at: &str,
    by: &Actor<'_>,
    now: u64,
) -> Result<(), AdminError> {
    let stored = match at {
        "default" => None,
        other => Some(StepUpAt::parse(other).map_err(|e| AdminError::Invalid(format!("{e}, or default")))?),
    };
    let mut tx = store::begin(db).await?;
    let done = sqlx::query("UPDATE clients SET webauthn_at = $1 WHERE client_id = $2")
        .bind(stored.as_ref().map(StepUpAt::as_str))
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AdminError::NotFound(format!("client {client_id:?}")));
    }
    let data = serde_json::json!({ "webauthn_at": at });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::ClientPolicy).target(client_id).data(data),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(client_id, webauthn_at = at, "client step-up policy changed");
    Ok(())
}

/// Sets a client's user verification policy: from which risk its approvals
/// need user verification (`never`, a risk, or `default`: the server's
/// `--user-verification-at`) and, when given, the least class (`user`,
/// `hwk`, or `default`: the server's `--user-verification-class`); without
/// `class` the stored class stays.
///
/// # Errors
/// [`AdminError::Invalid`] for another value, [`AdminError::NotFound`] for
/// an unknown client; the database.
pub async fn set_client_user_verification(
    db: &Db,
    client_id: &str,
    at: &str,
    class: Option<&str>,
    by: &Actor<'_>,
    now: u64,
) -> Result<(), AdminError> {
    use countersign_protocol::amr::VerificationClass;
    let at = match at {
        "default" => None,
        other => Some(StepUpAt::parse(other).map_err(|e| AdminError::Invalid(format!("{e}, or default")))?),
    };
    // None: keep the stored class; Some(None): the server's.
    let class = match class {
        None => None,
        Some("default") => Some(None),
        Some(other) => Some(Some(
            VerificationClass::parse(other)
                .ok_or_else(|| AdminError::Invalid(format!("`{other}` is not one of user, hwk, default")))?,
        )),
    };
    let mut tx = store::begin(db).await?;
    let done = sqlx::query(
        "UPDATE clients SET user_verification_at = $1, \
         user_verification_class = CASE WHEN $2 THEN $3 ELSE user_verification_class END WHERE client_id = $4",
    )
    .bind(at.as_ref().map(StepUpAt::as_str))
    .bind(class.is_some())
    .bind(class.flatten().map(|c| c.as_str()))
    .bind(client_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AdminError::NotFound(format!("client {client_id:?}")));
    }
    let data = serde_json::json!({
        "user_verification_at": at.as_ref().map_or("default", StepUpAt::as_str),
        "user_verification_class": class.map_or("unchanged", |c| c.map_or("default", |c| c.as_str())),
    });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::ClientPolicy).target(client_id).data(data),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        client_id,
        user_verification_at = at.as_ref().map_or("default", StepUpAt::as_str),
        user_verification_class = class.map_or("unchanged", |c| c.map_or("default", |c| c.as_str())),
        "client user verification policy changed"
    );
    Ok(())
}
