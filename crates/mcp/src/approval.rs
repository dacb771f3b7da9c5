//! Asking the user: the gateway's client registration (kept in its data
//! directory, mode 0600) and one CIBA request per gated call, polled until
//! the user decides, the request expires or the client cancels.

use crate::call::{GatedCall, DETAIL_TYPE};
use crate::policy::Approval;
use countersign_agent::{self as agent, AgentError, AgentFile, Ask, TokenOutcome};
use countersign_protocol::secret::ClientSecret;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The credentials file in the data directory.
pub const CREDENTIALS_FILE: &str = "client.json";
/// The name the gateway registers under.
pub const CLIENT_NAME: &str = "Countersign MCP gateway";
/// Letters of the binding message's code: no 0/O, 1/I/L.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// How a request for approval ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Approved: the token response's `authorization_details`.
    Approved {
        /// As granted.
        granted: Option<Value>,
    },
    /// The user denied it (`access_denied`).
    Denied {
        /// The server's `error_description`, if any.
        reason: Option<String>,
    },
    /// No answer before the request expired (`expired_token`).
    Expired,
    /// The client cancelled the call while it waited.
    Cancelled,
    /// The request could not be made or followed.
    Failed {
        /// Why, for the model (no secret in it).
        reason: String,
    },
}

/// The gateway cannot ask anyone.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The credentials file is unreadable, malformed or for another server.
    #[error("{}: {message}", file.display())]
    Credentials {
        /// The file.
        file: PathBuf,
        /// Why.
        message: String,
    },
    /// Registration or discovery failed.
    #[error("{0}")]
    Agent(#[from] AgentError),
}

/// The gateway's CIBA client.
#[derive(Debug)]
pub struct Gate {
    agent: AgentFile,
    approval: Approval,
}

/// How the gateway gets its client credentials.
#[derive(Debug)]
pub enum Credentials {
    /// From the data directory; registered there by RFC 7591 at first start.
    Registered {
        /// The data directory.
        data_dir: PathBuf,
    },
    /// A client registered by other means.
    Configured {
        /// `client_id`.
        client_id: String,
        /// `client_secret` (`client_secret_basic`).
        client_secret: ClientSecret,
    },
}

fn credentials_error(file: &Path, message: impl Into<String>) -> GateError {
    GateError::Credentials { file: file.to_owned(), message: message.into() }
}

