//! `countersign-agent`: a CIBA client (the "agent" side) that uses only the
//! public HTTP API: discovery, RFC 7591 registration, `/bc-authorize` with
//! `authorization_details`, and the token endpoint in poll or ping mode.
//! The CLI's demo agent and the MCP gateway (`countersign-mcp`) both ask
//! through it.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use countersign_protocol::ciba::{BackchannelAuthenticationResponse, GrantType, TokenDeliveryMode, CIBA_GRANT_TYPE};
use countersign_protocol::device::Issuer;
use countersign_protocol::discovery::ServerMetadata;
use countersign_protocol::rar::AuthorizationDetails;
use countersign_protocol::registration::{
    ClientMetadata, ClientRegistrationRequest, ClientRegistrationResponse, TokenEndpointAuthMethod,
};
use countersign_protocol::secret::ClientSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An agent failure.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Network failure.
    #[error("network: {0}")]
    Network(String),
    /// The server answered with an error.
    #[error("{endpoint} answered {status}: {body}")]
    Server {
        /// Which endpoint.
        endpoint: &'static str,
        /// HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
    /// Bad input or a bad answer.
    #[error("{0}")]
    Invalid(String),
    /// No answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

type Result<T> = std::result::Result<T, AgentError>;

/// A registered agent, as saved by `agent register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentFile {
    /// The server.
    pub issuer: String,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` (client_secret_basic); redacted in `Debug`.
    pub client_secret: ClientSecret,
    /// `backchannel_authentication_endpoint`.
    pub backchannel_authentication_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `poll` or `ping`.
    pub mode: String,
    /// The ping callback URL (ping mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 7009), where Countersign's server also
    /// takes an `auth_req_id` to withdraw a pending request ([`cancel`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
}

/// How a token request ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TokenOutcome {
    /// Approved: the token response.
    Approved {
        /// The token endpoint's answer.
        token: Value,
        /// The `authorization_details` claim of the access token.
        granted_authorization_details: Value,
    },
    /// A final error (`access_denied`, `expired_token`, ...).
    Refused {
        /// The error body.
        error: Value,
    },
}

/// The CA file (PEM) the demo agent trusts beside the built-in roots
/// (`--ca-file`, `COUNTERSIGN_CA_FILE`), set once before its first call.
static CA_FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

/// Trust `file` (a server's development CA) in the agent's calls; to be
/// called before the first.
pub fn trust_ca_file(file: Option<std::path::PathBuf>) {
    let _ = CA_FILE.set(file);
}

/// The HTTP client, built once (the CA file read once), then shared: every
/// poll reuses its connections.
static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();

fn client() -> Result<reqwest::Client> {
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let built = build_client()?;
    Ok(CLIENT.get_or_init(|| built).clone())
}

fn build_client() -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    let files: &[std::path::PathBuf] = CA_FILE.get().and_then(Option::as_ref).map_or(&[], std::slice::from_ref);
    let builder = trust_ca_files(builder, files).map_err(AgentError::Invalid)?;
    builder.build().map_err(|e| AgentError::Network(e.to_string()))
}

/// `builder` trusting the CA certificates of `files` (PEM, one or more
/// each) beside its built-in roots.
///
/// # Errors
/// A message naming the file: unreadable, not PEM, or without a
/// certificate.
pub fn trust_ca_files(
    mut builder: reqwest::ClientBuilder,
    files: &[std::path::PathBuf],
) -> std::result::Result<reqwest::ClientBuilder, String> {
    for file in files {
        let pem = std::fs::read(file).map_err(|e| format!("CA file {}: {e}", file.display()))?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("CA file {}: {e}", file.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {}: no certificate in it", file.display()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

fn net(e: &reqwest::Error) -> AgentError {
    AgentError::Network(e.to_string())
}

/// Endpoints must be https, or http on a loopback host (like issuers).
///
/// # Errors
/// [`AgentError::Invalid`] naming `name` and the URL.
pub fn check_endpoint(name: &str, url: &str) -> Result<()> {
    let u = url::Url::parse(url).map_err(|e| AgentError::Invalid(format!("{name} \"{url}\": {e}")))?;
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if u.scheme() == "https" || (u.scheme() == "http" && loopback) {
        Ok(())
    } else {
        Err(AgentError::Invalid(format!("{name} must be https (http only on loopback): \"{url}\"")))
    }
}

async fn json_answer(endpoint: &'static str, resp: reqwest::Response) -> Result<(u16, Value)> {
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| net(&e))?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if (200..300).contains(&status) {
        Ok((status, value))
    } else {
        Err(AgentError::Server { endpoint, status, body: value.to_string() })
    }
}

/// What discovery says an agent needs.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The issuer, as the server names itself.
    pub issuer: String,
    /// `registration_endpoint`, when the server offers registration.
    pub registration_endpoint: Option<String>,
    /// `backchannel_authentication_endpoint`.
    pub backchannel_authentication_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `revocation_endpoint`, when the server has one.
    pub revocation_endpoint: Option<String>,
}

/// Reads `issuer`'s discovery document: its endpoints, each https (or
/// http on loopback), and the issuer it names, which must be `issuer`.
///
/// # Errors
/// [`AgentError`].
pub async fn discover(issuer: &str) -> Result<Endpoints> {
    let issuer = Issuer::new(issuer).map_err(|e| AgentError::Invalid(format!("issuer: {e}")))?;
    let http = client()?;
    let resp = http.get(issuer.join("/.well-known/openid-configuration")).send().await.map_err(|e| net(&e))?;
    let (_, meta) = json_answer("discovery", resp).await?;
    let meta: ServerMetadata =
        serde_json::from_value(meta).map_err(|e| AgentError::Invalid(format!("metadata: {e}")))?;
    if meta.issuer != issuer.as_str() {
        return Err(AgentError::Invalid(format!("metadata issuer {} is not {issuer}", json!(meta.issuer))));
    }
    let endpoint = |name: &str, url: &Option<String>| -> Result<String> {
        let url = url.as_deref().ok_or_else(|| AgentError::Invalid(format!("metadata lacks {name}")))?;
        check_endpoint(name, url)?;
        Ok(url.to_owned())
    };
    let registration_endpoint = match &meta.registration_endpoint {
        Some(_) => Some(endpoint("registration_endpoint", &meta.registration_endpoint)?),
        None => None,
    };
    let revocation_endpoint = match &meta.revocation_endpoint {
        Some(_) => Some(endpoint("revocation_endpoint", &meta.revocation_endpoint)?),
        None => None,
    };
    Ok(Endpoints {
        issuer: issuer.as_str().to_owned(),
        registration_endpoint,
        backchannel_authentication_endpoint: endpoint(
            "backchannel_authentication_endpoint",
            &meta.backchannel_authentication_endpoint,
        )?,
        token_endpoint: endpoint("token_endpoint", &meta.token_endpoint)?,
        revocation_endpoint,
    })
}

/// A client registered by other means (`client_secret_basic`, poll mode)
/// at `issuer`, its endpoints from discovery.
///
/// # Errors
/// [`AgentError`].
pub async fn configured(issuer: &str, client_id: String, client_secret: ClientSecret) -> Result<AgentFile> {
    let e = discover(issuer).await?;
    Ok(AgentFile {
        issuer: e.issuer,
        client_id,
        client_secret,
        backchannel_authentication_endpoint: e.backchannel_authentication_endpoint,
        token_endpoint: e.token_endpoint,
        mode: "poll".to_owned(),
        notification_endpoint: None,
        revocation_endpoint: e.revocation_endpoint,
    })
}

/// Reads discovery and registers a client.
///
/// # Errors
/// [`AgentError`].
pub async fn register(
    issuer: &str,
    client_name: &str,
    mode: &str,
    notification_endpoint: Option<String>,
    types: &[String],
) -> Result<AgentFile> {
    let e = discover(issuer).await?;
    let registration =
        e.registration_endpoint.ok_or_else(|| AgentError::Invalid("metadata lacks registration_endpoint".into()))?;
    let delivery_mode: TokenDeliveryMode =
        mode.parse().map_err(|e| AgentError::Invalid(format!("backchannel_token_delivery_mode: {e}")))?;
    let body = ClientRegistrationRequest {
        metadata: ClientMetadata {
            client_name: Some(client_name.to_owned()),
            grant_types: Some(vec![GrantType::Ciba]),
            token_endpoint_auth_method: Some(TokenEndpointAuthMethod::ClientSecretBasic),
            backchannel_token_delivery_mode: Some(delivery_mode),
            backchannel_client_notification_endpoint: notification_endpoint.clone(),
            authorization_details_types: (!types.is_empty()).then(|| types.to_vec()),
            ..ClientMetadata::default()
        },
    };
    let resp = client()?.post(&registration).json(&body).send().await.map_err(|e| net(&e))?;
    let (_, reg) = json_answer("registration", resp).await?;
    let reg: ClientRegistrationResponse =
        serde_json::from_value(reg).map_err(|e| AgentError::Invalid(format!("registration answer: {e}")))?;
    let client_secret = reg.client_secret.ok_or_else(|| AgentError::Invalid("no client_secret".into()))?;
    Ok(AgentFile {
        issuer: e.issuer,
        client_id: reg.client_id,
        client_secret,
        backchannel_authentication_endpoint: e.backchannel_authentication_endpoint,
        token_endpoint: e.token_endpoint,
        mode: mode.to_owned(),
        notification_endpoint,
        revocation_endpoint: e.revocation_endpoint,
    })
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What to ask for.
#[derive(Debug, Clone)]
pub struct Ask {
    /// `login_hint`.
    pub login_hint: String,
    /// The `authorization_details` JSON text, sent as is.
    pub authorization_details: String,
    /// `binding_message`.
    pub binding_message: String,
    /// `scope`.
    pub scope: String,
    /// `requested_expiry`.
    pub requested_expiry: Option<u64>,
    /// `client_notification_token` (ping mode).
    pub client_notification_token: Option<String>,
}

async fn post_form(
    agent: &AgentFile,
    endpoint: &'static str,
    url: &str,
    form: &[(&str, String)],
) -> Result<(u16, Value)> {
    let resp = client()?
        .post(url)
        // RFC 6749 §2.3.1: client_id and secret are form-encoded before Basic.
        .basic_auth(form_encode(&agent.client_id), Some(form_encode(agent.client_secret.secret())))
        .form(form)
        .send()
        .await
        .map_err(|e| net(&e))?;
    json_answer(endpoint, resp).await
}

/// `POST /bc-authorize`.
///
/// # Errors
/// [`AgentError`]; the details must be a valid RFC 9396 array.
pub async fn request(agent: &AgentFile, ask: &Ask) -> Result<BackchannelAuthenticationResponse> {
    let details = ask.authorization_details.trim();
    AuthorizationDetails::from_param(details)
        .map_err(|e| AgentError::Invalid(format!("authorization_details: {e}")))?;
    let mut form = vec![
        ("scope", ask.scope.clone()),
        ("login_hint", ask.login_hint.clone()),
        ("binding_message", ask.binding_message.clone()),
        ("authorization_details", details.to_owned()),
    ];
    if let Some(e) = ask.requested_expiry {
        form.push(("requested_expiry", e.to_string()));
    }
    if let Some(t) = &ask.client_notification_token {
        form.push(("client_notification_token", t.clone()));
    }
    let (_, v) = post_form(agent, "bc-authorize", &agent.backchannel_authentication_endpoint, &form).await?;
    serde_json::from_value(v).map_err(|e| AgentError::Invalid(format!("bc-authorize answer: {e}")))
}

/// Withdraws the pending request `auth_req_id`: RFC 7009 revocation of the
/// `auth_req_id` (`token_type_hint=auth_req_id`), which Countersign's server
/// takes as the client cancelling it (CIBA itself defines no cancel).
/// `Ok(false)` when the server has no revocation endpoint.
///
/// # Errors
/// [`AgentError`]: the endpoint refused it or could not be reached.
pub async fn cancel(agent: &AgentFile, auth_req_id: &str) -> Result<bool> {
    let Some(url) = agent.revocation_endpoint.as_deref() else { return Ok(false) };
    let form = [("token", auth_req_id.to_owned()), ("token_type_hint", "auth_req_id".to_owned())];
    let resp = client()?
        .post(url)
        .basic_auth(form_encode(&agent.client_id), Some(form_encode(agent.client_secret.secret())))
        .form(&form)
        .send()
        .await
        .map_err(|e| net(&e))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(true)
    } else {
        let body = resp.text().await.map_err(|e| net(&e))?;
        Err(AgentError::Server { endpoint: "revocation", status, body })
    }
}

fn granted_details(token: &Value) -> Value {
    let claims = token["access_token"]
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| countersign_protocol::jws::b64url_decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    claims.map(|c| c["authorization_details"].clone()).unwrap_or(Value::Null)
}

/// One token request: `None` while pending (`authorization_pending`,
/// `slow_down`: the second element says to slow down).
///
/// # Errors
/// [`AgentError`] for network failures and unexpected answers.
pub async fn token_once(agent: &AgentFile, auth_req_id: &str) -> Result<(Option<TokenOutcome>, bool)> {
    let form = [("grant_type", CIBA_GRANT_TYPE.to_owned()), ("auth_req_id", auth_req_id.to_owned())];
    match post_form(agent, "token", &agent.token_endpoint, &form).await {
        Ok((_, token)) => {
            let granted = granted_details(&token);
            Ok((Some(TokenOutcome::Approved { token, granted_authorization_details: granted }), false))
        }
        Err(AgentError::Server { status: 400 | 401 | 403, body, .. }) => {
            let error: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
            match error["error"].as_str() {
                Some("authorization_pending") => Ok((None, false)),
                Some("slow_down") => Ok((None, true)),
                _ => Ok((Some(TokenOutcome::Refused { error }), false)),
            }
        }
        Err(e) => Err(e),
    }
}

/// Polls the token endpoint until a final answer or `timeout`.
///
/// # Errors
/// [`AgentError`].
pub async fn poll(agent: &AgentFile, auth_req_id: &str, interval: Duration, timeout: Duration) -> Result<TokenOutcome> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut interval = interval;
    loop {
        let (outcome, slow) = token_once(agent, auth_req_id).await?;
        if let Some(o) = outcome {
            return Ok(o);
        }
        if slow {
            interval += Duration::from_secs(5);
        }
        if tokio::time::Instant::now() + interval > deadline {
            return Err(AgentError::Timeout("no decision yet".into()));
        }
        tokio::time::sleep(interval).await;
    }
}

/// Binds the ping callback's address (`http://127.0.0.1:PORT/...`).
///
/// # Errors
/// Not a loopback http URL, or the port is taken.
pub async fn bind_ping(endpoint: &str) -> Result<TcpListener> {
    let u = url::Url::parse(endpoint).map_err(|e| AgentError::Invalid(e.to_string()))?;
    let port = u.port_or_known_default().unwrap_or(80);
    if u.scheme() != "http" || u.host_str() != Some("127.0.0.1") {
        return Err(AgentError::Invalid("the demo ping listener serves http://127.0.0.1:PORT/... only".into()));
    }
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| AgentError::Network(format!("bind {port}: {e}")))
}

