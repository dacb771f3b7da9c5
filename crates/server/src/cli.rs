//! The operator CLI: `serve` and the administration commands, on one binary.

use clap::{Args, Parser, Subcommand, ValueEnum};
use countersign_protocol::device::Issuer;
use countersign_protocol::secret::{InitialAccessToken, UserCode};
use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use countersign_server::config::{Config, RegistrationPolicy, INITIAL_ACCESS_TOKEN_ENV};
use countersign_server::ops::{self, AdminError, NewUser};
use countersign_server::{AppState, Clock as _, DisplaySchemas as _, Internal, RegistrySchemas, SystemClock};

/// Countersign authorization server (OpenID CIBA + RFC 9396) and its operator commands.
#[derive(Debug, Parser)]
#[command(name = "countersign-server", version)]
pub struct Cli {
    /// The database: a SQLite file (created if missing), or a PostgreSQL
    /// database as `postgres://user@host:port/database` (put its password
    /// in PGPASSWORD or ~/.pgpass rather than in the URL, which other users
    /// of the machine can see).
    #[arg(long, global = true, default_value = "countersign.db", value_parser = parse_location)]
    pub db: ops::Location,
    /// The server's secret key (user codes, stored token responses): a
    /// file of 32 random bytes, created if missing. Default: beside a
    /// SQLite file. Required with PostgreSQL: give every instance the
    /// same file.
    #[arg(long, global = true)]
    pub secret_key_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Create a one-time enrollment link for a user's approver.
    EnrollLink {
        /// Username or sub.
        user: String,
        /// The server's issuer identifier (as given to `serve --issuer`).
        #[arg(long)]
        issuer: String,
        /// Lifetime of the ticket, seconds.
        #[arg(long, default_value_t = countersign_protocol::device::enroll::DEFAULT_TICKET_TTL_SECS)]
        ttl: u64,
        /// Do not print the QR code.
        #[arg(long)]
        no_qr: bool,
    },
    /// Manage clients (agents).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage enrolled devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage the server's signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage users' WebAuthn security keys and passkeys.
    #[command(subcommand)]
    SecurityKey(SecurityKeyCommand),
    /// Check and export the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `audit` commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that every entry chains to the one before; names the first
    /// edited, deleted, reordered or inserted entry (exit status 1).
    Verify,
    /// Write the log as JSON Lines with a signed head, verifiable offline
    /// with `audit verify-export` and the server's published keys.
    Export {
        /// The file to write.
        file: PathBuf,
        /// The server's issuer identifier (as given to `serve --issuer`).
        #[arg(long)]
        issuer: String,
    },
    /// Verify an export with nothing but the server's JWKS (a file holding
    /// the `jwks_uri` document).
    VerifyExport {
        /// The export.
        file: PathBuf,
        /// The JWKS file.
        #[arg(long)]
        jwks: PathBuf,
    },
}

