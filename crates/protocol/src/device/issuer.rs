//! The issuer identifier as the device channel uses it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an issuer identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// Not an absolute URL with a host.
    #[error("issuer is not an absolute URL with a host: {0}")]
    NotAUrl(String),
    /// Neither `https` nor `http` on a loopback host.
    #[error("issuer must use https (http only for localhost, 127.0.0.1 or [::1]), got {0:?}")]
    InsecureScheme(String),
    /// Carries `user:password@`.
    #[error("issuer must not contain user information")]
    Userinfo,
    /// Has a query component (RFC 8414 §2).
    #[error("issuer must not have a query component")]
    Query,
    /// Has a fragment component (RFC 8414 §2).
    #[error("issuer must not have a fragment component")]
    Fragment,
    /// Ends with `/`.
    #[error("issuer must not end with \"/\"")]
    TrailingSlash,
    /// Not in the normal form (lowercase scheme and host, no default port,
    /// normalized path and percent-encoding).
    #[error("issuer is not in normal form; the normal form is {0:?}")]
    NotCanonical(String),
}

/// An issuer identifier: an absolute `https` URL (or `http` on
/// `localhost`/`127.0.0.1`/`[::1]`, for development), no user information,
/// no query, no fragment, no trailing `/`, in the normal form the WHATWG URL
/// parser produces. It is compared byte for byte (`aud`, the statement), so
/// only one spelling of each issuer is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

#[cfg(feature = "ts")]
crate::ts_inline!(Issuer => "string");

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

impl Issuer {
    /// Checks and wraps an issuer identifier.
    ///
    /// # Errors
    /// [`IssuerError`], one variant per rule.
    pub fn new(value: impl Into<String>) -> Result<Self, IssuerError> {
        let value = value.into();
        let url = url::Url::parse(&value).map_err(|e| IssuerError::NotAUrl(e.to_string()))?;
        if url.cannot_be_a_base() || url.host().is_none() {
            return Err(IssuerError::NotAUrl(value));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_host(&url) => {}
            other => return Err(IssuerError::InsecureScheme(other.to_owned())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(IssuerError::Userinfo);
        }
        if url.query().is_some() {
            return Err(IssuerError::Query);
        }
        if url.fragment().is_some() {
            return Err(IssuerError::Fragment);
        }
        if value.ends_with('/') {
            return Err(IssuerError::TrailingSlash);
        }
        let normal = url.as_str();
        let normal = if url.path() == "/" { normal.strip_suffix('/').unwrap_or(normal) } else { normal };
        if normal != value {
            return Err(IssuerError::NotCanonical(normal.to_owned()));
        }
        Ok(Self(value))
    }

    /// The identifier.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `issuer + path` (path starts with `/`).
    #[must_use]
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// `true` for `http` on a loopback host.
    #[must_use]
    pub fn is_loopback_http(&self) -> bool {
        self.0.starts_with("http:")
    }
}

impl TryFrom<String> for Issuer {
    type Error = IssuerError;
    fn try_from(s: String) -> Result<Self, IssuerError> {
        Self::new(s)
    }
}

impl From<Issuer> for String {
    fn from(v: Issuer) -> String {
        v.0
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