/// Waits for the server's ping (CIBA §10.2) carrying `auth_req_id`,
/// authenticated with `Bearer <notification token>`.
///
/// # Errors
/// [`AgentError::Timeout`].
pub async fn wait_ping(listener: &TcpListener, token: &str, auth_req_id: &str, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (mut sock, _) = tokio::time::timeout_at(deadline, listener.accept())
            .await
            .map_err(|_| AgentError::Timeout("no ping".into()))?
            .map_err(|e| AgentError::Network(e.to_string()))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 2048];
        let body = loop {
            let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => break None,
            };
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 65_536 {
                break None;
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length")))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break Some((head, buf[end + 4..end + 4 + len].to_vec()));
                }
            }
        };
        let Some((head, body)) = body else { continue };
        let authorized = head.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("authorization")
                    && bool::from(subtle::ConstantTimeEq::ct_eq(
                        v.trim().as_bytes(),
                        format!("Bearer {token}").as_bytes(),
                    ))
            })
        });
        let status = if authorized { "204 No Content" } else { "401 Unauthorized" };
        let _ = sock
            .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes())
            .await;
        let id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["auth_req_id"].as_str().map(str::to_owned));
        if authorized && id.as_deref() == Some(auth_req_id) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_tls_except_on_loopback() {
        check_endpoint("x", "https://a.example/token").unwrap();
        check_endpoint("x", "http://127.0.0.1:8080/token").unwrap();
        check_endpoint("x", "http://localhost/token").unwrap();
        assert!(check_endpoint("x", "http://a.example/token").is_err());
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c"), "a+b%3Ac");
    }

    #[tokio::test]
    async fn ping_needs_the_bearer_token_and_the_id() {
        let listener = bind_ping("http://127.0.0.1:0/cb").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let send = |auth: &'static str, id: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let body = format!("{{\"auth_req_id\":\"{id}\"}}");
            let req = format!(
                "POST /cb HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let waiter = tokio::spawn(async move { wait_ping(&listener, "tok", "r1", Duration::from_secs(5)).await });
        assert!(send("Bearer wrong", "r1").await.starts_with("HTTP/1.1 401"));
        assert!(send("Bearer tok", "r2").await.starts_with("HTTP/1.1 204"));
        assert!(!waiter.is_finished());
        send("Bearer tok", "r1").await;
        waiter.await.unwrap().unwrap();
    }
}