/// Writes `agent` to `file` readable by its owner only, atomically (a
/// temporary file renamed over it).
fn save(file: &Path, agent: &AgentFile) -> Result<(), GateError> {
    let text = serde_json::to_vec_pretty(agent).map_err(|e| credentials_error(file, e.to_string()))?;
    let tmp = file.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> std::io::Result<()> {
        let mut f = options.open(&tmp)?;
        std::io::Write::write_all(&mut f, &text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    };
    write().map_err(|e| credentials_error(file, format!("cannot write it: {e}")))
}

impl Gate {
    /// The gateway's client for `approval`'s server.
    ///
    /// # Errors
    /// [`GateError`].
    pub async fn open(approval: Approval, credentials: Credentials) -> Result<Self, GateError> {
        let agent = match credentials {
            Credentials::Configured { client_id, client_secret } => {
                agent::configured(&approval.issuer, client_id, client_secret).await?
            }
            Credentials::Registered { data_dir } => Self::registered(&approval, &data_dir).await?,
        };
        Ok(Self { agent, approval })
    }

    async fn registered(approval: &Approval, data_dir: &Path) -> Result<AgentFile, GateError> {
        let file = data_dir.join(CREDENTIALS_FILE);
        match std::fs::read(&file) {
            Ok(bytes) => {
                check_private(&file)?;
                let agent: AgentFile = serde_json::from_slice(&bytes)
                    .map_err(|e| credentials_error(&file, format!("not a credentials file: {e}")))?;
                let want = countersign_protocol::device::Issuer::new(&approval.issuer)
                    .map_err(|e| credentials_error(&file, format!("issuer: {e}")))?;
                if agent.issuer != want.as_str() {
                    return Err(credentials_error(
                        &file,
                        format!(
                            "registered at {}, not at the policy's issuer {}: remove it to register again",
                            agent.issuer,
                            want.as_str()
                        ),
                    ));
                }
                Ok(agent)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_private_dir(data_dir).map_err(|e| credentials_error(data_dir, e.to_string()))?;
                let agent =
                    agent::register(&approval.issuer, CLIENT_NAME, "poll", None, &[DETAIL_TYPE.to_owned()]).await?;
                save(&file, &agent)?;
                eprintln!("countersign-mcp: registered at {} as client {}", agent.issuer, agent.client_id);
                Ok(agent)
            }
            Err(e) => Err(credentials_error(&file, format!("cannot read it: {e}"))),
        }
    }

    /// The registered client's id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.agent.client_id
    }

    /// Asks the user about `call`, calling `on_wait(elapsed, expiry, binding
    /// message)` after the request is made and after each pending poll;
    /// `cancel` ends the wait (nothing is forwarded then).
    pub async fn ask<F, Fut>(&self, call: &GatedCall, cancel: &CancellationToken, on_wait: F) -> Outcome
    where
        F: FnMut(Duration, u64, &str) -> Fut,
        Fut: Future<Output = ()>,
    {
        let binding = match code() {
            Ok(c) => format!("{}-{c}", self.approval.binding_message_prefix),
            Err(()) => return Outcome::Failed { reason: "no random numbers from the system".into() },
        };
        let expiry = self.approval.request_expiry_secs;
        let ask = Ask {
            login_hint: self.approval.login_hint.clone(),
            authorization_details: call.authorization_details().to_string(),
            binding_message: binding.clone(),
            scope: "openid".to_owned(),
            requested_expiry: Some(expiry),
            client_notification_token: None,
        };
        // `biased`, the cancel first: a cancel and an answer ready together
        // end as cancelled.
        let response = tokio::select! {
            biased;
            () = cancel.cancelled() => return Outcome::Cancelled,
            r = agent::request(&self.agent, &ask) => r,
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => return Outcome::Failed { reason: describe(&e) },
        };
        let id = response.auth_req_id.secret().to_owned();
        let outcome = self.wait(&id, &response, cancel, &binding, on_wait).await;
        if outcome == Outcome::Cancelled {
            // Withdrawn at the server too, so the approvers stop showing it;
            // best effort, off the client's path (it has moved on).
            let (agent, id) = (self.agent.clone(), id);
            tokio::spawn(async move {
                match agent::cancel(&agent, &id).await {
                    Ok(true) => eprintln!("countersign-mcp: the cancelled request was withdrawn at the server"),
                    Ok(false) => {}
                    Err(e) => eprintln!("countersign-mcp: withdrawing the cancelled request: {}", describe(&e)),
                }
            });
        }
        outcome
    }

    /// Polls for the answer to `response` until a final one, the deadline or
    /// `cancel`.
    async fn wait<F, Fut>(
        &self,
        id: &str,
        response: &countersign_protocol::ciba::BackchannelAuthenticationResponse,
        cancel: &CancellationToken,
        binding: &str,
        mut on_wait: F,
    ) -> Outcome
    where
        F: FnMut(Duration, u64, &str) -> Fut,
        Fut: Future<Output = ()>,
    {
        let expiry = self.approval.request_expiry_secs;
        let mut interval = Duration::from_secs(response.interval.unwrap_or(5).clamp(1, 60));
        let start = tokio::time::Instant::now();
        // The server says when it stops answering (never past what the
        // policy asked for); a little slack for clocks.
        let expires_in = response.expires_in.min(expiry);
        let deadline = start + Duration::from_secs(expires_in) + Duration::from_secs(10);
        on_wait(start.elapsed(), expires_in, binding).await;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Outcome::Cancelled,
                () = tokio::time::sleep(interval.min(left)) => {}
            }
            let polled = tokio::select! {
                biased;
                () = cancel.cancelled() => return Outcome::Cancelled,
                r = agent::token_once(&self.agent, id) => r,
            };
            match polled {
                Ok((Some(TokenOutcome::Approved { token, .. }), _)) => {
                    return Outcome::Approved { granted: token.get("authorization_details").cloned() }
                }
                Ok((Some(TokenOutcome::Refused { error }), _)) => return refused(&error),
                Ok((None, slow)) => {
                    if slow {
                        interval += Duration::from_secs(5);
                    }
                }
                // A network failure is retried until the request's end.
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("countersign-mcp: polling: {}", describe(&e));
                }
                Err(e) => return Outcome::Failed { reason: describe(&e) },
            }
            if tokio::time::Instant::now() >= deadline {
                return Outcome::Expired;
            }
            on_wait(start.elapsed(), expires_in, binding).await;
        }
    }
}

