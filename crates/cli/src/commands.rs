//! Command line parsing and the commands.

use crate::agent::{self, AgentFile, Ask, TokenOutcome};
use crate::render;
use crate::safe::{self, text};
use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use countersign_approver::confirm::{confirmation_reason, ConfirmationReason};
use countersign_approver::display::unapprovable_reason;
use countersign_approver::keys::passphrase::PassphrasePurpose;
use countersign_approver::qr_image::{decode_enrollment_link, MAX_IMAGE_BYTES};
use countersign_approver::store::{InboxItem, LocalStatus};
use countersign_approver::{
    default_data_dir, Approver, ApproverConfig, ApproverEvent, DeliveryReport, Error, KeyStoreChoice, RequestView,
};
use countersign_details::RenderOptions;
use countersign_protocol::device::{Decision, DenyReason, EnrollmentUri};
use serde::Serialize;
use serde_json::json;
use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// Environment variable with the passphrase of the encrypted key file, for
/// tests and headless use only (other processes of the user can read a
/// process's environment).
pub use countersign_approver::keys::passphrase::ENV_INSECURE_PASSPHRASE;

/// Exit code: a decision was not accepted (expired, conflict, refused).
const EXIT_NOT_ACCEPTED: u8 = 3;
/// Exit code: a receipt did not verify.
const EXIT_INVALID_RECEIPT: u8 = 4;

