//! The state the commands share: the approver (or why it could not be
//! opened), the running transport, the latest connection state per account,
//! and the UI's event channel. Everything here is glue between Tauri and
//! `countersign-approver`; decisions, rendering and storage live in the core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_approver::keys::file::key_dir;
use countersign_approver::store::Account;
use countersign_approver::webauthn::{SharedAuthenticator, WindowPrompt};
use countersign_approver::{
    Approver, ApproverConfig, ApproverEvent, ConnectionState, DecisionOutcome, ExportReport, PassphrasePrompt,
    PassphrasePurpose, RunHandle,
};
use countersign_protocol::device::{Capability, Decision, DenyReason};
use serde::Serialize;
use tauri::ipc::Channel;
use zeroize::Zeroizing;

use crate::events::UiEvent;
use crate::security_key::{SecurityKeyPrompt, SecurityKeyView};
use crate::IpcError;

/// An account with how it is connected right now (`null`: not known yet).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    #[serde(flatten)]
    pub account: Account,
    pub connection: Option<ConnectionState>,
    /// Hidden, bidi or control characters in the user's name or id.
    pub user_text: Vec<countersign_approver::display::TextFinding>,
}

/// A new account, and whether it replaced the one being re-enrolled.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct EnrollOutcome {
    pub account: Account,
    /// Hidden, bidi or control characters in the user's name or id.
    pub user_text: Vec<countersign_approver::display::TextFinding>,
    /// The re-enrolled account was removed (same server and user).
    pub replaced: bool,
    /// Why the re-enrolled account was kept, if it was (it may quote the
    /// users' names: shown with `kept_because_characters` marked).
    pub kept_because: Option<String>,
    pub kept_because_characters: Vec<countersign_details::CharFinding>,
}

impl EnrollOutcome {
    fn new(enrollment: countersign_approver::Enrollment) -> Self {
        let countersign_approver::Enrollment { account, replaced, kept_because } = enrollment;
        let user_text = countersign_approver::display::user_text(&account.user);
        let (kept_because, kept_because_characters) = match kept_because {
            Some(why) => {
                let (text, characters) = countersign_details::text::Revealed::line(&why.to_string()).into_parts();
                (Some(text), characters)
            }
            None => (None, Vec::new()),
        };
        Self { account, user_text, replaced: replaced.is_some(), kept_because, kept_because_characters }
    }
}

/// Name, version, and what the UI must show about the app's own state.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct AppStatus {
    pub name: &'static str,
    pub version: &'static str,
    /// Keys are in the encrypted file because no keychain is reachable.
    pub key_store_warning: Option<String>,
    /// The approver could not be opened (every other command fails too).
    pub startup_error: Option<IpcError>,
    /// The encrypted key file waits for its passphrase: `create` (choose
    /// one) or `open` (enter it); `null` when nothing waits.
    pub passphrase_needed: Option<PassphrasePurpose>,
    /// Why this app cannot use security keys (`null`: it can).
    pub security_keys_unavailable: Option<String>,
    /// The security key's PIN request waiting for the window (also sent
    /// as a `security_key` event; here for a page that loads later).
    pub security_key_pin: Option<crate::security_key::SecurityKeyPrompt>,
}

/// The deny reasons the UI offers.
pub fn deny_reason(name: &str) -> Result<DenyReason, IpcError> {
    match name {
        "not_me" => Ok(DenyReason::NotMe),
        "wrong_details" => Ok(DenyReason::WrongDetails),
        "other" => Ok(DenyReason::Other),
        other => {
            Err(IpcError::new("invalid", format!("unknown deny reason {other:?}: use not_me, wrong_details or other")))
        }
    }
}

