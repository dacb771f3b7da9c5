//! The binary's commands: `serve` (the gateway on stdio) and `init` (a
//! starting policy from the upstream's tool list).

use crate::approval::{Credentials, Gate};
use crate::gateway::Gateway;
use crate::policy::Policy;
use clap::{Parser, Subcommand};
use countersign_protocol::secret::ClientSecret;
use rmcp::model::Tool;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::ServiceExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The bearer token sent to an upstream given by URL.
pub const ENV_UPSTREAM_TOKEN: &str = "COUNTERSIGN_MCP_UPSTREAM_TOKEN";

/// The client secret of configured credentials: read from the environment
/// only, never from the command line (which other users can read).
pub const ENV_CLIENT_SECRET: &str = "COUNTERSIGN_MCP_CLIENT_SECRET";

/// countersign-mcp: in front of an MCP server, ask the user on their
/// devices before a risky tool call runs, and run only what they approved.
#[derive(Debug, Parser)]
#[command(name = "countersign-mcp", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP on stdio in front of the upstream server started by the
    /// command after `--`.
    Serve {
        /// The policy file (TOML; see docs/mcp.md).
        #[arg(long, env = "COUNTERSIGN_MCP_POLICY")]
        policy: PathBuf,
        /// Where the gateway keeps its client registration (default: the
        /// user's data directory).
        #[arg(long, env = "COUNTERSIGN_MCP_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// A CA certificate (PEM) to trust beside the system's, e.g. a
        /// development server's.
        #[arg(long, env = "COUNTERSIGN_CA_FILE")]
        ca_file: Option<PathBuf>,
        /// Use this registered client instead of registering one; its
        /// secret in COUNTERSIGN_MCP_CLIENT_SECRET.
        #[arg(long, env = "COUNTERSIGN_MCP_CLIENT_ID")]
        client_id: Option<String>,
        /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (a
        /// loopback address; clients send `Authorization: Bearer` with the
        /// token in COUNTERSIGN_MCP_HTTP_TOKEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// The upstream MCP server at this streamable-HTTP URL instead of a
        /// command (its bearer token, if it wants one, in
        /// COUNTERSIGN_MCP_UPSTREAM_TOKEN).
        #[arg(long, value_name = "URL", conflicts_with = "upstream")]
        upstream_url: Option<url::Url>,
        /// The upstream MCP server's command and arguments.
        #[arg(last = true, required_unless_present = "upstream_url", num_args = 1..)]
        upstream: Vec<String>,
    },
    /// Write a starting policy from the upstream's tool list: tools the
    /// server marks read-only are allowed, every other asks.
    Init {
        /// The policy file to write (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// The authorization server.
        #[arg(long)]
        issuer: String,
        /// The user to ask (CIBA login_hint).
        #[arg(long)]
        login_hint: String,
        /// The upstream's name as the user will see it.
        #[arg(long)]
        server: Option<String>,
        /// The upstream MCP server's command and arguments.
        #[arg(last = true, required = true, num_args = 1..)]
        upstream: Vec<String>,
    },
}

/// A failure and its exit code: 2 for bad configuration, 1 otherwise.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn config(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }
    fn run(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }
}

/// Runs the command line.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The upstream's HTTP client (reqwest 0.13) takes rustls's process-wide
    // provider: ring, as everywhere else in the workspace. An error means
    // one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("countersign-mcp: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("countersign-mcp: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn default_data_dir() -> Result<PathBuf, Failure> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| Failure::config("no data directory: set --data-dir"))?;
    Ok(base.join("countersign-mcp"))
}

fn upstream_command(upstream: &[String]) -> Result<tokio::process::Command, Failure> {
    let (program, args) = upstream.split_first().ok_or_else(|| Failure::config("no upstream command after --"))?;
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    // The upstream is not trusted with the gateway's own secrets (with the
    // client secret it could ask the user as the gateway).
    for secret in [ENV_CLIENT_SECRET, crate::http::ENV_HTTP_TOKEN, ENV_UPSTREAM_TOKEN] {
        command.env_remove(secret);
    }
    Ok(command)
}