/// Countersign headless approver: enroll with authorization servers, receive
/// requests from AI agents, show them, approve or deny with a signed decision.
#[derive(Debug, Parser)]
#[command(name = "countersign-cli", version, max_term_width = 100)]
pub struct Cli {
    /// Machine-readable JSON output (ASCII only).
    #[arg(long, global = true)]
    json: bool,
    /// Data directory (default: the platform data directory).
    #[arg(long, global = true, env = "COUNTERSIGN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where device keys go: the OS keychain, or a passphrase-encrypted file
    /// (passphrase from a terminal prompt; without a terminal, tests and
    /// headless use: COUNTERSIGN_INSECURE_KEY_PASSPHRASE).
    #[arg(long, global = true, env = "COUNTERSIGN_KEY_STORE", value_enum, default_value_t = KeyStoreArg::Auto)]
    key_store: KeyStoreArg,
    /// Locale of dates and numbers in requests (BCP 47: en-US, en-GB, de-DE,
    /// fr-FR; others get ISO 8601 dates).
    #[arg(long, global = true, env = "COUNTERSIGN_LOCALE", default_value = "en-US")]
    locale: String,
    /// Offset from UTC of the times shown, in minutes (e.g. 60 for UTC+01:00).
    #[arg(long, global = true, env = "COUNTERSIGN_UTC_OFFSET", default_value_t = 0, allow_hyphen_values = true)]
    utc_offset: i32,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KeyStoreArg {
    /// The keychain when reachable, else the encrypted file (with a warning).
    Auto,
    /// The OS keychain only.
    Keychain,
    /// The encrypted key file only.
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReasonArg {
    /// I did not start this.
    #[value(name = "not_me", alias = "not-me")]
    NotMe,
    /// The request is mine but the details are wrong.
    #[value(name = "wrong_details", alias = "wrong-details")]
    WrongDetails,
    /// Anything else.
    Other,
}

impl From<ReasonArg> for DenyReason {
    fn from(r: ReasonArg) -> Self {
        match r {
            ReasonArg::NotMe => DenyReason::NotMe,
            ReasonArg::WrongDetails => DenyReason::WrongDetails,
            ReasonArg::Other => DenyReason::Other,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enroll this approver with a server: shows the server and the user the
    /// invitation is for, asks, then enrolls.
    #[command(group(ArgGroup::new("invitation").required(true).args(["uri", "qr_image"])))]
    Enroll {
        /// The invitation: countersign://enroll?... or its https link.
        uri: Option<String>,
        /// A PNG or JPEG image of the invitation's QR code, instead of the link.
        #[arg(long, value_name = "FILE")]
        qr_image: Option<PathBuf>,
        /// Name of this device, shown to the user and admins.
        #[arg(long)]
        device_name: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// List the enrolled accounts.
    Accounts,
    /// Fetch and list pending requests.
    List {
        /// Do not contact the servers.
        #[arg(long)]
        offline: bool,
        /// Every stored request, not only pending ones.
        #[arg(long)]
        all: bool,
    },
    /// Show a request: every field, as it will be signed (--json: its display model).
    Show {
        /// Request id.
        id: String,
        /// Account id (when several accounts have this request id).
        #[arg(long)]
        account: Option<String>,
    },
    /// Approve a request (signs the statement of what `show` displays).
    Approve {
        /// Request id.
        id: String,
        /// Account id.
        #[arg(long)]
        account: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Keep retrying delivery until it is delivered or the request expires.
        #[arg(long)]
        wait: bool,
    },
    /// Deny a request.
    Deny {
        /// Request id.
        id: String,
        /// Why.
        #[arg(long, value_enum)]
        reason: Option<ReasonArg>,
        /// Account id.
        #[arg(long)]
        account: Option<String>,
        /// Keep retrying delivery until it is delivered or the request expires.
        #[arg(long)]
        wait: bool,
    },
    /// Stream requests live (push, or polling with --poll); --prompt asks for each.
    Watch {
        /// Ask approve/deny/skip for each new request (answers from standard input).
        #[arg(long)]
        prompt: bool,
        /// Poll instead of using the push channel.
        #[arg(long)]
        poll: bool,
        /// Poll interval, seconds (default: the server's).
        #[arg(long)]
        poll_interval: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long = "for")]
        duration: Option<u64>,
    },
    /// Fetch pending requests and deliver queued decisions once.
    Sync,
    /// The decisions made here.
    History,
    /// Verify a stored decision offline (signature and statement hash).
    Verify {
        /// Request id.
        id: String,
        /// Account id.
        #[arg(long)]
        account: Option<String>,
    },
    /// Whether unverified agents are blocked for you (after you reported
    /// their requests as "not me"); --lift lets them ask again.
    UnverifiedBlock {
        /// Account id (default: every account; --lift needs one).
        #[arg(long)]
        account: Option<String>,
        /// Lift the block: unverified agents may send you requests again.
        #[arg(long)]
        lift: bool,
    },
    /// Remove an account and its key (revoke the device on the server too).
    RemoveAccount {
        /// Account id (see `accounts`).
        account_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// A demo CIBA agent using only the public HTTP API.
    #[command(subcommand)]
    Agent(AgentCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// Poll the token endpoint.
    Poll,
    /// Wait for the server's ping, then fetch the token.
    Ping,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Register a client (RFC 7591) and save it to a file.
    Register {
        /// The server's issuer URL.
        #[arg(long)]
        issuer: String,
        /// client_name.
        #[arg(long, default_value = "Countersign demo agent")]
        name: String,
        /// Token delivery mode.
        #[arg(long, value_enum, default_value_t = ModeArg::Poll)]
        mode: ModeArg,
        /// Ping callback URL (http://127.0.0.1:PORT/path), for --mode ping.
        #[arg(long)]
        notify: Option<String>,
        /// authorization_details types to register (comma-separated).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        /// Where to save the registration (contains the client secret).
        #[arg(long, default_value = "agent.json")]
        out: PathBuf,
    },
    /// Send a backchannel authentication request.
    Request {
        /// The registration file.
        #[arg(long, default_value = "agent.json")]
        agent: PathBuf,
        /// login_hint: the user's login name or e-mail.
        #[arg(long)]
        user: String,
        /// JSON file with the authorization_details array.
        #[arg(long)]
        details: PathBuf,
        /// binding_message shown on both sides.
        #[arg(long, default_value = "DEMO")]
        binding_message: String,
        /// scope.
        #[arg(long, default_value = "openid")]
        scope: String,
        /// requested_expiry, seconds.
        #[arg(long)]
        expiry: Option<u64>,
        /// Wait for the decision (poll, or ping in ping mode).
        #[arg(long)]
        wait: bool,
        /// Longest wait, seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print the access token itself.
        #[arg(long)]
        show_token: bool,
    },
    /// Wait for the decision on a request (poll, or ping with --ping-token).
    Poll {
        /// The registration file.
        #[arg(long, default_value = "agent.json")]
        agent: PathBuf,
        /// auth_req_id from `agent request`.
        #[arg(long)]
        auth_req_id: String,
        /// The client_notification_token of a ping-mode request.
        #[arg(long)]
        ping_token: Option<String>,
        /// Longest wait, seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print the access token itself.
        #[arg(long)]
        show_token: bool,
    },
}

/// A command failure: a message and an exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), code: 1 }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(e.to_string())
    }
}

impl From<agent::AgentError> for Failure {
    fn from(e: agent::AgentError) -> Self {
        Failure::new(e.to_string())
    }
}

type Outcome = Result<u8, Failure>;

struct Out {
    json: bool,
}

impl Out {
    fn print<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) {
        let s = if self.json { safe::json(value) } else { human() };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", s.trim_end());
        let _ = stdout.flush();
    }

    fn line<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) {
        let s = if self.json { safe::json_line(value) } else { human() };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{s}");
        let _ = stdout.flush();
    }
}

/// Parses the command line and runs it.
#[must_use]
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if json {
                println!("{}", safe::json(&json!({ "error": f.message })));
            }
            eprintln!("error: {}", text(&f.message));
            ExitCode::from(f.code)
        }
    }
}

