//! Enrollment (protocol §3): invitation → metadata → key → `POST /enroll`
//! → account. A failed step leaves nothing behind: the key is written to the
//! key store before the ticket is spent (so a broken keychain fails early)
//! and deleted again if any later step fails; the account row is written
//! last, in one transaction.
//!
//! The preview before it: invitation → metadata → `POST /enroll-preview`,
//! whom the ticket is for, with nothing spent or stored.

use crate::approver::{blocking, Approver, Command};
use crate::display::{user_text, TextFinding};
use crate::error::{Error, Result};
use crate::http::typed;
use crate::store::Account;
use countersign_protocol::device::{
    default_device_endpoint, Capability, DeviceErrorCode, EnrolledUser, EnrollmentPreviewRequest,
    EnrollmentPreviewResponse, EnrollmentRequest, EnrollmentResponse, EnrollmentUri, Issuer, Platform,
    METADATA_DEVICE_ENDPOINT, PATH_ENROLL, PATH_ENROLL_PREVIEW,
};
use countersign_protocol::discovery::ServerMetadata;
use countersign_protocol::jws::DeviceKeyPair;
use serde::Serialize;
use std::sync::Arc;

/// Path of the OpenID discovery document under the issuer.
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// This platform's name for enrollment.
#[must_use]
pub fn platform() -> Platform {
    match std::env::consts::OS {
        "macos" => Platform::Macos,
        "windows" => Platform::Windows,
        "linux" => Platform::Linux,
        other => Platform::Extension(other.to_owned()),
    }
}

/// Checks an endpoint named by the metadata (member `what`): an
/// issuer-shaped URL (https, or http on loopback) on the issuer's own origin.
pub(crate) fn same_origin(issuer: &Issuer, endpoint: &str, what: &str) -> Result<()> {
    Issuer::new(endpoint).map_err(|e| Error::Metadata(format!("{what} {endpoint:?}: {e}")))?;
    let origin = |s: &str| url::Url::parse(s).map(|u| u.origin().ascii_serialization()).ok();
    if origin(endpoint) != origin(issuer.as_str()) {
        return Err(Error::Metadata(format!("{what} {endpoint:?} is not on the issuer's origin {issuer}")));
    }
    Ok(())
}

/// Reads the issuer's metadata ([`ServerMetadata`]) and checks that its
/// `issuer` is the one asked for (RFC 8414 §3.3).
pub(crate) async fn server_metadata(http: &crate::http::Http, issuer: &Issuer) -> Result<ServerMetadata> {
    let url = issuer.join(OPENID_CONFIGURATION);
    let meta = http.get_public(&url).await.map_err(|e| Error::Metadata(format!("{url}: {e}")))?;
    let meta: ServerMetadata = serde_json::from_value(meta).map_err(|e| Error::Metadata(format!("{url}: {e}")))?;
    if meta.issuer != issuer.as_str() {
        return Err(Error::IssuerMismatch { expected: issuer.as_str().to_owned(), found: meta.issuer });
    }
    Ok(meta)
}

/// Reads the issuer's metadata and returns its device endpoint.
async fn discover(approver: &Approver, issuer: &Issuer) -> Result<String> {
    let meta = server_metadata(&approver.inner.http, issuer).await?;
    let endpoint = meta.countersign_device_endpoint.unwrap_or_else(|| default_device_endpoint(issuer));
    same_origin(issuer, &endpoint, METADATA_DEVICE_ENDPOINT)?;
    Ok(endpoint)
}

/// What an invitation would enroll this approver as, read before the user
/// confirms ([`Approver::enroll_preview`]). Holds no secret: the ticket is
/// not part of it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct EnrollPreview {
    /// The server: the invitation's issuer, which its metadata confirmed.
    pub issuer: String,
    /// The issuer is plain `http` (a loopback development server).
    pub plain_http: bool,
    /// Whose device this approver would become.
    pub user: EnrolledUser,
    /// When the invitation's ticket expires (unix seconds).
    pub expires_at: u64,
    /// Hidden, bidirectional and control characters (and the other text
    /// checks of [`crate::display::request_text`]) in `user.name` and
    /// `user.sub`, which come from the server: one entry per flagged string
    /// (`field` `/user/name` or `/user/sub`).
    pub user_findings: Vec<TextFinding>,
}

/// The server's refusal of a ticket as [`Error::InvalidTicket`].
fn ticket_refused(e: Error) -> Error {
    match e {
        Error::Server { error, .. } if error.error == DeviceErrorCode::InvalidTicket => Error::InvalidTicket,
        other => other,
    }
}

impl Approver {
    /// Whom the invitation `link` (`countersign://enroll?...` or
    /// `https://.../device/v1/enroll-link?...`) is for, without enrolling:
    /// parses it as [`Approver::enroll`] does, reads the issuer's metadata
    /// and checks its `issuer` the same way, then asks
    /// `POST {device}/enroll-preview`. The ticket is not spent and nothing is
    /// stored, so the user can be shown the server and the user before
    /// confirming.
    ///
    /// # Errors
    /// [`Error::EnrollmentUri`], [`Error::Metadata`], [`Error::IssuerMismatch`],
    /// [`Error::InvalidTicket`] (unknown, expired or used), [`Error::Server`],
    /// [`Error::Network`], [`Error::Protocol`].
    pub async fn enroll_preview(&self, link: &str) -> Result<EnrollPreview> {
        let invitation = EnrollmentUri::parse(link.trim())?;
        self.enroll_preview_with(&invitation).await
    }