pub struct Shell {
    approver: Result<Approver, IpcError>,
    /// Asks the key file's passphrase in the window (unless the approver
    /// was configured with another source: tests, headless use).
    passphrase: Arc<PassphrasePrompt>,
    /// The security key's prompts, shown in the window.
    security_prompt: Arc<WindowPrompt>,
    /// The security key (`crate::security_key`), if this build reaches one.
    security_key: Option<SharedAuthenticator>,
    export_dir: PathBuf,
    run: tokio::sync::Mutex<Option<RunHandle>>,
    connections: Mutex<HashMap<String, ConnectionState>>,
    channel: Mutex<Option<Channel<UiEvent>>>,
    /// Navigation events published while no UI listened (oldest first).
    waiting: Mutex<Vec<UiEvent>>,
    /// Told when the window has painted its first screen: the transport
    /// starts after it ([`Shell::start_after_first_screen`]).
    first_screen: tokio::sync::Notify,
    /// [`Shell::stop`] ran: the transport is not started any more.
    stopped: std::sync::atomic::AtomicBool,
}

/// How long the transport waits at most for the window's first screen
/// ([`Shell::start_after_first_screen`]), counted from `setup`. The page
/// says it is painted 350 - 600 ms after the process starts here, with up to
/// 1,000 requests waiting (docs/performance.md, "Desktop app"); this bounds
/// the wait when it never does (the page failed to load).
pub const FIRST_SCREEN_WAIT: Duration = Duration::from_secs(2);

/// At most this many navigation events wait for the UI (the newest win).
const WAITING_MAX: usize = 8;