fn passphrase(purpose: PassphrasePurpose) -> Result<Zeroizing<String>, String> {
    if let Ok(p) = std::env::var(ENV_INSECURE_PASSPHRASE) {
        return Ok(Zeroizing::new(p));
    }
    if std::io::stdin().is_terminal() {
        let prompt = match purpose {
            PassphrasePurpose::Create => "New passphrase for the encrypted key file (remember it): ",
            PassphrasePurpose::Open => "Passphrase of the encrypted key file: ",
        };
        return rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|e| e.to_string());
    }
    Err(format!("run in a terminal to be asked (tests and headless use: set {ENV_INSECURE_PASSPHRASE})"))
}

fn config(cli: &Cli) -> Result<ApproverConfig, Failure> {
    let dir = cli
        .data_dir
        .clone()
        .or_else(default_data_dir)
        .ok_or_else(|| Failure::new("no data directory: pass --data-dir"))?;
    let mut c = ApproverConfig::new(dir);
    c.key_store = match cli.key_store {
        KeyStoreArg::Auto => KeyStoreChoice::Auto,
        KeyStoreArg::Keychain => KeyStoreChoice::Keychain,
        KeyStoreArg::File => KeyStoreChoice::File,
    };
    c.passphrase = Some(Arc::new(passphrase));
    c.render = RenderOptions { locale: cli.locale.clone(), utc_offset_minutes: cli.utc_offset };
    Ok(c)
}

fn warn_key_store(approver: &Approver) {
    if let Some(w) = approver.key_store_warning() {
        eprintln!("warning: {w}");
    }
}

/// The enrollment link in the QR code image at `path` (at most
/// [`MAX_IMAGE_BYTES`] are read; more is refused as too large).
fn link_in_image(path: &Path) -> Result<Zeroizing<String>, Failure> {
    let cannot = |e: std::io::Error| Failure::new(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(cannot)?;
    decode_enrollment_link(&bytes).map(Zeroizing::new).map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

/// Asks a yes/no question on the terminal.
fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

fn read_line(prompt: &str) -> Option<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_owned()),
    }
}