/// A final token-endpoint error as an outcome.
fn refused(error: &Value) -> Outcome {
    let description = error.get("error_description").and_then(Value::as_str).map(str::to_owned);
    match error.get("error").and_then(Value::as_str) {
        Some("access_denied") => Outcome::Denied { reason: description },
        Some("expired_token") => Outcome::Expired,
        Some(other) => Outcome::Failed {
            reason: match description {
                Some(d) => format!("the server answered {other}: {d}"),
                None => format!("the server answered {other}"),
            },
        },
        None => Outcome::Failed { reason: format!("the server answered {error}") },
    }
}

/// An agent error for the model: what failed, never a credential (the
/// errors carry endpoints and server bodies, not the client secret).
fn describe(e: &AgentError) -> String {
    match e {
        AgentError::Server { endpoint, status, body } => {
            let parsed: Option<Value> = serde_json::from_str(body).ok();
            let error = parsed.as_ref().and_then(|v| v.get("error")).and_then(Value::as_str);
            let description = parsed.as_ref().and_then(|v| v.get("error_description")).and_then(Value::as_str);
            match (error, description) {
                (Some(e), Some(d)) => format!("{endpoint} answered {status} {e}: {d}"),
                (Some(e), None) => format!("{endpoint} answered {status} {e}"),
                _ => format!("{endpoint} answered {status}"),
            }
        }
        other => other.to_string(),
    }
}

/// A four-character code from an unambiguous alphabet.
fn code() -> Result<String, ()> {
    let mut bytes = [0u8; 4];
    SystemRandom::new().fill(&mut bytes).map_err(|_| ())?;
    Ok(bytes.iter().map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()])).collect())
}

/// `dir` and its parents; when the gateway creates `dir` itself, private
/// to its owner (an existing directory, say `$HOME`, is left as it is).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Refuses a credentials file others can read or write (as ssh does with
/// private keys): its secret may have leaked, and it is not ours to fix.
fn check_private(file: &Path) -> Result<(), GateError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file)
            .map_err(|e| credentials_error(file, format!("cannot read it: {e}")))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(credentials_error(
                file,
                format!("its mode is {:o}: others can reach the client secret (chmod 600 it, or remove it and the gateway registers again)", mode & 0o777),
            ));
        }
    }
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn final_errors_map_to_outcomes() {
        assert_eq!(
            refused(&json!({"error": "access_denied", "error_description": "not me"})),
            Outcome::Denied { reason: Some("not me".into()) }
        );
        assert_eq!(refused(&json!({"error": "access_denied"})), Outcome::Denied { reason: None });
        assert_eq!(refused(&json!({"error": "expired_token"})), Outcome::Expired);
        assert_eq!(
            refused(&json!({"error": "invalid_grant", "error_description": "used"})),
            Outcome::Failed { reason: "the server answered invalid_grant: used".into() }
        );
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        for _ in 0..50 {
            let c = code().unwrap();
            assert_eq!(c.len(), 4);
            assert!(c.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{c}");
        }
    }

    #[test]
    fn credentials_are_written_private_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CREDENTIALS_FILE);
        let agent = AgentFile {
            issuer: "https://as.example.com".into(),
            client_id: "c1".into(),
            client_secret: ClientSecret::new("s3cret-value".into()),
            backchannel_authentication_endpoint: "https://as.example.combc-authorize".into(),
            token_endpoint: "https://as.example.comtoken".into(),
            mode: "poll".into(),
            notification_endpoint: None,
            revocation_endpoint: None,
        };
        save(&file, &agent).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let back: AgentFile = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(back.client_secret.secret(), "s3cret-value");
        assert!(!format!("{back:?}").contains("s3cret"), "the secret stays out of Debug");
        assert!(!file.with_extension("json.tmp").exists());
        check_private(&file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = check_private(&file).unwrap_err().to_string();
            assert!(e.contains("its mode is 644") && !e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn a_new_data_directory_is_private_and_an_existing_one_left_alone() {
        let base = tempfile::tempdir().unwrap();
        let fresh = base.path().join("a/b/gateway");
        create_private_dir(&fresh).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
            let existing = base.path().join("shared");
            std::fs::create_dir(&existing).unwrap();
            std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o755)).unwrap();
            create_private_dir(&existing).unwrap();
            assert_eq!(std::fs::metadata(&existing).unwrap().permissions().mode() & 0o777, 0o755);
        }
    }
}