/// Who may register clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// Anyone may call `/register`.
    Open,
    /// `/register` needs `Authorization: Bearer <initial access token>`, read
    /// from `COUNTERSIGN_INITIAL_ACCESS_TOKEN` or `--initial-access-token-file`.
    Token,
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Issuer identifier: https URL (http only for localhost), no trailing slash.
    #[arg(long)]
    pub issuer: String,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); read
    /// again on SIGHUP. Needs --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a development certificate for localhost, 127.0.0.1
    /// and ::1, issued by a local CA kept in `tls/` beside the database
    /// (printed: how to make clients trust it). Never for production.
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Registration policy. Default: `open` for a loopback issuer
    /// (development), `token` for any other (an issuer others can reach).
    #[arg(long, value_enum)]
    pub registration: Option<Registration>,
    /// File holding the initial access token (first line).
    #[arg(long)]
    pub initial_access_token_file: Option<PathBuf>,
    /// Accepted backchannel requests per user per minute (0 = unlimited).
    #[arg(long, default_value_t = 5)]
    pub user_rate_limit: u32,
    /// Accepted backchannel requests per client per minute (0 = unlimited).
    #[arg(long, default_value_t = 30)]
    pub client_rate_limit: u32,
    /// Accepted backchannel requests per user per minute from one unverified
    /// client (0 = unlimited); keep it below --user-rate-limit.
    #[arg(long, default_value_t = 2)]
    pub unverified_rate_limit: u32,
    /// Pending backchannel requests one user may have at once (0 = unlimited).
    #[arg(long, default_value_t = 20)]
    pub max_pending_per_user: u32,
    /// Pending requests one user may have at once from unverified clients,
    /// all together (0 = unlimited).
    #[arg(long, default_value_t = 5)]
    pub max_pending_unverified_per_user: u32,
    /// Largest lifetime of an unverified client's request, seconds.
    #[arg(long, default_value_t = 300)]
    pub unverified_max_expiry: u64,
    /// Largest `authorization_details` of one request, bytes of JSON.
    #[arg(long, default_value_t = countersign_server::config::DEFAULT_MAX_DETAILS_BYTES)]
    pub max_details_bytes: usize,
    /// Open event streams per device; a new one closes the oldest.
    #[arg(long, default_value_t = 4)]
    pub max_streams_per_device: usize,
    /// `not_me` denials that block a client for a user (0 = never).
    #[arg(long, default_value_t = 3)]
    pub not_me_threshold: u32,
    /// Window of the `not_me` count, seconds.
    #[arg(long, default_value_t = 86_400)]
    pub not_me_window: u64,
    /// Wrong `user_code`s per user within the window before the user's code
    /// is locked (429) until the window passes (0 = never).
    #[arg(long, default_value_t = 5)]
    pub user_code_failures: u32,
    /// Wrong `user_code`s per client within the window before the client's
    /// `user_code` requests are refused (429) (0 = never).
    #[arg(long, default_value_t = 30)]
    pub client_user_code_failures: u32,
    /// Window of the `user_code` failure counts, seconds.
    #[arg(long, default_value_t = 900)]
    pub user_code_window: u64,
    /// Security key registrations one user may have in progress at once,
    /// from all the user's devices (0 = unlimited).
    #[arg(long, default_value_t = 5)]
    pub max_pending_webauthn_registrations_per_user: u32,
    /// Security keys (WebAuthn credentials) one user may have registered
    /// (0 = unlimited).
    #[arg(long, default_value_t = 10)]
    pub max_webauthn_credentials_per_user: u32,
    /// Default `expires_in` of a backchannel request, seconds.
    #[arg(long, default_value_t = 300)]
    pub default_expiry: u64,
    /// Largest `expires_in`, seconds.
    #[arg(long, default_value_t = 3600)]
    pub max_expiry: u64,
    /// Access and ID token lifetime, seconds.
    #[arg(long, default_value_t = 600)]
    pub token_ttl: u64,
    /// How long a client that repeats its token request for an `auth_req_id`
    /// it already redeemed gets the same token response again, seconds (0 =
    /// never); at most --token-ttl. The response is kept encrypted that long.
    #[arg(long, default_value_t = countersign_server::config::DEFAULT_TOKEN_REPLAY_WINDOW_SECS)]
    pub token_replay_window: u64,
    /// Absolute lifetime of a refresh token family, seconds: the default and
    /// the maximum of clients' `refresh_token_lifetime`.
    #[arg(long, default_value_t = countersign_server::config::DEFAULT_REFRESH_TOKEN_LIFETIME_SECS)]
    pub refresh_token_lifetime: u64,
    /// How long a refresh token stays usable unless rotated, seconds: the
    /// default and the maximum of clients' `refresh_token_idle_lifetime`.
    #[arg(long, default_value_t = countersign_server::config::DEFAULT_REFRESH_TOKEN_IDLE_LIFETIME_SECS)]
    pub refresh_token_idle_lifetime: u64,
    /// `aud` of access tokens when the agent asks for no `audience`
    /// (default: the issuer). An agent may also ask for it by name.
    #[arg(long)]
    pub token_audience: Option<String>,
    /// An API agents may ask a token for with `audience` at /bc-authorize
    /// (it becomes the token's `aud`); repeat for several. Any other
    /// `audience` is refused with `invalid_target`.
    #[arg(long = "api", value_name = "URI")]
    pub apis: Vec<String>,
    /// A JSON file adding or overriding scope descriptions shown to users:
    /// `{"scope": "description"}` or `{"scope": {"description": "…",
    /// "risk": "low|medium|high|critical"}}`. Checked strictly at startup.
    #[arg(long, value_name = "FILE")]
    pub scopes: Option<PathBuf>,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// DANGER (development only): allow http notification endpoints on loopback hosts.
    #[arg(long)]
    pub danger_allow_http_loopback_notifications: bool,
    /// DANGER (development only): allow http `jwks_uri` on loopback hosts.
    #[arg(long)]
    pub danger_allow_http_loopback_jwks_uri: bool,
    /// Directory of custom display schemas: every `*.json` file in it (one
    /// schema per file), added to the built-in types. A bad schema stops the
    /// server from starting.
    #[arg(long)]
    pub schemas_dir: Option<PathBuf>,
    /// From which risk approvals need a security key or passkey (WebAuthn):
    /// low, medium, high, critical, or never. Clients may be set otherwise
    /// with `client step-up`. WebAuthn needs an https issuer (or
    /// http://localhost).
    #[arg(long, default_value = "critical")]
    pub webauthn_at: String,
    /// From which risk approvals need user verification (an OS prompt on
    /// the approver, or a security key): low, medium, high, critical, or
    /// never. Clients may be set otherwise with `client user-verification`.
    #[arg(long, default_value = "high")]
    pub user_verification_at: String,
    /// The least verification a decision must show where it is required:
    /// `user` (an OS prompt or a security key) or `hwk` (a security key;
    /// such requests then also require WebAuthn).
    #[arg(long, default_value = "user")]
    pub user_verification_class: String,
}