async fn dispatch(cli: Cli) -> Outcome {
    let out = Out { json: cli.json };
    if let Command::Agent(cmd) = cli.command {
        return agent_command(&out, cmd).await;
    }
    let mut config = config(&cli)?;
    if let Command::Enroll { device_name: Some(name), .. } = &cli.command {
        config.device_name = name.clone();
    }
    if let Command::Watch { poll, poll_interval, .. } = &cli.command {
        config.transport.push = !poll;
        config.transport.poll_interval = poll_interval.map(Duration::from_secs);
    }
    let approver = Approver::open(config).await?;
    let result = approver_command(&out, &approver, cli.command).await;
    warn_key_store(&approver);
    approver.close().await;
    result
}

async fn approver_command(out: &Out, approver: &Approver, command: Command) -> Outcome {
    let now = approver.config().clock.now();
    match command {
        Command::Enroll { uri, qr_image, yes, .. } => {
            let link = match (uri, qr_image) {
                (Some(uri), None) => Zeroizing::new(uri),
                (None, Some(path)) => link_in_image(&path)?,
                // clap's "invitation" group makes it exactly one.
                _ => return Err(Failure::new("give the invitation link or --qr-image FILE, not both")),
            };
            let invitation = EnrollmentUri::parse(link.trim()).map_err(Error::from)?;
            drop(link);
            // Who the ticket is for, before anything is spent or stored.
            let preview = approver.enroll_preview_with(&invitation).await?;
            eprintln!("{}", render::enroll_preview(&preview, now));
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::new(format!(
                        "pass --yes to confirm enrolling with {} as {}",
                        preview.issuer, preview.user.name
                    )));
                }
                let q = "Enroll this device for this user? The server will be able to send you requests to approve.";
                if !confirm(q) {
                    return Err(Failure::new("not enrolled"));
                }
            }
            let account = approver.enroll_with(&invitation).await?;
            out.print(&account, || {
                format!(
                    "Enrolled as {} <{}> at {}\naccount {}  device {}  key in {}",
                    text(&account.user.name),
                    text(&account.user.sub),
                    text(account.issuer.as_str()),
                    account.id,
                    text(account.device_id.as_str()),
                    account.key_store
                )
            });
        }
        Command::Accounts => {
            let accounts = approver.accounts().await?;
            out.print(&accounts, || {
                if accounts.is_empty() {
                    "No accounts. Enroll with `countersign-cli enroll <invitation>`.".into()
                } else {
                    accounts.iter().map(render::account_line).collect::<Vec<_>>().join("\n")
                }
            });
        }
        Command::List { offline, all } => {
            if !offline {
                sync_and_deliver(approver).await;
            }
            let items = if all { approver.inbox().await? } else { approver.pending().await? };
            let listed = listed(approver, items).await;
            out.print(&listed, || {
                if listed.is_empty() {
                    if all { "No requests." } else { "No pending requests." }.into()
                } else {
                    let mut lines = listed
                        .iter()
                        .map(|l| {
                            let line = render::request_line(&l.item, l.display.as_ref().map_err(String::as_str), now);
                            if all {
                                format!("{line}  [{}]", l.item.status)
                            } else {
                                line
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    lines.push('\n');
                    render::push_note(&mut lines);
                    lines
                }
            });
        }
        Command::Show { id, account } => {
            let view = approver.view(&id, account.as_deref()).await?;
            out.print(&view, || render::request_full(&view, now));
        }
        Command::Approve { id, account, yes, wait } => {
            let view = approver.view(&id, account.as_deref()).await?;
            let item = view.item.clone();
            if item.status != LocalStatus::Pending {
                return Err(Error::NotPending { request_id: id, status: item.status.to_string() }.into());
            }
            if !out.json {
                eprintln!("{}", render::request_full(&view, now).trim_end());
            }
            if let Some(reason) = unapprovable_reason(&view.display) {
                return Err(Error::NotApprovable { request_id: id, reason: reason.to_owned() }.into());
            }
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::new("not confirmed: pass --yes (after `show`) to approve without a prompt"));
                }
                if !confirm("Approve exactly this request?") {
                    return Err(Failure::new("not approved"));
                }
            }
            let typed = typed_confirmation(&view)?;
            return decide(out, approver, &item, Decision::Approve, None, typed.as_deref(), wait).await;
        }
        Command::Deny { id, reason, account, wait } => {
            let item = approver.find_request(&id, account.as_deref()).await?;
            return decide(out, approver, &item, Decision::Deny, reason.map(DenyReason::from), None, wait).await;
        }
        Command::UnverifiedBlock { account, lift } => return unverified_block(out, approver, account, lift).await,
        Command::Watch { prompt, duration, .. } => return watch(out, approver, prompt, duration).await,
        Command::Sync => {
            let synced = approver.sync_all().await;
            let delivered = approver.deliver_due().await?;
            let accounts: Vec<_> = synced
                .iter()
                .map(|(id, r)| match r {
                    Ok(rep) => json!({ "account_id": id, "report": rep }),
                    Err(e) => json!({ "account_id": id, "error": e.to_string() }),
                })
                .collect();
            let deliveries: Vec<_> = delivered
                .iter()
                .map(|(e, r)| json!({ "account_id": e.account_id, "request_id": e.request_id, "delivery": r }))
                .collect();
            out.print(&json!({ "accounts": accounts, "deliveries": deliveries }), || {
                let mut lines = Vec::new();
                for (id, r) in &synced {
                    lines.push(match r {
                        Ok(rep) => format!("{id}: {} new, {} withdrawn", rep.new, rep.withdrawn),
                        Err(e) => format!("{id}: {}", text(&e.to_string())),
                    });
                }
                for (e, r) in &delivered {
                    lines.push(format!("{}: {}", text(&e.request_id), render::delivery(r)));
                }
                if lines.is_empty() {
                    "Nothing to do.".into()
                } else {
                    lines.join("\n")
                }
            });
        }
        Command::History => {
            let history = approver.history().await?;
            out.print(&history, || {
                if history.is_empty() {
                    "No decisions yet.".into()
                } else {
                    history.iter().map(render::history_line).collect::<Vec<_>>().join("\n")
                }
            });
        }
        Command::Verify { id, account } => {
            let item = approver.find_request(&id, account.as_deref()).await?;
            let check = approver.verify_receipt(&item.account_id, &id).await?;
            out.print(&check, || render::receipt(&check));
            if !check.is_valid() {
                return Ok(EXIT_INVALID_RECEIPT);
            }
        }
        Command::RemoveAccount { account_id, yes } => {
            let account = approver.store().account(&account_id).await?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::new("pass --yes to remove the account"));
                }
                let q = format!(
                    "Remove account {} ({} at {}) and its key? Its history goes too.",
                    account.id,
                    text(&account.user.name),
                    text(account.issuer.as_str())
                );
                if !confirm(&q) {
                    return Err(Failure::new("not removed"));
                }
            }
            approver.remove_account(&account_id).await?;
            out.print(&json!({ "removed": account_id }), || {
                format!("Removed account {account_id}. Revoke the device on the server as well.")
            });
        }
        Command::Agent(_) => {}
    }
    Ok(0)
}

