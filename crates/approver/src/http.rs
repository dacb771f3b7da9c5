//! HTTP for the device channel: `reqwest` with rustls and the webpki roots,
//! certificates always verified, redirects never followed (a device proof is
//! bound to one URL), bodies read with a size limit and parsed with the
//! strict JSON reader. Plain `http` is only ever used for loopback issuers,
//! which is all [`Issuer`] admits.

use crate::error::{Error, Result};
use countersign_protocol::device::auth::AUTHORIZATION_SCHEME;
use countersign_protocol::device::{
    DeviceAuthClaims, DeviceErrorCode, DeviceErrorResponse, DeviceId, HttpMethod, Issuer,
};
use countersign_protocol::jws::DeviceKeyPair;
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Largest JSON body read from the server.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Who signs the device proof of a call.
pub(crate) struct DeviceAuth<'a> {
    pub device_id: &'a DeviceId,
    pub issuer: &'a Issuer,
    pub key: &'a DeviceKeyPair,
    pub now: u64,
}

impl DeviceAuth<'_> {
    fn header(&self, method: HttpMethod, url: &str) -> Result<String> {
        let claims = DeviceAuthClaims::new(self.device_id.clone(), self.issuer.clone(), method, url, self.now)
            .map_err(|e| Error::Signing(e.to_string()))?;
        let jws = claims.sign(self.key).map_err(|e| Error::Signing(e.to_string()))?;
        Ok(format!("{AUTHORIZATION_SCHEME} {jws}"))
    }
}

/// The HTTP client of an approver.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

fn net(e: &reqwest::Error) -> Error {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    Error::Network(text)
}

/// `builder` trusting the CA certificates of `files` (PEM, one or more
/// each) beside its built-in roots.
///
/// # Errors
/// [`Error::Config`] naming the file: unreadable, not PEM, or without a
/// certificate.
pub fn trust_ca_files(builder: reqwest::ClientBuilder, files: &[std::path::PathBuf]) -> Result<reqwest::ClientBuilder> {
    countersign_agent::trust_ca_files(builder, files).map_err(Error::Config)
}