    /// [`Approver::enroll_preview`] with a parsed invitation.
    ///
    /// # Errors
    /// As [`Approver::enroll_preview`].
    pub async fn enroll_preview_with(&self, invitation: &EnrollmentUri) -> Result<EnrollPreview> {
        let issuer = invitation.issuer();
        let device_endpoint = discover(self, issuer).await?;
        let request = EnrollmentPreviewRequest { ticket: invitation.ticket().clone() };
        let url = format!("{device_endpoint}{PATH_ENROLL_PREVIEW}");
        let answer = self.inner.http.post_public(&url, &request).await.map_err(ticket_refused)?;
        let response: EnrollmentPreviewResponse = typed(answer, "enrollment preview")?;
        Ok(EnrollPreview {
            issuer: issuer.as_str().to_owned(),
            plain_http: issuer.is_loopback_http(),
            user_findings: user_text(&response.user),
            user: response.user,
            expires_at: response.expires_at,
        })
    }

    /// Enrolls this approver with the invitation `uri`
    /// (`countersign://enroll?...` or `https://.../device/v1/enroll-link?...`).
    ///
    /// # Errors
    /// [`Error::EnrollmentUri`], [`Error::Metadata`], [`Error::IssuerMismatch`],
    /// [`Error::InvalidTicket`], [`Error::Server`], [`Error::Network`], the key
    /// store or the store. On any error nothing is stored.
    pub async fn enroll(&self, uri: &str) -> Result<Account> {
        let invitation = EnrollmentUri::parse(uri.trim())?;
        self.enroll_with(&invitation).await
    }

    /// [`Approver::enroll`] with a parsed invitation.
    ///
    /// # Errors
    /// As [`Approver::enroll`].
    pub async fn enroll_with(&self, invitation: &EnrollmentUri) -> Result<Account> {
        let issuer = invitation.issuer();
        let device_endpoint = discover(self, issuer).await?;
        let key = DeviceKeyPair::generate().map_err(|e| Error::Signing(e.to_string()))?;
        // `user_verification` is announced when the OS can verify the user
        // here now (protocol §3.2); the server records what it is told.
        let mut capabilities = self.inner.config.capabilities.clone();
        let verifier = self.inner.verifier_status().await;
        if verifier.availability == crate::verify::Availability::Available
            && !capabilities.contains(&Capability::UserVerification)
        {
            capabilities.push(Capability::UserVerification);
        }
        let request = EnrollmentRequest {
            ticket: invitation.ticket().clone(),
            public_jwk: key.public_jwk().clone(),
            device_name: self.inner.config.device_name.clone(),
            platform: platform(),
            capabilities,
        };
        request.validate().map_err(|e| Error::Invalid(format!("enrollment request: {e}")))?;
        let account_id = countersign_protocol::secret::generate_url_safe(16)
            .map_err(|_| Error::Signing("random generator failed".into()))?;

        let store = self.inner.store_for_new_key().await?;
        {
            let store = store.clone();
            let id = account_id.clone();
            let der = zeroize::Zeroizing::new(key.pkcs8().secret_bytes().to_vec());
            blocking(move || store.put(&id, &der)).await?;
        }
        let undo_key = || {
            let store = store.clone();
            let id = account_id.clone();
            async move {
                if let Err(e) = blocking(move || store.delete(&id)).await {
                    tracing::warn!("could not remove the key of a failed enrollment: {e}");
                }
            }
        };

        let answer = self.inner.http.post_public(&format!("{device_endpoint}{PATH_ENROLL}"), &request).await;
        let response: EnrollmentResponse = match answer.and_then(|v| typed(v, "enrollment response")) {
            Ok(r) => r,
            Err(e) => {
                undo_key().await;
                return Err(ticket_refused(e));
            }
        };
        let account = Account {
            id: account_id.clone(),
            issuer: issuer.clone(),
            device_endpoint,
            device_id: response.device_id,
            user: response.user,
            poll_interval: response.poll_interval,
            key_store: store.kind(),
            public_jwk: key.public_jwk().clone(),
            last_event_id: None,
            created_at: self.inner.now(),
        };
        if let Err(e) = self.inner.store.insert_account(&account).await {
            undo_key().await;
            return Err(e);
        }
        self.inner.cache_key(&account.id, Arc::new(key));
        // Enrolled: the schemas are fetched again later if this fails.
        if let Err(e) = self.inner.refresh_schemas(&account).await {
            tracing::warn!("fetching the display schemas of {}: {e}", account.issuer);
        }
        self.inner.send_command(Command::AccountAdded(account.id.clone()));
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_endpoint_must_be_on_the_issuer_origin() {
        let issuer = Issuer::new("https://auth.example.com").unwrap();
        same_origin(&issuer, "https://auth.example.com/device/v1", METADATA_DEVICE_ENDPOINT).unwrap();
        assert!(same_origin(&issuer, "https://evil.example.net/device/v1", METADATA_DEVICE_ENDPOINT).is_err());
        assert!(same_origin(&issuer, "http://auth.example.com/device/v1", METADATA_DEVICE_ENDPOINT).is_err());
        assert!(same_origin(&issuer, "https://auth.example.com/device/v1?x=1", METADATA_DEVICE_ENDPOINT).is_err());
        let local = Issuer::new("http://127.0.0.1:8080").unwrap();
        same_origin(&local, "http://127.0.0.1:8080/device/v1", METADATA_DEVICE_ENDPOINT).unwrap();
        assert!(same_origin(&local, "http://127.0.0.1:9090/device/v1", METADATA_DEVICE_ENDPOINT).is_err());
    }
}