/// `user` commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        /// Login name (the CIBA `login_hint`).
        username: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// E-mail address (also accepted as `login_hint`).
        #[arg(long)]
        email: Option<String>,
        /// Give the admin role.
        #[arg(long)]
        admin: bool,
    },
    /// List users.
    List,
    /// Disable a user: their devices are refused, pending requests
    /// cancelled, tokens inactive.
    Disable {
        /// Username or sub.
        user: String,
    },
    /// Set a user's CIBA user_code, read from the first line of standard input.
    SetUserCode {
        /// Username or sub.
        user: String,
    },
    /// Give a user the admin role (their approvers show the admin view at
    /// their next connection).
    GrantAdmin {
        /// Username or sub.
        user: String,
    },
    /// Take the admin role away (refused by the admin API at once).
    RevokeAdmin {
        /// Username or sub.
        user: String,
    },
}

/// `client` commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List registered clients.
    List,
    /// Disable a client: its calls are refused, pending requests withdrawn,
    /// queued deliveries dropped, tokens inactive.
    Disable {
        /// The client_id.
        client_id: String,
    },
    /// Vouch for a client: approvers show it as verified, and the limits
    /// for unknown clients no longer apply to it.
    Verify {
        /// The client_id.
        client_id: String,
        /// Who vouches (recorded with the time). Default: $USER.
        #[arg(long)]
        by: Option<String>,
    },
    /// Take back the verification of a client.
    Unverify {
        /// The client_id.
        client_id: String,
    },
    /// Set from which risk the client's approvals need a security key or
    /// passkey (WebAuthn): never, low, medium, high, critical, or default
    /// (the server's `--webauthn-at`).
    StepUp {
        /// The client_id.
        client_id: String,
        /// never, low, medium, high, critical or default.
        at: String,
    },
    /// Set from which risk the client's approvals need user verification
    /// (never, low, medium, high, critical, or default: the server's
    /// `--user-verification-at`) and the least class.
    UserVerification {
        /// The client_id.
        client_id: String,
        /// never, low, medium, high, critical or default.
        at: String,
        /// user (an OS prompt or a security key), hwk (a security key), or
        /// default (the server's `--user-verification-class`).
        #[arg(long)]
        class: Option<String>,
    },
    /// Set a client's token lifetimes (seconds, or default: the server's;
    /// always capped by the server's --token-ttl, --refresh-token-lifetime,
    /// --refresh-token-idle-lifetime) and whether it may hold refresh tokens.
    Lifetimes {
        /// The client_id.
        client_id: String,
        /// Access token lifetime: seconds or default.
        #[arg(long)]
        access_token: Option<String>,
        /// Absolute lifetime of a refresh token family: seconds or default.
        #[arg(long)]
        refresh: Option<String>,
        /// Idle lifetime of a refresh token: seconds or default.
        #[arg(long)]
        refresh_idle: Option<String>,
        /// Whether the client may hold refresh tokens: allow or deny (deny
        /// revokes the ones it holds).
        #[arg(long)]
        refresh_tokens: Option<String>,
    },
    /// Lift the block of unverified clients that a user's `not_me` denials
    /// started.
    Unblock {
        /// Username or sub.
        #[arg(long)]
        user: String,
        /// Who lifts it (recorded). Default: $USER.
        #[arg(long)]
        by: Option<String>,
    },
}

/// `security-key` commands.
#[derive(Debug, Subcommand)]
pub enum SecurityKeyCommand {
    /// List a user's security keys and passkeys.
    List {
        /// Username or sub.
        user: String,
    },
    /// Remove one of a user's security keys or passkeys.
    Remove {
        /// Username or sub.
        user: String,
        /// The credential id (from `list`).
        credential_id: String,
    },
}