/// A request as `list` shows it: the stored request and, in JSON, how many
/// warnings its rendering has and the worst kind.
#[derive(Debug, Serialize)]
struct Listed {
    #[serde(flatten)]
    item: InboxItem,
    warning_count: Option<usize>,
    worst_warning: Option<countersign_details::WorstWarning>,
    /// Why the request could not be rendered (its warnings are unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    render_error: Option<String>,
    #[serde(skip)]
    display: Result<countersign_details::DisplayModel, String>,
}

/// Each request with its rendering (not recorded as shown: a list is not
/// the full view an approval needs).
async fn listed(approver: &Approver, items: Vec<InboxItem>) -> Vec<Listed> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let display = rendering(approver, &item).await;
        out.push(Listed {
            warning_count: display.as_ref().ok().map(|d| d.warning_count),
            worst_warning: display.as_ref().ok().and_then(|d| d.worst_warning.clone()),
            render_error: display.as_ref().err().cloned(),
            display,
            item,
        });
    }
    out
}

/// A request's rendering for a short view (not recorded as shown), or why
/// it cannot be rendered.
async fn rendering(approver: &Approver, item: &InboxItem) -> Result<countersign_details::DisplayModel, String> {
    approver.peek(item.request.id.as_str(), Some(&item.account_id)).await.map(|v| v.display).map_err(|e| e.to_string())
}

