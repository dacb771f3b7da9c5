//! The command line: clap types for the approver and the agent commands.

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use countersign_approver::config;
use countersign_protocol::device::DenyReason;
use std::path::PathBuf;

/// Countersign headless approver: enroll with authorization servers, receive
/// requests from AI agents, show them, approve or deny with a signed decision.
#[derive(Debug, Parser)]
#[command(name = "countersign-cli", version, max_term_width = 100)]
pub struct Cli {
    /// Machine-readable JSON output (ASCII only).
    #[arg(long, global = true)]
    pub(super) json: bool,
    /// Data directory (default: the platform data directory).
    #[arg(long, global = true, env = config::ENV_DATA_DIR)]
    pub(super) data_dir: Option<PathBuf>,
    /// Where device keys go: the OS keychain, or a passphrase-encrypted file
    /// (passphrase from a terminal prompt; without a terminal, tests and
    /// headless use: COUNTERSIGN_INSECURE_KEY_PASSPHRASE).
    #[arg(long, global = true, env = config::ENV_KEY_STORE, value_enum, default_value_t = KeyStoreArg::Auto)]
    pub(super) key_store: KeyStoreArg,
    /// Locale of dates and numbers in requests (BCP 47: en-US, en-GB, de-DE,
    /// fr-FR; others get ISO 8601 dates).
    #[arg(long, global = true, env = config::ENV_LOCALE, default_value = "en-US")]
    pub(super) locale: String,
    /// Offset from UTC of the times shown, in minutes (e.g. 60 for UTC+01:00).
    #[arg(long, global = true, env = config::ENV_UTC_OFFSET, default_value_t = 0, allow_hyphen_values = true)]
    pub(super) utc_offset: i32,
    /// A CA certificate (PEM file) to trust beside the built-in roots, e.g.
    /// the development CA of `countersign-server serve --tls-self-signed`.
    #[arg(long, global = true, env = config::ENV_CA_FILE)]
    pub(super) ca_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum KeyStoreArg {
    /// The keychain when reachable, else the encrypted file (with a warning).
    Auto,
    /// The OS keychain only.
    Keychain,
    /// The encrypted key file only.
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ReasonArg {
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
pub(super) enum Command {
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
        #[arg(long, allow_hyphen_values = true)]
        account: Option<String>,
    },
    /// Approve a request (signs the statement of what `show` displays).
    Approve {
        /// Request id.
        id: String,
        /// Account id.
        #[arg(long, allow_hyphen_values = true)]
        account: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Keep retrying delivery until it is delivered or the request expires.
        #[arg(long)]
        wait: bool,
        /// When the request requires a security key and none is plugged in:
        /// how long to wait for one, seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = KEY_WAIT_SECONDS)]
        key_wait: u64,
    },
    /// Deny a request.
    Deny {
        /// Request id.
        id: String,
        /// Why.
        #[arg(long, value_enum)]
        reason: Option<ReasonArg>,
        /// Account id.
        #[arg(long, allow_hyphen_values = true)]
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
    /// Ask the operating system to verify you now, as approving a request
    /// that requires user verification will (checks the setup: polkit's
    /// Countersign action and an authentication agent). Approves nothing.
    VerifyUser,
    /// The decisions made here.
    History,
    /// Verify a stored decision offline (signature and statement hash).
    Verify {
        /// Request id.
        id: String,
        /// Account id.
        #[arg(long, allow_hyphen_values = true)]
        account: Option<String>,
    },
    /// Whether unverified agents are blocked for you (after you reported
    /// their requests as "not me"); --lift lets them ask again.
    UnverifiedBlock {
        /// Account id (default: every account; --lift needs one).
        #[arg(long, allow_hyphen_values = true)]
        account: Option<String>,
        /// Lift the block: unverified agents may send you requests again.
        #[arg(long)]
        lift: bool,
    },
    /// Remove an account and its key (revoke the device on the server too).
    RemoveAccount {
        /// Account id (see `accounts`).
        #[arg(allow_hyphen_values = true)]
        account_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Your security keys at a server (WebAuthn): add, list, remove. A
    /// request that requires one (by default every critical one) is
    /// approved only with a key added here.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A demo CIBA agent using only the public HTTP API.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// For administrators: pending requests, grants, clients, users, devices
    /// and the audit log across the organisation; revoke, cancel, block.
    Admin {
        /// The administrator's account (default: the only one).
        #[arg(long, global = true, allow_hyphen_values = true)]
        account: Option<String>,
        #[command(subcommand)]
        cmd: super::admin::AdminCommand,
    },
}

/// How long `approve` and `keys add` wait for a security key to be plugged
/// in (or held to the reader) by default, seconds.
pub(super) const KEY_WAIT_SECONDS: u64 = 30;

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Register a security key: plug it in (or hold it to the reader),
    /// touch it and enter its PIN when asked.
    Add {
        /// A name for the key, shown in lists (1 to 64 characters).
        #[arg(long)]
        name: String,
        /// Account id (default: the only account).
        #[arg(long, allow_hyphen_values = true)]
        account: Option<String>,
        /// When no key is plugged in: how long to wait for one, seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = KEY_WAIT_SECONDS)]
        key_wait: u64,
    },
    /// List the security keys registered for the account, with their last use.
    List {
        /// Account id (default: the only account).
        #[arg(long, allow_hyphen_values = true)]
        account: Option<String>,
    },
    /// Remove a security key (its credential id, from `keys list`).
    Remove {
        /// Credential id.
        #[arg(allow_hyphen_values = true)]
        credential_id: String,
        /// Account id (default: the only account).
        #[arg(long, allow_hyphen_values = true)]
        account: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ModeArg {
    /// Poll the token endpoint.
    Poll,
    /// Wait for the server's ping, then fetch the token.
    Ping,
}

#[derive(Debug, Subcommand)]
pub(super) enum AgentCommand {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Account and credential ids are random base64url: one in 32 starts
    /// with `-`, and must still be taken as the value it is.
    #[test]
    fn ids_starting_with_a_hyphen_are_values() {
        let cli =
            Cli::try_parse_from(["countersign-cli", "remove-account", "-imv5Z7mHdpCCLX8Vcz6Xw", "--yes"]).unwrap();
        let Command::RemoveAccount { account_id, yes } = cli.command else { panic!("{:?}", cli.command) };
        assert_eq!((account_id.as_str(), yes), ("-imv5Z7mHdpCCLX8Vcz6Xw", true));
        let cli = Cli::try_parse_from(["countersign-cli", "approve", "req_1", "--account", "-x1", "--yes"]).unwrap();
        let Command::Approve { account, yes, .. } = cli.command else { panic!("{:?}", cli.command) };
        assert_eq!((account.as_deref(), yes), (Some("-x1"), true));
        // A misspelt flag is still refused where no value is expected.
        assert!(Cli::try_parse_from(["countersign-cli", "approve", "req_1", "--yess"]).is_err());
    }
}