/// `device` commands.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List a user's devices.
    List {
        /// Username or sub.
        user: String,
    },
    /// Revoke a device.
    Revoke {
        /// The device_id.
        device_id: String,
    },
}

/// `key` commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new signing key; the old one stays published until its tokens expire.
    Rotate,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("display schemas: {0}")]
    Schemas(#[from] countersign_details::RegistryError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Internal(#[from] Internal),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Audit(#[from] countersign_server::audit::ExportError),
    #[error("TLS: {0}")]
    Tls(#[from] countersign_server::tls::TlsError),
}

/// Entry point of the binary.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only: escape codes in a log file are noise
        // to its readers and cost every line its formatting.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn issuer(text: &str) -> Result<Issuer, CliError> {
    Issuer::new(text).map_err(|e| CliError::Usage(format!("--issuer: {e}")))
}

/// Who an operator command is recorded as: `--by`, else `operator:$USER`.
fn operator(by: Option<String>) -> String {
    by.unwrap_or_else(|| format!("operator:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())))
}

fn initial_access_token(args: &ServeArgs) -> Result<InitialAccessToken, CliError> {
    let token = if let Some(path) = &args.initial_access_token_file {
        std::fs::read_to_string(path)?.lines().next().unwrap_or_default().trim().to_owned()
    } else {
        std::env::var(INITIAL_ACCESS_TOKEN_ENV).unwrap_or_default().trim().to_owned()
    };
    if token.len() < 22 {
        return Err(CliError::Usage(format!(
            "--registration token needs an initial access token of at least 22 characters in \
             {INITIAL_ACCESS_TOKEN_ENV} or --initial-access-token-file"
        )));
    }
    Ok(InitialAccessToken::new(token))
}

/// Builds the configuration of `serve`.
fn serve_config(args: &ServeArgs) -> Result<Config, CliError> {
    let mut c = Config::new(issuer(&args.issuer)?);
    let open_by_default = RegistrationPolicy::open_by_default(&c.issuer);
    let registration =
        args.registration.unwrap_or(if open_by_default { Registration::Open } else { Registration::Token });
    c.registration = match registration {
        Registration::Open => {
            if !open_by_default {
                tracing::warn!(
                    issuer = %c.issuer,
                    "open registration on an issuer others can reach: anyone may register an agent"
                );
            }
            RegistrationPolicy::Open
        }
        Registration::Token if args.registration.is_none() => {
            RegistrationPolicy::InitialAccessToken(initial_access_token(args).map_err(|e| {
                CliError::Usage(format!(
                    "{e}\n(an issuer other than loopback registers clients with an initial access token by \
                     default; pass --registration open to let anyone register)"
                ))
            })?)
        }
        Registration::Token => RegistrationPolicy::InitialAccessToken(initial_access_token(args)?),
    };
    c.webauthn_at = from_risk_flag("--webauthn-at", &args.webauthn_at)?;
    c.user_verification_at = from_risk_flag("--user-verification-at", &args.user_verification_at)?;
    c.user_verification_class = countersign_protocol::amr::VerificationClass::parse(&args.user_verification_class)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--user-verification-class: `{}` is not one of user, hwk",
                args.user_verification_class
            ))
        })?;
    c.check_webauthn()
        .map_err(|e| CliError::Usage(format!("--webauthn-at {}: {e} (or --webauthn-at never)", args.webauthn_at)))?;
    c.check_user_verification().map_err(|e| {
        CliError::Usage(format!("--user-verification-class hwk: {e} (or --user-verification-class user)"))
    })?;
    c.limits.user_per_minute = args.user_rate_limit;
    c.limits.client_per_minute = args.client_rate_limit;
    c.limits.unverified_user_client_per_minute = args.unverified_rate_limit;
    c.limits.max_pending_per_user = args.max_pending_per_user;
    c.limits.max_pending_unverified_per_user = args.max_pending_unverified_per_user;
    c.unverified_max_expiry_secs = args.unverified_max_expiry;
    c.max_details_bytes = args.max_details_bytes;
    c.max_streams_per_device = args.max_streams_per_device;
    c.limits.not_me_threshold = args.not_me_threshold;
    c.limits.not_me_window_secs = args.not_me_window;
    c.limits.user_code_failures = args.user_code_failures;
    c.limits.client_user_code_failures = args.client_user_code_failures;
    c.limits.user_code_window_secs = args.user_code_window;
    c.limits.max_pending_webauthn_registrations_per_user = args.max_pending_webauthn_registrations_per_user;
    c.limits.max_webauthn_credentials_per_user = args.max_webauthn_credentials_per_user;
    c.default_expiry_secs = args.default_expiry;
    c.max_expiry_secs = args.max_expiry;
    c.access_token_ttl_secs = args.token_ttl;
    c.id_token_ttl_secs = args.token_ttl;
    c.token_replay_window_secs = args.token_replay_window;
    c.access_token_audience = args
        .token_audience
        .as_deref()
        .map(|a| {
            countersign_protocol::ciba::Audience::new(a)
                .map(|a| a.as_str().to_owned())
                .map_err(|e| CliError::Usage(format!("--token-audience: {e}")))
        })
        .transpose()?;
    c.apis = args
        .apis
        .iter()
        .map(|a| {
            countersign_protocol::ciba::Audience::new(a.as_str()).map_err(|e| {
                CliError::Usage(format!("--api {}: {e}", countersign_text::escape(a, countersign_text::Context::Line)))
            })
        })
        .collect::<Result<_, _>>()?;
    if let Some(path) = &args.scopes {
        c.scopes = countersign_server::scopes::ScopeRegistry::with_file(path)
            .map_err(|e| CliError::Usage(format!("--scopes {}: {e}", path.display())))?;
    }
    c.refresh_token_lifetime_secs = args.refresh_token_lifetime;
    c.refresh_token_idle_lifetime_secs = args.refresh_token_idle_lifetime;
    if c.access_token_ttl_secs == 0 || c.refresh_token_lifetime_secs == 0 || c.refresh_token_idle_lifetime_secs == 0 {
        return Err(CliError::Usage(
            "--token-ttl, --refresh-token-lifetime and --refresh-token-idle-lifetime must be at least 1".into(),
        ));
    }
    c.max_body_bytes = args.max_body_bytes;
    c.danger_allow_http_loopback_notifications = args.danger_allow_http_loopback_notifications;
    c.danger_allow_http_loopback_jwks_uri = args.danger_allow_http_loopback_jwks_uri;
    if c.default_expiry_secs == 0 || c.default_expiry_secs > c.max_expiry_secs {
        return Err(CliError::Usage("--default-expiry must be between 1 and --max-expiry".into()));
    }
    Ok(c)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

