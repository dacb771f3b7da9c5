//! The demo agent's commands: register, request, poll.

use super::*;
use crate::agent::{self, AgentFile, Ask, TokenOutcome};
use crate::safe::text;
use serde_json::json;
use std::io::Write as _;
use std::time::Duration;

pub(super) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

pub(super) fn load_agent(path: &std::path::Path) -> Result<AgentFile, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

pub(super) fn print_token(out: &Out, outcome: &TokenOutcome, show_token: bool) -> u8 {
    let mut value = serde_json::to_value(outcome).unwrap_or_default();
    if !show_token {
        for k in ["access_token", "id_token", "refresh_token"] {
            if let Some(t) = value.get_mut("token").and_then(|t| t.get_mut(k)) {
                *t = json!("(hidden: pass --show-token)");
            }
        }
    }
    out.print(&value, || match outcome {
        TokenOutcome::Approved { token, granted_authorization_details } => {
            format!(
                "APPROVED: {} token, expires in {} s, scope {}\ngranted authorization_details: {}",
                text(token["token_type"].as_str().unwrap_or("?")),
                token["expires_in"],
                text(token["scope"].as_str().unwrap_or("")),
                text(&granted_authorization_details.to_string())
            ) + &if show_token {
                format!("\naccess_token: {}", text(token["access_token"].as_str().unwrap_or("")))
            } else {
                String::new()
            }
        }
        TokenOutcome::Refused { error } => format!("REFUSED: {}", text(&error.to_string())),
    });
    match outcome {
        TokenOutcome::Approved { .. } => 0,
        TokenOutcome::Refused { .. } => EXIT_NOT_ACCEPTED,
    }
}

pub(super) async fn agent_command(out: &Out, cmd: AgentCommand) -> Outcome {
    match cmd {
        AgentCommand::Register { issuer, name, mode, notify, types, out: path } => {
            let mode = match mode {
                ModeArg::Poll => "poll",
                ModeArg::Ping => "ping",
            };
            if mode == "ping" && notify.is_none() {
                return Err(Failure::new("--mode ping needs --notify http://127.0.0.1:PORT/path"));
            }
            let agent = agent::register(&issuer, &name, mode, notify, &types).await?;
            let bytes = serde_json::to_vec_pretty(&agent).map_err(|e| Failure::new(e.to_string()))?;
            write_private(&path, &bytes).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
            out.print(&json!({ "client_id": agent.client_id, "saved_to": path }), || {
                format!("Registered client {} ({mode}); saved to {}", text(&agent.client_id), path.display())
            });
            Ok(0)
        }
        AgentCommand::Request {
            agent: path,
            user,
            details,
            binding_message,
            scope,
            expiry,
            wait,
            timeout,
            show_token,
        } => {
            let agent = load_agent(&path)?;
            let details =
                std::fs::read_to_string(&details).map_err(|e| Failure::new(format!("{}: {e}", details.display())))?;
            let ping = agent.mode == "ping";
            let token = if ping {
                Some(countersign_protocol::secret::generate_url_safe(32).map_err(|_| Failure::new("rng failed"))?)
            } else {
                None
            };
            let listener = match (&agent.notification_endpoint, wait && ping) {
                (Some(n), true) => Some(agent::bind_ping(n).await?),
                _ => None,
            };
            let ask = Ask {
                login_hint: user,
                authorization_details: details,
                binding_message,
                scope,
                requested_expiry: expiry,
                client_notification_token: token.clone(),
            };
            let resp = agent::request(&agent, &ask).await?;
            let id = resp.auth_req_id.secret().to_owned();
            let interval = Duration::from_secs(resp.interval.unwrap_or(5).max(1));
            if !wait {
                out.print(
                    &json!({ "auth_req_id": id, "expires_in": resp.expires_in, "interval": resp.interval,
                             "client_notification_token": token }),
                    || {
                        let mut s = format!("auth_req_id: {}\nexpires_in: {} s", text(&id), resp.expires_in);
                        if let Some(t) = &token {
                            s.push_str(&format!("\nclient_notification_token: {t}"));
                        }
                        s
                    },
                );
                return Ok(0);
            }
            if !out.json {
                eprintln!("Request sent (auth_req_id {}); waiting for the user's decision...", text(&id));
            }
            let timeout = Duration::from_secs(timeout);
            let outcome = match (listener, token) {
                (Some(l), Some(t)) => {
                    agent::wait_ping(&l, &t, &id, timeout).await?;
                    agent::poll(&agent, &id, interval, Duration::from_secs(30)).await?
                }
                _ => agent::poll(&agent, &id, interval, timeout).await?,
            };
            Ok(print_token(out, &outcome, show_token))
        }
        AgentCommand::Poll { agent: path, auth_req_id, ping_token, timeout, show_token } => {
            let agent = load_agent(&path)?;
            let timeout = Duration::from_secs(timeout);
            if let (Some(t), Some(n)) = (&ping_token, &agent.notification_endpoint) {
                let l = agent::bind_ping(n).await?;
                agent::wait_ping(&l, t, &auth_req_id, timeout).await?;
            }
            let outcome = agent::poll(&agent, &auth_req_id, Duration::from_secs(2), timeout).await?;
            Ok(print_token(out, &outcome, show_token))
        }
    }
}
