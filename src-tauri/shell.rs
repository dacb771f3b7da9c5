//! The state the commands share: the approver (or why it could not be
//! opened), the running transport, the latest connection state per account,
//! and the UI's event channel. Everything here is glue between Tauri and
//! `countersign-approver`; decisions, rendering and storage live in the core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use countersign_approver::keys::file::key_dir;
use countersign_approver::store::{Account, HistoryEntry};
use countersign_approver::{
    Approver, ApproverConfig, ApproverEvent, ConnectionState, DecisionOutcome, PassphrasePrompt, PassphrasePurpose,
    RunHandle,
};
use countersign_protocol::device::{ApproverRequest, Decision, DenyReason};
use serde::Serialize;
use tauri::ipc::Channel;
use zeroize::Zeroizing;

use crate::events::UiEvent;
use crate::IpcError;

/// An account with how it is connected right now (`null`: not known yet).
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    #[serde(flatten)]
    pub account: Account,
    pub connection: Option<ConnectionState>,
    /// Hidden, bidi or control characters in the user's name or id.
    pub user_text: Vec<countersign_approver::display::TextFinding>,
}

/// A decision with the request it was about (when still stored).
#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    #[serde(flatten)]
    pub entry: HistoryEntry,
    pub request: Option<ApproverRequest>,
    /// Findings in that request's own strings (client name, binding code…).
    pub request_text: Vec<countersign_approver::display::TextFinding>,
}

/// A new account, and whether it replaced the one being re-enrolled.
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
    fn new(account: Account, replaced: bool, kept_because: Option<String>) -> Self {
        let user_text = countersign_approver::display::user_text(&account.user);
        let (kept_because, kept_because_characters) = match kept_because {
            Some(text) => {
                let (text, characters) = countersign_details::text::Revealed::line(&text).into_parts();
                (Some(text), characters)
            }
            None => (None, Vec::new()),
        };
        Self { account, user_text, replaced, kept_because, kept_because_characters }
    }
}

/// Where an export went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    pub path: String,
    pub decisions: usize,
}

/// Name, version, and what the UI must show about the app's own state.
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
    export_dir: PathBuf,
    run: tokio::sync::Mutex<Option<RunHandle>>,
    connections: Mutex<HashMap<String, ConnectionState>>,
    channel: Mutex<Option<Channel<UiEvent>>>,
    /// Navigation events published while no UI listened (oldest first).
    waiting: Mutex<Vec<UiEvent>>,
}

/// At most this many navigation events wait for the UI (the newest win).
const WAITING_MAX: usize = 8;

impl Shell {
    /// Opens the approver; a failure is kept and reported by every command.
    /// Without a passphrase source in `config`, the key file's passphrase
    /// is asked in the window ([`Shell::passphrase_prompt`]).
    pub async fn open(config: Result<ApproverConfig, IpcError>, export_dir: PathBuf) -> Shell {
        let mut passphrase = PassphrasePrompt::new(PathBuf::new());
        let approver = match config {
            Ok(mut config) => {
                passphrase = PassphrasePrompt::new(key_dir(&config.data_dir));
                if config.passphrase.is_none() {
                    config.passphrase = Some(passphrase.source());
                }
                Approver::open(config).await.map_err(IpcError::from)
            }
            Err(error) => Err(error),
        };
        Shell {
            approver,
            passphrase,
            export_dir,
            run: tokio::sync::Mutex::new(None),
            connections: Mutex::new(HashMap::new()),
            channel: Mutex::new(None),
            waiting: Mutex::new(Vec::new()),
        }
    }

    /// The approver's data directory (where the app keeps its settings too).
    pub fn data_dir(&self) -> Option<&Path> {
        self.approver.as_ref().ok().map(|a| a.config().data_dir.as_path())
    }

    pub fn approver(&self) -> Result<&Approver, IpcError> {
        self.approver.as_ref().map_err(Clone::clone)
    }

    /// Starts push/poll and outbox delivery (once).
    pub async fn start(&self) -> Result<(), IpcError> {
        let mut run = self.run.lock().await;
        if run.is_none() {
            *run = Some(self.approver()?.start().await?);
        }
        Ok(())
    }

    /// Stops the transport.
    pub async fn stop(&self) {
        // Key-store calls waiting for a passphrase give up first.
        self.passphrase.close();
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
        }
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