fn qr(text: &str) -> Result<String, CliError> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| CliError::Usage(format!("QR code: {e}")))?;
    Ok(code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).quiet_zone(true).build())
}

/// Tells the running servers (PostgreSQL: every instance) to read these
/// users' streams again, so a change made here reaches open streams at
/// once. The change is committed either way: a failure is only reported.
async fn wake(db: &countersign_server::ops::Db, subs: &[String]) {
    if let Err(e) = ops::wake_streams(db, subs).await {
        eprintln!(
            "warning: the running servers were not told ({e}); open streams see the change at their next re-read"
        );
    }
}

fn parse_location(value: &str) -> Result<ops::Location, String> {
    Ok(ops::Location::parse(value))
}

/// The secret key file: `--secret-key-file`, else beside a SQLite file.
fn secret_key_file(cli: &Cli) -> Result<PathBuf, CliError> {
    cli.secret_key_file.clone().or_else(|| cli.db.default_secret_key_file()).ok_or_else(|| {
        CliError::Usage(
            "a PostgreSQL database needs --secret-key-file: the server's secret key, the same file on every instance"
                .into(),
        )
    })
}

fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

/// A `--…-at` flag: `never` (`None`) or the risk from which a step applies.
fn from_risk_flag(flag: &str, value: &str) -> Result<Option<countersign_protocol::device::Risk>, CliError> {
    match ops::StepUpAt::parse(value).map_err(|e| CliError::Usage(format!("{flag}: {e}")))? {
        ops::StepUpAt::Never => Ok(None),
        ops::StepUpAt::From(risk) => Ok(Some(risk)),
    }
}