/// Where the upstream is.
enum Upstream<'a> {
    /// A child process over stdio.
    Command(&'a [String]),
    /// Streamable HTTP, with the bearer token of [`ENV_UPSTREAM_TOKEN`] if set.
    Url(&'a url::Url),
}

/// Starts (or reaches) the upstream and completes its `initialize`.
async fn start_upstream(
    upstream: Upstream<'_>,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, Failure> {
    let served = match upstream {
        Upstream::Command(command) => {
            let transport = TokioChildProcess::new(upstream_command(command)?)
                .map_err(|e| Failure::run(format!("cannot start the upstream {}: {e}", command.join(" "))))?;
            ().serve(transport).await
        }
        Upstream::Url(url) => {
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            if let Ok(token) = std::env::var(ENV_UPSTREAM_TOKEN) {
                config = config.auth_header(token);
            }
            ().serve(StreamableHttpClientTransport::from_config(config)).await
        }
    };
    served.map_err(|e| Failure::run(format!("the upstream did not initialize: {e}")))
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve { policy, data_dir, ca_file, client_id, listen, upstream_url, upstream } => {
            let policy = Policy::load(&policy).map_err(|e| Failure::config(e.to_string()))?;
            let http_token = match listen {
                Some(addr) if !addr.ip().is_loopback() => {
                    return Err(Failure::config(format!("--listen {addr}: only a loopback address is served")))
                }
                Some(_) => {
                    let token = std::env::var(crate::http::ENV_HTTP_TOKEN).unwrap_or_default();
                    Some(crate::http::HttpToken::new(&token).map_err(Failure::config)?)
                }
                None => None,
            };
            countersign_agent::trust_ca_file(ca_file);
            // Checked before anything is registered or started: an upstream
            // token must not travel in the clear.
            if let Some(url) = &upstream_url {
                countersign_agent::check_endpoint("--upstream-url", url.as_str())
                    .map_err(|e| Failure::config(e.to_string()))?;
            }
            let credentials = match client_id {
                Some(client_id) => {
                    let secret = std::env::var(ENV_CLIENT_SECRET)
                        .map_err(|_| Failure::config(format!("--client-id needs its secret in {ENV_CLIENT_SECRET}")))?;
                    Credentials::Configured { client_id, client_secret: ClientSecret::new(secret) }
                }
                None => Credentials::Registered { data_dir: data_dir.map_or_else(default_data_dir, Ok)? },
            };
            let gate =
                Gate::open(policy.approval.clone(), credentials).await.map_err(|e| Failure::run(e.to_string()))?;
            let upstream = start_upstream(match &upstream_url {
                Some(url) => Upstream::Url(url),
                None => Upstream::Command(&upstream),
            })
            .await?;
            let info = upstream.peer().peer_info().ok_or_else(|| Failure::run("the upstream sent no server info"))?;
            let gateway = Gateway::new(upstream.peer().clone(), (*info).clone(), policy, gate);
            if let (Some(addr), Some(token)) = (listen, http_token) {
                let served = crate::http::serve(gateway, addr, token).await.map_err(Failure::run);
                let _ = upstream.cancel().await;
                return served;
            }
            let server = gateway
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| Failure::run(format!("the client did not initialize: {e}")))?;
            let _ = server.waiting().await;
            let _ = upstream.cancel().await;
            Ok(())
        }
        Command::Init { out, issuer, login_hint, server, upstream } => {
            if out.exists() {
                return Err(Failure::config(format!("{} exists: not overwritten", out.display())));
            }
            let running = start_upstream(Upstream::Command(&upstream)).await?;
            let tools =
                running.peer().list_all_tools().await.map_err(|e| Failure::run(format!("listing tools: {e}")))?;
            let _ = running.cancel().await;
            let text = starting_policy(&issuer, &login_hint, server.as_deref(), &tools);
            // Checked as `serve` will read it: a bad issuer is refused now.
            Policy::parse(&text)
                .map_err(|(line, m)| Failure::config(format!("the policy would be refused (line {line}): {m}")))?;
            write_new(&out, &text).map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
            eprintln!("countersign-mcp: wrote {} ({} tools)", out.display(), tools.len());
            Ok(())
        }
    }
}

