//! Enrollment: the enrollment URI, `POST {device}/enroll-preview` and
//! `POST {device}/enroll`.

use super::ids::DeviceId;
use super::issuer::{Issuer, IssuerError};
use super::registered::registered_enum;
use crate::jws::{b64url_decode, PublicJwk};
use crate::secret::EnrollmentTicket;
use serde::{Deserialize, Serialize};

/// Scheme of the app enrollment URI.
pub const ENROLL_SCHEME: &str = "countersign";
/// Host of the app enrollment URI (`countersign://enroll?…`).
pub const ENROLL_HOST: &str = "enroll";
/// Path of the `https` enrollment link under the issuer:
/// `{issuer}/device/v1/enroll-link?ticket=…`. Fixed, whatever the
/// `countersign_device_endpoint`, so the issuer can be read from the link.
pub const ENROLL_LINK_PATH: &str = "/device/v1/enroll-link";
/// Query parameter carrying the issuer (app URI only).
pub const PARAM_ISSUER: &str = "issuer";
/// Query parameter carrying the ticket.
pub const PARAM_TICKET: &str = "ticket";
/// Length of a ticket: 256 bits as unpadded base64url.
pub const TICKET_LEN: usize = 43;
/// Default ticket lifetime (DESIGN §4), seconds.
pub const DEFAULT_TICKET_TTL_SECS: u64 = 600;
/// Longest `device_name`, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

/// Why a ticket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Not 43 characters.
    #[error("ticket must be {TICKET_LEN} characters, got {0}")]
    Length(usize),
    /// A character outside the base64url alphabet.
    #[error("ticket must be base64url (A-Z a-z 0-9 - _)")]
    Charset,
    /// 43 base64url characters whose last one carries non-zero padding bits.
    #[error("ticket is not the canonical base64url of 32 bytes")]
    NotCanonical,
}

/// Checks the form of a ticket: 43 characters of canonical unpadded
/// base64url, i.e. exactly 32 bytes (256 bits).
///
/// # Errors
/// [`TicketError`].
pub fn check_ticket(ticket: &str) -> Result<(), TicketError> {
    if ticket.len() != TICKET_LEN {
        return Err(TicketError::Length(ticket.chars().count()));
    }
    if !ticket.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(TicketError::Charset);
    }
    match b64url_decode(ticket) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err(TicketError::NotCanonical),
    }
}