impl Http {
    pub(crate) fn new(timeout: Duration, extra_ca_files: &[std::path::PathBuf]) -> Result<Self> {
        let builder = trust_ca_files(reqwest::Client::builder().use_rustls_tls(), extra_ca_files)?;
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("countersign-approver/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| net(&e))?;
        Ok(Self { client, timeout })
    }

    /// `GET url` without device proof (metadata), JSON answer.
    pub(crate) async fn get_public(&self, url: &str) -> Result<Value> {
        let resp = self.client.get(url).timeout(self.timeout).send().await.map_err(|e| net(&e))?;
        json_or_error(resp).await.map(|(_, v)| v)
    }

    /// `POST url` with a JSON body and no device proof (enrollment).
    pub(crate) async fn post_public<B: Serialize + ?Sized>(&self, url: &str, body: &B) -> Result<Value> {
        let resp = self.client.post(url).json(body).timeout(self.timeout).send().await.map_err(|e| net(&e))?;
        json_or_error(resp).await.map(|(_, v)| v)
    }

    /// `GET url` with a device proof.
    pub(crate) async fn device_get(&self, url: &str, auth: &DeviceAuth<'_>) -> Result<Value> {
        let header = auth.header(HttpMethod::Get, url)?;
        let resp = self
            .client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, header)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| net(&e))?;
        json_or_error(resp).await.map(|(_, v)| v)
    }

    /// `POST url` with a device proof and a JSON body.
    pub(crate) async fn device_post<B: Serialize + ?Sized>(
        &self,
        url: &str,
        auth: &DeviceAuth<'_>,
        body: &B,
    ) -> Result<(u16, Value)> {
        let header = auth.header(HttpMethod::Post, url)?;
        let resp = self
            .client
            .post(url)
            .header(reqwest::header::AUTHORIZATION, header)
            .json(body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| net(&e))?;
        json_or_error(resp).await
    }

    /// `POST url` with a device proof and no body.
    pub(crate) async fn device_post_empty(&self, url: &str, auth: &DeviceAuth<'_>) -> Result<(u16, Value)> {
        let header = auth.header(HttpMethod::Post, url)?;
        let resp = self
            .client
            .post(url)
            .header(reqwest::header::AUTHORIZATION, header)
            .header(reqwest::header::CONTENT_LENGTH, 0)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| net(&e))?;
        json_or_error(resp).await
    }

    /// `DELETE url` with a device proof; the server answers `204 No Content`.
    pub(crate) async fn device_delete(&self, url: &str, auth: &DeviceAuth<'_>) -> Result<()> {
        let header = auth.header(HttpMethod::Delete, url)?;
        let resp = self
            .client
            .delete(url)
            .header(reqwest::header::AUTHORIZATION, header)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| net(&e))?;
        let status = resp.status().as_u16();
        let body = read_limited(resp).await?;
        match status {
            204 => Ok(()),
            s if (200..300).contains(&s) => Err(Error::Protocol(format!("DELETE answered {s} instead of 204"))),
            _ => Err(Error::Server { status, error: error_body(status, &body) }),
        }
    }

    /// Opens the event stream: `GET url` with a device proof and
    /// `Last-Event-ID`; no overall timeout (the caller watches heartbeats).
    pub(crate) async fn open_events(
        &self,
        url: &str,
        auth: &DeviceAuth<'_>,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response> {
        let header = auth.header(HttpMethod::Get, url)?;
        let mut req = self
            .client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, header)
            .header(reqwest::header::ACCEPT, countersign_protocol::device::events::EVENT_STREAM_MEDIA_TYPE)
            .header(reqwest::header::CACHE_CONTROL, "no-cache");
        if let Some(id) = last_event_id {
            req = req.header(countersign_protocol::device::events::LAST_EVENT_ID_HEADER, id);
        }
        // Only the response head is bounded; the stream itself is not.
        let resp =
            tokio::time::timeout(self.timeout, req.send()).await.map_err(|_| Error::Network("timed out".into()))?;
        resp.map_err(|e| net(&e))
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
pub(crate) async fn read_limited(resp: reqwest::Response) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| net(&e))?;
        if out.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Error::Protocol(format!("response body larger than {MAX_BODY_BYTES} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A 2xx JSON body (strictly parsed), or the device error of the answer.
async fn json_or_error(resp: reqwest::Response) -> Result<(u16, Value)> {
    let status = resp.status().as_u16();
    let body = read_limited(resp).await?;
    if (200..300).contains(&status) {
        let value = countersign_protocol::jcs::parse_strict(&body)
            .map_err(|e| Error::Protocol(format!("answer is not valid JSON: {e}")))?;
        return Ok((status, value));
    }
    Err(Error::Server { status, error: error_body(status, &body) })
}

/// The error body of a failed call; a body that is not a device error (a
/// proxy's page, say) becomes a generic code for its status.
pub(crate) fn error_body(status: u16, body: &[u8]) -> DeviceErrorResponse {
    if let Ok(v) = countersign_protocol::jcs::parse_strict(body) {
        if let Ok(e) = serde_json::from_value::<DeviceErrorResponse>(v) {
            return e;
        }
    }
    let code = match status {
        429 => DeviceErrorCode::SlowDown,
        s if s >= 500 => DeviceErrorCode::ServerError,
        401 => DeviceErrorCode::InvalidToken,
        404 => DeviceErrorCode::NotFound,
        _ => DeviceErrorCode::Extension(format!("http_{status}")),
    };
    DeviceErrorResponse::new(code, format!("HTTP {status} without a device error body"))
}

/// Deserializes a strictly parsed value into `T`.
pub(crate) fn typed<T: DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Protocol(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    // An extra CA file that cannot be read, or holds no certificate, stops
    // the approver with an error naming the file; a real one is taken.
    #[test]
    fn extra_ca_files_are_read_or_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-ca.pem");
        let e = Http::new(Duration::from_secs(1), std::slice::from_ref(&missing)).unwrap_err().to_string();
        assert!(e.contains("missing-ca.pem"), "{e}");
        let empty = dir.path().join("empty-ca.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let e = Http::new(Duration::from_secs(1), std::slice::from_ref(&empty)).unwrap_err().to_string();
        assert!(e.contains("empty-ca.pem") && e.contains("no certificate"), "{e}");
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.pem()).unwrap();
        Http::new(Duration::from_secs(1), &[good]).unwrap();
    }
}