/// The certificate to serve, if `serve` is to speak HTTPS.
fn tls_files(
    args: &ServeArgs,
    db: &ops::Location,
    now: u64,
) -> Result<Option<countersign_server::tls::TlsFiles>, CliError> {
    use countersign_server::tls::{self_signed, TlsFiles};
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return Ok(Some(TlsFiles { cert: cert.clone(), key: key.clone() }));
    }
    if !args.tls_self_signed {
        return Ok(None);
    }
    // Checked before a CA is made and announced.
    if !args.issuer.starts_with("https://") {
        return Err(CliError::Usage("--tls-self-signed serves an https issuer".into()));
    }
    let dir = db.directory().join("tls");
    let dev = self_signed::ensure(&dir, now)?;
    // On stderr, as the logs: the instructions are for whoever starts it.
    eprintln!("{}", self_signed::trust_instructions(&dev.ca));
    if dev.new_ca {
        eprintln!("(a new CA: clients that trusted an earlier one must trust this file again)");
    }
    Ok(Some(dev.files))
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let now = SystemClock.now();
    if let Command::Serve(args) = &cli.command {
        let mut config = serve_config(args)?;
        config.secret_key_file = Some(secret_key_file(&cli)?);
        let schemas = match &args.schemas_dir {
            Some(dir) => RegistrySchemas::with_dir(dir)?,
            None => RegistrySchemas::builtin()?,
        };
        tracing::info!(
            types = schemas.types().len(),
            families = schemas.registry().families().len(),
            dir = ?args.schemas_dir,
            "display schemas loaded"
        );
        let db = cli.db.open().await?;
        let state = AppState::new(config, db, Arc::new(SystemClock), Arc::new(schemas)).await?;
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let tls = tls_files(args, &cli.db, now)?;
        // Without TLS an https issuer is served by a proxy in front.
        if tls.is_some() && !state.config.issuer.as_str().starts_with("https://") {
            return Err(CliError::Usage("--tls-cert and --tls-self-signed serve an https issuer".into()));
        }
        tracing::info!(listen = %args.listen, issuer = %state.config.issuer, tls = tls.is_some(), "countersign-server listening");
        match tls {
            None => countersign_server::serve(listener, state, shutdown_signal()).await?,
            Some(files) => {
                let certificates = countersign_server::tls::Certificates::open(files)?;
                let config = certificates.server_config()?;
                countersign_server::tls::reload_on_sighup(certificates);
                let listener = countersign_server::tls::TlsListener::new(listener, config)?;
                countersign_server::serve(listener, state, shutdown_signal()).await?;
            }
        }
        return Ok(());
    }
    if let Command::Audit(AuditCommand::VerifyExport { file, jwks }) = &cli.command {
        // Offline: no database.
        #[derive(serde::Deserialize)]
        struct JwksFile {
            keys: Vec<countersign_protocol::jws::PublicJwk>,
        }
        let jwks: JwksFile = serde_json::from_str(&std::fs::read_to_string(jwks)?)
            .map_err(|e| CliError::Usage(format!("--jwks: not a JWKS of P-256 keys: {e}")))?;
        let text = std::fs::read_to_string(file)?;
        let (verified, head) = countersign_server::audit::verify_export(&text, &jwks.keys)?;
        out(&format!(
            "export verified: {} entries, head {}, signed at {} for the issuer {} (as the exporter stated it)",
            verified.count, verified.head.1, head.iat, head.iss
        ));
        return Ok(());
    }
    let db = cli.db.open().await?;
    let operator_label = operator(None);
    let by = ops::Actor::Labelled(&operator_label);
    let key_file = secret_key_file(&cli);
    match cli.command {
        Command::Serve(_) => {}
        Command::User(UserCommand::Add { username, name, email, admin }) => {
            let u = ops::add_user(&db, &NewUser { username, name, email, admin }, &by, now).await?;
            out(&format!("added user {} (sub {})", u.username, u.sub));
        }
        Command::User(UserCommand::List) => {
            out("SUB\tUSERNAME\tEMAIL\tNAME\tROLES\tSTATUS");
            for u in ops::list_users(&db).await? {
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.sub,
                    u.username,
                    u.email.as_deref().unwrap_or("-"),
                    u.name,
                    u.roles.join(","),
                    if u.disabled { "disabled" } else { "active" }
                ));
            }
        }
        Command::User(UserCommand::Disable { user }) => {
            let u = ops::disable_user(&db, &user, &by, now).await?;
            out(&format!("disabled user {} (sub {})", u.username, u.sub));
            wake(&db, std::slice::from_ref(&u.sub)).await;
        }
        Command::User(UserCommand::SetUserCode { user }) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let code = UserCode::new(line.trim_end_matches(['\r', '\n']).to_owned());
            let key = ops::UserCodeKey::for_database(&db, &key_file?, now).await?;
            ops::set_user_code(&db, &key, &user, &code, &by, now).await?;
            out("user_code set");
        }
        Command::EnrollLink { user, issuer: iss, ttl, no_qr } => {
            let link = ops::enrollment_link(&db, &issuer(&iss)?, &user, ttl, now).await?;
            out(&format!("App URI (single use, expires in {ttl} s):"));
            out(&link.to_app_uri());
            out("Link:");
            out(&link.to_https_link());
            if !no_qr {
                out(&qr(&link.to_app_uri())?);
            }
        }
        Command::Client(ClientCommand::List) => {
            out("CLIENT_ID\tNAME\tMODE\tAUTH\tSTATUS\tVERIFIED");
            for c in ops::list_clients(&db).await? {
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    c.client_id,
                    c.client_name,
                    c.delivery_mode,
                    c.auth_method,
                    if c.disabled { "disabled" } else { "active" },
                    c.verified.map_or_else(|| "no".to_owned(), |(by, at)| format!("by {by} at {at}")),
                ));
            }
        }
        Command::Client(ClientCommand::Disable { client_id }) => {
            match ops::disable_client(&db, &client_id, &by, now).await? {
                Some(subs) => {
                    out(&format!("disabled client {client_id}"));
                    wake(&db, &subs).await;
                }
                None => out(&format!("client {client_id} was already disabled")),
            }
        }
        Command::Client(ClientCommand::Verify { client_id, by }) => {
            let label = operator(by);
            if ops::set_client_verified(&db, &client_id, true, &ops::Actor::Labelled(&label), now).await? {
                out(&format!("verified client {client_id}"));
            } else {
                out(&format!("client {client_id} was already verified"));
            }
        }
        Command::Client(ClientCommand::Unverify { client_id }) => {
            if ops::set_client_verified(&db, &client_id, false, &ops::Actor::Labelled(&operator_label), now).await? {
                out(&format!("client {client_id} is no longer verified"));
            } else {
                out(&format!("client {client_id} was not verified"));
            }
        }
        Command::Client(ClientCommand::Unblock { user, by }) => {
            let label = operator(by);
            if ops::unblock_unverified(&db, &user, &ops::Actor::Labelled(&label), now).await? {
                out(&format!("unverified clients are no longer blocked for {user}"));
            } else {
                out(&format!("unverified clients were not blocked for {user}"));
            }
        }
        Command::Device(DeviceCommand::List { user }) => {
            out("DEVICE_ID\tNAME\tPLATFORM\tSTATUS");
            for d in ops::list_devices(&db, &user).await? {
                out(&format!(
                    "{}\t{}\t{}\t{}",
                    d.device_id,
                    d.device_name,
                    d.platform,
                    if d.revoked_at.is_some() { "revoked" } else { "active" }
                ));
            }
        }
        Command::Device(DeviceCommand::Revoke { device_id }) => {
            let (sub, revoked) = ops::revoke_device(&db, &device_id, &by, now).await?;
            if revoked {
                out(&format!("revoked device {device_id}"));
                wake(&db, &[sub]).await;
            } else {
                out(&format!("device {device_id} was already revoked"));
            }
        }
        Command::Client(ClientCommand::UserVerification { client_id, at, class }) => {
            ops::set_client_user_verification(&db, &client_id, &at, class.as_deref(), &by, now).await?;
            let class = class.as_deref().unwrap_or("default");
            out(&format!("client {client_id}: user verification from risk {at}, class {class}"));
        }
        Command::Client(ClientCommand::Lifetimes {
            client_id,
            access_token,
            refresh,
            refresh_idle,
            refresh_tokens,
        }) => {
            let lifetime =
                |flag: &str, v: &Option<String>| v.as_deref().map(|v| ops::parse_lifetime(flag, v)).transpose();
            let change = ops::TokenPolicyChange {
                access_token: lifetime("--access-token", &access_token)?,
                refresh: lifetime("--refresh", &refresh)?,
                refresh_idle: lifetime("--refresh-idle", &refresh_idle)?,
                refresh_tokens: match refresh_tokens.as_deref() {
                    None => None,
                    Some("allow") => Some(true),
                    Some("deny") => Some(false),
                    Some(other) => {
                        return Err(CliError::Usage(format!("--refresh-tokens: allow or deny, not {other:?}")))
                    }
                },
            };
            if change == ops::TokenPolicyChange::default() {
                return Err(CliError::Usage(
                    "client lifetimes: give --access-token, --refresh, --refresh-idle or --refresh-tokens".into(),
                ));
            }
            ops::set_client_token_policy(&db, &client_id, &change, &by, now).await?;
            out(&format!("client {client_id}: token policy changed"));
        }
        Command::Client(ClientCommand::StepUp { client_id, at }) => {
            ops::set_client_step_up(&db, &client_id, &at, &by, now).await?;
            out(&format!("client {client_id}: WebAuthn from risk {at}"));
        }
        Command::SecurityKey(SecurityKeyCommand::List { user }) => {
            out("CREDENTIAL_ID\tNAME\tCREATED\tLAST_USED\tSTATUS");
            for k in ops::list_security_keys(&db, &user).await? {
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}",
                    k.credential_id,
                    countersign_text::escape(&k.name, countersign_text::Context::Line),
                    k.created_at,
                    k.last_used_at.map_or_else(|| "never".to_owned(), |t| t.to_string()),
                    k.flagged_at.map_or_else(|| "ok".to_owned(), |t| format!("flagged at {t}")),
                ));
            }
        }
        Command::SecurityKey(SecurityKeyCommand::Remove { user, credential_id }) => {
            ops::remove_security_key(&db, &user, &credential_id, &by, now).await?;
            out(&format!("removed security key {credential_id} of {user}"));
        }
        Command::User(UserCommand::GrantAdmin { user }) => {
            let (u, changed) = ops::set_admin(&db, &user, true, &by, now).await?;
            out(&if changed {
                format!("{} is now an administrator", u.username)
            } else {
                format!("{} was already an administrator", u.username)
            });
        }
        Command::User(UserCommand::RevokeAdmin { user }) => {
            let (u, changed) = ops::set_admin(&db, &user, false, &by, now).await?;
            out(&if changed {
                format!("{} is no longer an administrator", u.username)
            } else {
                format!("{} was not an administrator", u.username)
            });
        }
        Command::Audit(AuditCommand::Verify) => match countersign_server::audit::verify(&db).await? {
            Ok(v) => out(&format!("audit log verified: {} entries, head {} (entry {})", v.count, v.head.1, v.head.0)),
            Err(broken) => {
                db.close().await;
                return Err(CliError::Audit(broken.into()));
            }
        },
        Command::Audit(AuditCommand::Export { file, issuer: iss }) => {
            let iss = issuer(&iss)?;
            // Written beside, then renamed: a failed export (a broken chain)
            // leaves no file without its signed head.
            let mut partial = file.clone().into_os_string();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let mut w = std::io::BufWriter::new(std::fs::File::create(&partial)?);
            let written = countersign_server::audit::export(&db, iss.as_str(), now, &mut w).await;
            drop(w);
            let v = match written {
                Ok(v) => v,
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    db.close().await;
                    return Err(e.into());
                }
            };
            std::fs::rename(&partial, &file)?;
            out(&format!("exported {} entries to {} (head {})", v.count, file.display(), v.head.1));
        }
        Command::Audit(AuditCommand::VerifyExport { .. }) => {}
        Command::Key(KeyCommand::Rotate) => {
            let kid = ops::rotate_signing_key(&db, &by, now).await?;
            out(&format!("new signing key {kid}"));
        }
    }
    db.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["countersign-server", "serve", "--issuer", "http://localhost:8080"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Serve(args) => *args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_token_replay_window_is_a_serve_flag_bounded_by_the_token_lifetime() {
        let c = serve_config(&serve_args(&[])).expect("config");
        assert_eq!(c.token_replay_window_secs, 120);
        assert_eq!(c.replay_window_secs(), 120);
        assert!(c.danger_test_hooks.is_none(), "the CLI never sets test hooks");
        let c = serve_config(&serve_args(&["--token-replay-window", "30"])).expect("config");
        assert_eq!(c.replay_window_secs(), 30);
        let c = serve_config(&serve_args(&["--token-replay-window", "0"])).expect("config");
        assert_eq!(c.replay_window_secs(), 0);
        // Never longer than the token lives.
        let c = serve_config(&serve_args(&["--token-replay-window", "900", "--token-ttl", "60"])).expect("config");
        assert_eq!((c.token_replay_window_secs, c.replay_window_secs()), (900, 60));
    }

    #[test]
    fn refresh_token_lifetimes_are_serve_flags() {
        let c = serve_config(&serve_args(&[])).expect("config");
        assert_eq!((c.refresh_token_lifetime_secs, c.refresh_token_idle_lifetime_secs), (30 * 86_400, 7 * 86_400));
        let c =
            serve_config(&serve_args(&["--refresh-token-lifetime", "3600", "--refresh-token-idle-lifetime", "600"]))
                .expect("config");
        assert_eq!((c.refresh_token_lifetime_secs, c.refresh_token_idle_lifetime_secs), (3600, 600));
        assert!(serve_config(&serve_args(&["--refresh-token-idle-lifetime", "0"])).is_err());
    }
}