/// Why an enrollment URI or link was refused. Parts of the link are quoted
/// as they are (not Debug-escaped): each shell reveals them once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollmentUriError {
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    Malformed(String),
    /// Neither `countersign:` nor `https:`/`http:`.
    #[error("unsupported scheme \"{0}\" (expected countersign or https)")]
    UnsupportedScheme(String),
    /// `countersign://X` with X other than `enroll` (or with user info or a port).
    #[error("app URI authority must be \"enroll\", got \"{0}\"")]
    WrongHost(String),
    /// The path is not the enrollment path.
    #[error("wrong path \"{0}\"")]
    WrongPath(String),
    /// The URI has a fragment.
    #[error("enrollment URI must not have a fragment")]
    Fragment,
    /// A required parameter is absent.
    #[error("missing parameter {0:?}")]
    MissingParam(&'static str),
    /// A parameter appears twice.
    #[error("parameter {0:?} appears more than once")]
    DuplicateParam(&'static str),
    /// A parameter this version does not define.
    #[error("unknown parameter \"{0}\"")]
    UnknownParam(String),
    /// The issuer is not acceptable.
    #[error("bad issuer: {0}")]
    Issuer(#[from] IssuerError),
    /// The ticket is not acceptable.
    #[error("bad ticket: {0}")]
    Ticket(#[from] TicketError),
}

/// An enrollment invitation: which server, which one-time ticket.
///
/// Two spellings, both parsed by [`EnrollmentUri::parse`]:
/// - app URI: `countersign://enroll?issuer=<form-encoded issuer>&ticket=<ticket>`;
/// - `https` link: `{issuer}/device/v1/enroll-link?ticket=<ticket>`
///   (the issuer is the link up to [`ENROLL_LINK_PATH`]).
///
/// `Debug` keeps the ticket redacted; there is no `Display` (use
/// [`Self::to_app_uri`] or [`Self::to_https_link`] deliberately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentUri {
    issuer: Issuer,
    ticket: EnrollmentTicket,
}

struct Params {
    issuer: Option<String>,
    ticket: Option<String>,
}

fn collect_params(url: &url::Url, allow_issuer: bool) -> Result<Params, EnrollmentUriError> {
    let mut params = Params { issuer: None, ticket: None };
    for (name, value) in url.query_pairs() {
        let (slot, name) = match name.as_ref() {
            PARAM_ISSUER if allow_issuer => (&mut params.issuer, PARAM_ISSUER),
            PARAM_TICKET => (&mut params.ticket, PARAM_TICKET),
            other => return Err(EnrollmentUriError::UnknownParam(other.to_owned())),
        };
        if slot.is_some() {
            return Err(EnrollmentUriError::DuplicateParam(name));
        }
        *slot = Some(value.into_owned());
    }
    Ok(params)
}

impl EnrollmentUri {
    /// Builds an invitation.
    ///
    /// # Errors
    /// [`EnrollmentUriError::Ticket`] if the ticket is not 43 base64url characters.
    pub fn new(issuer: Issuer, ticket: EnrollmentTicket) -> Result<Self, EnrollmentUriError> {
        check_ticket(ticket.secret())?;
        Ok(Self { issuer, ticket })
    }

    /// Parses either spelling.
    ///
    /// # Errors
    /// One [`EnrollmentUriError`] variant per kind of bad input.
    pub fn parse(text: &str) -> Result<Self, EnrollmentUriError> {
        let url = url::Url::parse(text).map_err(|e| EnrollmentUriError::Malformed(e.to_string()))?;
        if url.fragment().is_some() {
            return Err(EnrollmentUriError::Fragment);
        }
        match url.scheme() {
            ENROLL_SCHEME => Self::parse_app(&url),
            "https" | "http" => Self::parse_link(text, &url),
            other => Err(EnrollmentUriError::UnsupportedScheme(other.to_owned())),
        }
    }

    fn parse_app(url: &url::Url) -> Result<Self, EnrollmentUriError> {
        let host = url.host_str().unwrap_or_default();
        if host != ENROLL_HOST || !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
            let authority = url
                .as_str()
                .strip_prefix("countersign://")
                .and_then(|rest| rest.split(['/', '?']).next())
                .unwrap_or(host);
            return Err(EnrollmentUriError::WrongHost(authority.to_owned()));
        }
        if !url.path().is_empty() {
            return Err(EnrollmentUriError::WrongPath(url.path().to_owned()));
        }
        let params = collect_params(url, true)?;
        let issuer = params.issuer.ok_or(EnrollmentUriError::MissingParam(PARAM_ISSUER))?;
        let ticket = params.ticket.ok_or(EnrollmentUriError::MissingParam(PARAM_TICKET))?;
        let issuer = Issuer::new(issuer)?;
        Self::new(issuer, EnrollmentTicket::new(ticket))
    }

    fn parse_link(text: &str, url: &url::Url) -> Result<Self, EnrollmentUriError> {
        if !url.path().ends_with(ENROLL_LINK_PATH) {
            return Err(EnrollmentUriError::WrongPath(url.path().to_owned()));
        }
        let params = collect_params(url, false)?;
        let base = text.split('?').next().unwrap_or(text);
        let issuer = base.strip_suffix(ENROLL_LINK_PATH).ok_or_else(|| {
            // The parsed path ends with the suffix but the text does not: the
            // text is not in normal form (e.g. dot segments, escapes).
            EnrollmentUriError::WrongPath(base.to_owned())
        })?;
        let issuer = Issuer::new(issuer)?;
        let ticket = params.ticket.ok_or(EnrollmentUriError::MissingParam(PARAM_TICKET))?;
        Self::new(issuer, EnrollmentTicket::new(ticket))
    }

    /// The issuer to enroll with.
    #[must_use]
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The one-time ticket.
    #[must_use]
    pub fn ticket(&self) -> &EnrollmentTicket {
        &self.ticket
    }

    /// `countersign://enroll?issuer=…&ticket=…` (contains the secret ticket).
    #[must_use]
    pub fn to_app_uri(&self) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(PARAM_ISSUER, self.issuer.as_str())
            .append_pair(PARAM_TICKET, self.ticket.secret())
            .finish();
        format!("{ENROLL_SCHEME}://{ENROLL_HOST}?{query}")
    }

    /// `{issuer}/device/v1/enroll-link?ticket=…` (contains the secret ticket).
    #[must_use]
    pub fn to_https_link(&self) -> String {
        format!("{}?{PARAM_TICKET}={}", self.issuer.join(ENROLL_LINK_PATH), self.ticket.secret())
    }
}