fn write_new(file: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(file)?;
    std::io::Write::write_all(&mut f, text.as_bytes())
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The policy `init` writes: read-only tools (as the upstream marks them)
/// allowed, every other asked about, tools not listed asked about.
#[must_use]
pub fn starting_policy(issuer: &str, login_hint: &str, server: Option<&str>, tools: &[Tool]) -> String {
    let mut out =
        String::from("# countersign-mcp policy (docs/mcp.md). Rules are read in order; the first match decides.\n");
    out.push_str("[approval]\n");
    out.push_str(&format!("issuer = {}\n", toml_string(issuer)));
    out.push_str(&format!("login_hint = {}\n", toml_string(login_hint)));
    if let Some(s) = server {
        out.push_str(&format!("server = {}\n", toml_string(s)));
    }
    out.push_str("binding_message_prefix = \"MCP\"\nrequest_expiry_secs = 300\n\n");
    out.push_str("# Tools no rule names.\n[defaults]\naction = \"ask\"\nrisk = \"high\"\n");
    for t in tools {
        // A name with `*` or `?` would match other tools as a glob: the
        // default applies to it instead.
        if t.name.is_empty() || t.name.chars().any(|c| c.is_control() || c == '*' || c == '?') {
            out.push_str(&format!(
                "\n# Not written: a tool whose name has control or glob characters ({}); the default applies.\n",
                t.name.escape_debug()
            ));
            continue;
        }
        let hints = t.annotations.as_ref();
        let read_only = hints.and_then(|a| a.read_only_hint) == Some(true);
        let destructive = hints.and_then(|a| a.destructive_hint) != Some(false);
        out.push('\n');
        out.push_str(if read_only {
            "# The upstream marks it read-only.\n"
        } else if destructive {
            "# The upstream does not mark it read-only, nor as non-destructive.\n"
        } else {
            "# The upstream marks it as changing things, non-destructively.\n"
        });
        out.push_str(&format!("[[tool]]\nname = {}\n", toml_string(&t.name)));
        out.push_str(if read_only { "action = \"allow\"\n" } else { "action = \"ask\"\n" });
        if !read_only {
            out.push_str(if destructive { "risk = \"high\"\n" } else { "risk = \"medium\"\n" });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Action, Risk};
    use rmcp::model::ToolAnnotations;
    use serde_json::{json, Map, Value};
    use std::sync::Arc;

    fn tool(name: &str, read_only: Option<bool>, destructive: Option<bool>) -> Tool {
        let mut t = Tool::new(name.to_owned(), "d", Arc::new(Map::new()));
        let mut a = ToolAnnotations::default();
        a.read_only_hint = read_only;
        a.destructive_hint = destructive;
        t.annotations = Some(a);
        t
    }

    #[test]
    fn the_starting_policy_allows_read_only_tools_and_asks_for_the_rest() {
        let tools = [
            tool("read_file", Some(true), None),
            tool("write_file", Some(false), Some(true)),
            tool("create_directory", Some(false), Some(false)),
            tool("odd \"name\"", None, None),
            tool("bad\nname", None, None),
            tool("read*", Some(true), None),
        ];
        let text = starting_policy("https://as.example.com", "zoe", Some("filesystem"), &tools);
        let p = Policy::parse(&text).unwrap();
        assert_eq!(p.approval.server.as_deref(), Some("filesystem"));
        let none: Map<String, Value> = Map::new();
        assert_eq!(p.decide("read_file", &none).action, Action::Allow);
        let w = p.decide("write_file", &none);
        assert_eq!((w.action, w.risk), (Action::Ask, Risk::High));
        let c = p.decide("create_directory", &none);
        assert_eq!((c.action, c.risk), (Action::Ask, Risk::Medium));
        assert_eq!(p.decide("odd \"name\"", &none).action, Action::Ask);
        assert!(
            text.contains("# Not written: a tool whose name has control or glob characters (bad\\nname)"),
            "{text}"
        );
        assert!(text.contains("# Not written: a tool whose name has control or glob characters (read*)"), "{text}");
        assert_eq!(p.decide("read_secrets", &none).action, Action::Ask, "no glob from a tool's name");
        assert_eq!(p.rules.len(), 4);
        assert_eq!(p.decide("unknown", &json!({}).as_object().unwrap().clone()).action, Action::Ask);
    }
}