/// Pulls requests from every account and delivers queued decisions; errors
/// are warnings (the local inbox is still shown).
async fn sync_and_deliver(approver: &Approver) {
    for (id, r) in approver.sync_all().await {
        if let Err(e) = r {
            eprintln!("warning: account {id}: {}", text(&e.to_string()));
        }
    }
    if let Err(e) = approver.deliver_due().await {
        eprintln!("warning: delivery: {}", text(&e.to_string()));
    }
}

/// What the user typed to confirm an approval, asked whenever the core's
/// view says so ([`RequestView::confirmation_required`]); the core checks
/// it. Needs a terminal: typing the code is the deliberate act.
fn typed_confirmation(view: &RequestView) -> Result<Option<String>, Failure> {
    let Some(reason) = confirmation_reason(&view.item.request, &view.display).filter(|_| view.confirmation_required)
    else {
        return Ok(None);
    };
    let why = match reason {
        ConfirmationReason::UserVerification => "requires user verification".to_owned(),
        ConfirmationReason::Risk { risk } => format!("is {} risk", risk.as_str()),
    };
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(format!(
            "this request {why}: approve it in a terminal (you will type its binding message)"
        )));
    }
    Ok(Some(read_line(&format!("This request {why}. Type its binding message to approve it: ")).unwrap_or_default()))
}