registered_enum! {
    /// The approver's operating system (`platform`).
    pub enum Platform {
        /// macOS.
        Macos => "macos",
        /// Windows.
        Windows => "windows",
        /// Linux.
        Linux => "linux",
    } extension
}

registered_enum! {
    /// What an approver can do (`capabilities`).
    pub enum Capability {
        /// Receives requests over SSE (`GET {device}/events`).
        Push => "push",
        /// Shows desktop notifications.
        Notifications => "notifications",
        /// Can verify the user locally (OS prompt) before signing.
        UserVerification => "user_verification",
        /// Can produce WebAuthn assertions (security key or passkey).
        Webauthn => "webauthn",
    } extension
}

registered_enum! {
    /// A user's role (`roles`).
    pub enum Role {
        /// May use the admin API.
        Admin => "admin",
        /// An ordinary user.
        User => "user",
    } extension
}

/// Why an enrollment request is not acceptable (beyond its JSON shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollmentRequestError {
    /// The ticket is malformed.
    #[error("bad ticket: {0}")]
    Ticket(#[from] TicketError),
    /// `device_name` is empty, too long or has control characters.
    #[error("device_name must be 1 to {MAX_DEVICE_NAME_CHARS} characters without control characters")]
    DeviceName,
    /// The JWK carries a `kid` (the server assigns it: `kid` = `device_id`).
    #[error("public_jwk must not carry a kid; the server assigns device_id")]
    JwkHasKid,
    /// A capability is listed twice.
    #[error("capability {0:?} listed twice")]
    DuplicateCapability(String),
}

/// `POST {device}/enroll` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRequest {
    /// The one-time ticket from the enrollment URI.
    pub ticket: EnrollmentTicket,
    /// The device's new P-256 public key.
    pub public_jwk: PublicJwk,
    /// A name the user recognises, e.g. "Ada's laptop".
    pub device_name: String,
    /// Operating system.
    pub platform: Platform,
    /// What the approver can do.
    pub capabilities: Vec<Capability>,
}

impl EnrollmentRequest {
    /// Checks what serde cannot.
    ///
    /// # Errors
    /// [`EnrollmentRequestError`].
    pub fn validate(&self) -> Result<(), EnrollmentRequestError> {
        check_ticket(self.ticket.secret())?;
        let chars = self.device_name.chars().count();
        if chars == 0 || chars > MAX_DEVICE_NAME_CHARS || self.device_name.chars().any(char::is_control) {
            return Err(EnrollmentRequestError::DeviceName);
        }
        if self.public_jwk.kid().is_some() {
            return Err(EnrollmentRequestError::JwkHasKid);
        }
        for (i, c) in self.capabilities.iter().enumerate() {
            if self.capabilities[..i].contains(c) {
                return Err(EnrollmentRequestError::DuplicateCapability(c.as_str().to_owned()));
            }
        }
        Ok(())
    }
}

/// The enrolled user, as the server tells the approver.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolledUser {
    /// Subject identifier (the `sub` of tokens and statements).
    pub sub: String,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// `GET {device}/me` body (§3.4): the calling device and its user now.
/// Unknown members are ignored (a later server may add some).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSelf {
    /// The device.
    pub device_id: DeviceId,
    /// Its user: name and roles as they are now.
    pub user: EnrolledUser,
}

/// `POST {device}/enroll-preview` body: who a ticket is for, without
/// spending it (protocol §3.3). A `POST` so the ticket never sits in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentPreviewRequest {
    /// The one-time ticket from the enrollment URI.
    pub ticket: EnrollmentTicket,
}

impl EnrollmentPreviewRequest {
    /// Checks what serde cannot: the ticket's form.
    ///
    /// # Errors
    /// [`TicketError`].
    pub fn validate(&self) -> Result<(), TicketError> {
        check_ticket(self.ticket.secret())
    }
}

/// `POST {device}/enroll-preview` success body (HTTP 200). The ticket is not
/// spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentPreviewResponse {
    /// Whose device an enrollment with this ticket would create.
    pub user: EnrolledUser,
    /// When the ticket expires (unix seconds).
    pub expires_at: u64,
}

/// `POST {device}/enroll` success body (HTTP 201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentResponse {
    /// The new device's id: `kid` and `iss` of everything it signs.
    pub device_id: DeviceId,
    /// Whose device it is.
    pub user: EnrolledUser,
    /// Seconds between polls when push is down.
    pub poll_interval: u64,
}