    /// Enrolls with the link's server. Re-enrolling (`replaces`) removes the
    /// old account (with its history on this computer) only once the new one
    /// exists, only if both are the same user at the same server, and only
    /// if none of its decisions still waits to be delivered: a failed or
    /// mistaken re-enrollment never loses the account the user had, and no
    /// signed decision is dropped.
    pub async fn enroll(&self, link: &str, replaces: Option<&str>) -> Result<EnrollOutcome, IpcError> {
        let approver = self.approver()?;
        let old = match replaces {
            Some(id) => Some(
                approver
                    .accounts()
                    .await?
                    .into_iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| IpcError::from(countersign_approver::Error::UnknownAccount(id.to_owned())))?,
            ),
            None => None,
        };
        let account = approver.enroll(link.trim()).await?;
        let Some(old) = old else {
            return Ok(EnrollOutcome::new(account, false, None));
        };
        if old.issuer != account.issuer || old.user.sub != account.user.sub {
            let kept_because = Some(format!(
                "the new link is for {} at {}, not {} at {}: both accounts are kept",
                account.user.name,
                account.issuer.as_str(),
                old.user.name,
                old.issuer.as_str()
            ));
            return Ok(EnrollOutcome::new(account, false, kept_because));
        }
        let undelivered = approver.store().outbox().await?.iter().filter(|e| e.account_id == old.id).count();
        if undelivered > 0 {
            let kept_because = Some(format!(
                "{undelivered} decision(s) of the old account still wait to be delivered: both accounts are kept, \
                 remove the old one once they are delivered"
            ));
            return Ok(EnrollOutcome::new(account, false, kept_because));
        }
        match self.remove_account(&old.id).await {
            Ok(()) => Ok(EnrollOutcome::new(account, true, None)),
            Err(error) => Ok(EnrollOutcome::new(
                account,
                false,
                Some(format!("the old account could not be removed: {}", error.message)),
            )),
        }
    }

    pub async fn remove_account(&self, account_id: &str) -> Result<(), IpcError> {
        self.approver()?.remove_account(account_id).await?;
        if let Ok(mut map) = self.connections.lock() {
            map.remove(account_id);
        }
        Ok(())
    }

    /// The core checks `typed_binding_message` (`countersign_approver::confirm`).
    pub async fn approve(
        &self,
        account_id: &str,
        request_id: &str,
        typed_binding_message: Option<&str>,
    ) -> Result<DecisionOutcome, IpcError> {
        let approver = self.approver()?;
        Ok(approver.decide(account_id, request_id, Decision::Approve, None, typed_binding_message).await?)
    }

    pub async fn deny(&self, account_id: &str, request_id: &str, reason: &str) -> Result<DecisionOutcome, IpcError> {
        let reason = deny_reason(reason)?;
        Ok(self.approver()?.decide(account_id, request_id, Decision::Deny, Some(reason), None).await?)
    }

    /// Decisions, newest first, each with its request when still stored.
    pub async fn history(&self) -> Result<Vec<HistoryView>, IpcError> {
        let approver = self.approver()?;
        let entries = approver.history().await?;
        let mut requests: HashMap<(String, String), ApproverRequest> = approver
            .inbox()
            .await?
            .into_iter()
            .map(|item| ((item.account_id, item.request.id.as_str().to_owned()), item.request))
            .collect();
        Ok(entries
            .into_iter()
            .map(|entry| {
                let key = (entry.account_id.clone(), entry.request_id.clone());
                let request = requests.get(&key).cloned();
                if request.is_some() {
                    // Keep the map small when a request was decided more than once.
                    requests.remove(&key);
                }
                let request_text =
                    request.as_ref().map(countersign_approver::display::request_text).unwrap_or_default();
                HistoryView { entry, request, request_text }
            })
            .collect())
    }

    /// Writes the history as JSON into the export directory.
    pub async fn export_history(&self, now: u64) -> Result<ExportReport, IpcError> {
        let history = self.history().await?;
        let document = serde_json::json!({
            "format": "countersign-history-v1",
            "exported_at": now,
            "app_version": env!("CARGO_PKG_VERSION"),
            "decisions": history,
        });
        let text = serde_json::to_string_pretty(&document)
            .map_err(|e| IpcError::new("internal", format!("cannot serialize the history: {e}")))?;
        let path = self.export_dir.join(format!("countersign-history-{now}.json"));
        write_private(&self.export_dir, &path, text.as_bytes())?;
        Ok(ExportReport { path: path.display().to_string(), decisions: history.len() })
    }
}

/// Creates `path` (never replacing a file) readable by the user only.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), IpcError> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| IpcError::new("export_failed", format!("cannot write {}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(fail)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