/// Whether unverified agents are blocked for the user of each account (or
/// of `account`), and with `lift` lifts the block.
async fn unverified_block(out: &Out, approver: &Approver, account: Option<String>, lift: bool) -> Outcome {
    let accounts = match account {
        Some(id) => vec![approver.store().account(&id).await?],
        None => approver.accounts().await?,
    };
    if lift && accounts.len() != 1 {
        return Err(Failure::new(if accounts.is_empty() {
            "no account: nothing to lift"
        } else {
            "several accounts: choose the account to lift the block for with --account"
        }));
    }
    let mut states = Vec::new();
    for account in &accounts {
        let block = if lift {
            approver.lift_unverified_block(&account.id).await?
        } else {
            approver.unverified_block(&account.id).await?
        };
        states.push((account, block));
    }
    let now = approver.config().clock.now();
    let json: Vec<_> =
        states.iter().map(|(a, b)| json!({ "account_id": a.id, "blocked": b.blocked, "since": b.since })).collect();
    out.print(&json, || {
        if states.is_empty() {
            return "No accounts.".into();
        }
        states
            .iter()
            .map(|(a, b)| {
                let who = format!("{} ({} at {})", a.id, text(&a.user.name), text(a.issuer.as_str()));
                match (b.blocked, b.since) {
                    (true, Some(since)) => format!(
                        "{who}: unverified agents are blocked since {} ({}). \
                         Lift with `countersign-cli unverified-block --account {} --lift`.",
                        render::utc_time(since),
                        render::ago(since, now),
                        a.id
                    ),
                    (true, None) => format!("{who}: unverified agents are blocked."),
                    (false, _) if lift => format!("{who}: unverified agents may ask again."),
                    (false, _) => format!("{who}: unverified agents are not blocked."),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(0)
}

async fn decide(
    out: &Out,
    approver: &Approver,
    item: &InboxItem,
    decision: Decision,
    reason: Option<DenyReason>,
    typed: Option<&str>,
    wait: bool,
) -> Outcome {
    let id = item.request.id.as_str();
    let mut outcome = approver.decide(&item.account_id, id, decision, reason, typed).await?;
    while wait && matches!(outcome.delivery, DeliveryReport::Retrying { .. }) {
        if !out.json {
            eprintln!("{}", render::delivery(&outcome.delivery));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        outcome.delivery = approver.deliver(&item.account_id, id).await?;
    }
    outcome.history = approver.store().history_entry(outcome.history.id).await?;
    out.print(&outcome, || format!("{} {}: {}", decision, text(id), render::delivery(&outcome.delivery)));
    Ok(match outcome.delivery {
        DeliveryReport::Delivered { .. } | DeliveryReport::Retrying { .. } => 0,
        _ => EXIT_NOT_ACCEPTED,
    })
}

async fn prompt_for(out: &Out, approver: &Approver, item: &InboxItem) -> Result<(), Failure> {
    let now = approver.config().clock.now();
    let view = approver.view(item.request.id.as_str(), Some(&item.account_id)).await?;
    eprintln!("{}", render::request_full(&view, now).trim_end());
    let answer = tokio::task::spawn_blocking(|| read_line("[a]pprove, [d]eny or [s]kip? "))
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    let (decision, reason) = match answer.as_deref() {
        Some("a" | "approve") => (Decision::Approve, None),
        Some("d" | "deny") => {
            let r = tokio::task::spawn_blocking(|| read_line("Why? [n]ot me, [w]rong details, [o]ther: "))
                .await
                .map_err(|e| Failure::new(e.to_string()))?;
            let reason = match r.as_deref() {
                Some("n") => DenyReason::NotMe,
                Some("w") => DenyReason::WrongDetails,
                _ => DenyReason::Other,
            };
            (Decision::Deny, Some(reason))
        }
        _ => return Ok(()),
    };
    let typed = if decision == Decision::Approve {
        let view = view.clone();
        tokio::task::spawn_blocking(move || typed_confirmation(&view))
            .await
            .map_err(|e| Failure::new(e.to_string()))??
    } else {
        None
    };
    match approver.decide(&item.account_id, item.request.id.as_str(), decision, reason, typed.as_deref()).await {
        Ok(o) => {
            out.line(&o, || format!("{decision} {}: {}", text(item.request.id.as_str()), render::delivery(&o.delivery)))
        }
        Err(e) => eprintln!("error: {}", text(&e.to_string())),
    }
    Ok(())
}

async fn watch(out: &Out, approver: &Approver, prompt: bool, duration: Option<u64>) -> Outcome {
    let mut events = approver.subscribe();
    let run = approver.start().await?;
    let now = approver.config().clock.now();
    for item in approver.pending().await? {
        let display = rendering(approver, &item).await;
        out.line(&ApproverEvent::NewRequest { item: Box::new(item.clone()) }, || {
            format!("pending: {}", render::request_line(&item, display.as_ref().map_err(String::as_str), now))
        });
        if prompt {
            prompt_for(out, approver, &item).await?;
        }
    }
    let deadline = duration.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let stop = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(e) => {
                    let now = approver.config().clock.now();
                    let display = match &e {
                        ApproverEvent::NewRequest { item } if !out.json => Some(rendering(approver, item).await),
                        _ => None,
                    };
                    out.line(&e, || match (&e, &display) {
                        (ApproverEvent::NewRequest { item }, Some(d)) => {
                            let d = d.as_ref().map_err(String::as_str);
                            format!("new request: {}", render::request_line(item, d, now))
                        }
                        _ => render::event(&e, now),
                    });
                    if let (true, ApproverEvent::NewRequest { item }) = (prompt, &e) {
                        prompt_for(out, approver, item).await?;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("warning: {n} events skipped; run `list` to see every request");
                }
                Err(_) => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            () = &mut stop => break,
        }
    }
    run.shutdown().await;
    Ok(0)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

fn load_agent(path: &std::path::Path) -> Result<AgentFile, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

fn print_token(out: &Out, outcome: &TokenOutcome, show_token: bool) -> u8 {
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

async fn agent_command(out: &Out, cmd: AgentCommand) -> Outcome {
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