impl Shell {
    /// Opens the approver; a failure is kept and reported by every command.
    /// Without a passphrase source in `config`, the key file's passphrase
    /// is asked in the window ([`Shell::passphrase_prompt`]).
    pub async fn open(config: Result<ApproverConfig, IpcError>, export_dir: PathBuf) -> Shell {
        let mut passphrase = PassphrasePrompt::new(PathBuf::new());
        let security_prompt = WindowPrompt::new();
        let security_key = crate::security_key::open(&security_prompt).unwrap_or_else(|error| {
            eprintln!("countersign: no security key: {}", error.message);
            None
        });
        let approver = match config {
            Ok(mut config) => {
                passphrase = PassphrasePrompt::new(key_dir(&config.data_dir));
                if config.passphrase.is_none() {
                    config.passphrase = Some(passphrase.source());
                }
                if cfg!(feature = "danger-fixed-verifier")
                    && std::env::var_os(countersign_approver::verify::ENV_DANGER_FIXED_VERIFIER).is_some()
                {
                    eprintln!(
                        "countersign: {} is set: user verification answers without asking anyone (tests only)",
                        countersign_approver::verify::ENV_DANGER_FIXED_VERIFIER
                    );
                }
                // Requests that require a security key are approvable here.
                if security_key.is_some() && !config.capabilities.contains(&Capability::Webauthn) {
                    config.capabilities.push(Capability::Webauthn);
                }
                Approver::open(config).await.map_err(IpcError::from)
            }
            Err(error) => Err(error),
        };
        Shell {
            approver,
            passphrase,
            security_prompt,
            security_key,
            export_dir,
            run: tokio::sync::Mutex::new(None),
            connections: Mutex::new(HashMap::new()),
            channel: Mutex::new(None),
            waiting: Mutex::new(Vec::new()),
            first_screen: tokio::sync::Notify::new(),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Where history exports are written (set once the app's paths are known).
    pub fn set_export_dir(&mut self, dir: PathBuf) {
        self.export_dir = dir;
    }

    /// The approver's data directory (where the app keeps its settings too).
    pub fn data_dir(&self) -> Option<&Path> {
        self.approver.as_ref().ok().map(|a| a.config().data_dir.as_path())
    }

    pub fn approver(&self) -> Result<&Approver, IpcError> {
        self.approver.as_ref().map_err(Clone::clone)
    }

    /// Starts push/poll and outbox delivery (once; never after [`Shell::stop`]).
    pub async fn start(&self) -> Result<(), IpcError> {
        let mut run = self.run.lock().await;
        if run.is_none() && !self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            *run = Some(self.approver()?.start().await?);
        }
        Ok(())
    }

    /// Starts the transport ([`Shell::start`]) once the window has painted
    /// its first screen ([`Shell::first_screen_shown`]), or after `wait` if
    /// it has not. The transport's first work (connecting, the reconciling
    /// sync of every pending request, the tray's count) then does not
    /// compete with the page for the first screen (started when the first
    /// inbox answer left, it ran beside the page's rendering of that answer
    /// on two cores: docs/performance.md, "Desktop app"). A window not
    /// shown waits for nothing (`wait` zero).
    pub async fn start_after_first_screen(&self, wait: Duration) -> Result<(), IpcError> {
        // A timeout is no error: the page may never ask (it failed to load).
        let _ = tokio::time::timeout(wait, self.first_screen.notified()).await;
        self.start().await
    }

    /// How long [`Shell::start_after_first_screen`] waits at the app's start:
    /// [`FIRST_SCREEN_WAIT`] with the window shown, nothing when it starts
    /// in the tray (no page is waiting to be drawn).
    pub fn first_screen_wait(window_shown: bool) -> Duration {
        if window_shown {
            FIRST_SCREEN_WAIT
        } else {
            Duration::ZERO
        }
    }

    /// The window has painted its first screen: the transport waiting for
    /// it ([`Shell::start_after_first_screen`]) starts. Later calls (a
    /// reloaded page) change nothing.
    pub fn first_screen_shown(&self) {
        // `notify_one` keeps a permit when nobody waits yet.
        self.first_screen.notify_one();
    }

    /// Stops the transport.
    pub async fn stop(&self) {
        // A start still waiting for the first screen must not follow.
        self.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        // Key-store calls waiting for a passphrase (or a security key's
        // PIN) give up first.
        self.passphrase.close();
        self.security_prompt.close();
        if let Some(run) = self.run.lock().await.take() {
            run.shutdown().await;
        }
        if let Ok(approver) = &self.approver {
            approver.close().await;
        }
    }

    pub fn status(&self) -> AppStatus {
        AppStatus {
            name: "Countersign",
            version: env!("CARGO_PKG_VERSION"),
            key_store_warning: self.approver.as_ref().ok().and_then(Approver::key_store_warning),
            startup_error: self.approver.as_ref().err().cloned(),
            passphrase_needed: self.passphrase.waiting(),
            security_keys_unavailable: self
                .security_key
                .is_none()
                .then(|| crate::security_key::NO_SECURITY_KEY.to_owned()),
            security_key_pin: self.security_prompt.waiting_request().map(|e| SecurityKeyPrompt::of(&e)),
        }
    }

    /// The security key's prompts (the window shows them and answers PIN
    /// requests).
    pub fn security_prompt(&self) -> &Arc<WindowPrompt> {
        &self.security_prompt
    }

    fn security_key(&self) -> Result<&SharedAuthenticator, IpcError> {
        self.security_key.as_ref().ok_or_else(|| IpcError::new("security_key", crate::security_key::NO_SECURITY_KEY))
    }

    /// The account's security keys at its server, oldest first.
    pub async fn security_keys(&self, account_id: &str) -> Result<Vec<SecurityKeyView>, IpcError> {
        Ok(SecurityKeyView::list(self.approver()?.security_keys(account_id).await?))
    }

    /// Registers a security key named `name` (its prompts in the window),
    /// then lists the account's keys.
    pub async fn add_security_key(&self, account_id: &str, name: &str) -> Result<Vec<SecurityKeyView>, IpcError> {
        let approver = self.approver()?;
        approver.add_security_key(account_id, name, self.security_key()?).await?;
        self.security_keys(account_id).await
    }

    /// Removes a security key at the server, then lists the account's keys.
    pub async fn remove_security_key(
        &self,
        account_id: &str,
        credential_id: &str,
    ) -> Result<Vec<SecurityKeyView>, IpcError> {
        self.approver()?.remove_security_key(account_id, credential_id).await?;
        self.security_keys(account_id).await
    }

    /// The window's passphrase prompt of the encrypted key file.
    pub fn passphrase_prompt(&self) -> &Arc<PassphrasePrompt> {
        &self.passphrase
    }

    /// Hands the key file's passphrase to the core, which checks it (a
    /// strong one for a new file, the right one for existing files) and
    /// keeps it in memory only.
    pub async fn submit_passphrase(&self, passphrase: Zeroizing<String>) -> Result<PassphrasePurpose, IpcError> {
        self.approver()?;
        Ok(self.passphrase.submit(passphrase).await?)
    }

    /// Replaces the UI's event channel (a reloaded page subscribes anew)
    /// and hands it the navigation events that waited for it. Both happen
    /// under the channel's lock, which `publish` holds while it queues: no
    /// event can fall between the two.
    pub fn subscribe(&self, channel: Channel<UiEvent>) {
        let Ok(mut slot) = self.channel.lock() else { return };
        let waiting = self.waiting.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
        let delivered = waiting.into_iter().try_for_each(|event| channel.send(event));
        *slot = delivered.is_ok().then_some(channel);
    }

    /// Remembers what an event says about connections, then hands it to the
    /// UI (dropping the channel if the page is gone). A navigation event
    /// that no page receives waits for the next subscription.
    pub fn publish(&self, event: UiEvent) {
        if let UiEvent::Approver(ApproverEvent::Connection { account_id, state }) = &event {
            if let Ok(mut map) = self.connections.lock() {
                map.insert(account_id.clone(), state.clone());
            }
        }
        let Ok(mut slot) = self.channel.lock() else { return };
        let undelivered = match slot.as_ref() {
            Some(channel) => match channel.send(event.clone()) {
                Ok(()) => return,
                Err(_) => {
                    *slot = None;
                    event
                }
            },
            None => event,
        };
        if let UiEvent::Shell(shell_event) = &undelivered {
            if shell_event.is_navigation() {
                if let Ok(mut waiting) = self.waiting.lock() {
                    waiting.push(undelivered);
                    let excess = waiting.len().saturating_sub(WAITING_MAX);
                    waiting.drain(..excess);
                }
            }
        }
    }

    pub async fn accounts(&self) -> Result<Vec<AccountView>, IpcError> {
        let accounts = self.approver()?.accounts().await?;
        let connections = self.connections.lock().map(|m| m.clone()).unwrap_or_default();
        Ok(accounts
            .into_iter()
            .map(|account| {
                let connection = connections.get(&account.id).cloned();
                let user_text = countersign_approver::display::user_text(&account.user);
                AccountView { account, connection, user_text }
            })
            .collect())
    }

    /// Enrolls with the link's server; re-enrolling (`replaces`) follows
    /// the core's rule (`countersign_approver::Approver::enroll_replacing`).
    pub async fn enroll(&self, link: &str, replaces: Option<&str>) -> Result<EnrollOutcome, IpcError> {
        let enrollment = self.approver()?.enroll_replacing(link, replaces).await?;
        if let (Some(id), Ok(mut map)) = (&enrollment.replaced, self.connections.lock()) {
            map.remove(id);
        }
        Ok(EnrollOutcome::new(enrollment))
    }

    pub async fn remove_account(&self, account_id: &str) -> Result<(), IpcError> {
        self.approver()?.remove_account(account_id).await?;
        if let Ok(mut map) = self.connections.lock() {
            map.remove(account_id);
        }
        Ok(())
    }

    /// The core checks `typed_binding_message` (`countersign_approver::confirm`);
    /// a request that requires `webauthn` is approved with the security
    /// key (its prompts in the window).
    pub async fn approve(
        &self,
        account_id: &str,
        request_id: &str,
        typed_binding_message: Option<&str>,
    ) -> Result<DecisionOutcome, IpcError> {
        let approver = self.approver()?;
        let key = self.security_key.as_ref();
        Ok(approver.decide_with(account_id, request_id, Decision::Approve, None, typed_binding_message, key).await?)
    }

    pub async fn deny(&self, account_id: &str, request_id: &str, reason: &str) -> Result<DecisionOutcome, IpcError> {
        let reason = deny_reason(reason)?;
        Ok(self.approver()?.decide(account_id, request_id, Decision::Deny, Some(reason), None).await?)
    }

    /// Writes the history as JSON into the export directory.
    pub async fn export_history(&self, now: u64) -> Result<ExportReport, IpcError> {
        Ok(self.approver()?.export_history(&self.export_dir, now, env!("CARGO_PKG_VERSION")).await?)
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
